"""Idempotency-Key under real concurrent connections on PostgreSQL."""

from __future__ import annotations

import json
import threading

import pytest
from django.db import connection
from django.http import JsonResponse
from django.test import RequestFactory

from core.idempotency import IdempotencyMiddleware
from tests.concurrency.test_tree_concurrency import run_at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_retries_run_the_request_once():
    """Real connections on PostgreSQL: while the first request runs, a retry with the same key is
    a 409; once it is done, every retry gets its answer; the request ran once."""
    started, release = threading.Event(), threading.Event()
    runs: list[int] = []

    def slow_view(request):
        runs.append(1)
        started.set()
        release.wait(timeout=30)
        return JsonResponse({"done": True}, status=201)

    middleware = IdempotencyMiddleware(slow_view)
    factory = RequestFactory()

    def request():
        return factory.post(
            "/api/v1/members/",
            data=json.dumps({"x": 1}),
            content_type="application/json",
            HTTP_AUTHORIZATION="Token abc",
            HTTP_IDEMPOTENCY_KEY="race",
        )

    answers: dict[int, int] = {}
    answered = threading.Barrier(3)

    def first(index: int) -> None:
        if index == 0:
            answers[0] = middleware(request()).status_code
            return
        started.wait(timeout=30)
        answers[index] = middleware(request()).status_code
        if answered.wait(timeout=30) == 0:  # the three retries have their answers: let the first finish
            release.set()

    errors = run_at_once(first, threads=4)
    assert errors == []
    assert answers[0] == 201 and sorted(answers[i] for i in (1, 2, 3)) == [409, 409, 409]
    replay = middleware(request())
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert len(runs) == 1
    connection.close()
