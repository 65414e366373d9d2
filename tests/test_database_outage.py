"""A database that cannot be reached answers 503 with Retry-After and a stable code, not 500.
The test points the app's connection at a port where no PostgreSQL listens (what a stopped
server looks like to a client), then back."""

from __future__ import annotations

import socket

import pytest
from django.db import connection
from rest_framework.test import APIClient

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # free once the socket closes: nothing listens there


@pytest.fixture
def database_down():
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT=str(_closed_port()))
    yield
    connection.close()
    connection.settings_dict.clear()
    connection.settings_dict.update(saved)
    connection.ensure_connection()


def test_the_api_answers_503_with_retry_after(database_down):
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION="Token abc")
    response = client.post("/api/v1/events/", {"events": []}, format="json")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["code"] == "database_unavailable"


def test_pages_answer_503_too(database_down, client):
    client.raise_request_exception = False
    response = client.get("/applications/some-token/")  # a public page that reads the database
    assert response.status_code == 503 and response["Retry-After"] == "5"
