"""Outages answer as outages: with Redis stopped, the API still answers (its throttles and
rate limits fail open) and writes still land (work that would have been queued is left to the
periodic sweeps). A private redis-server is started and stopped here; the suite's own Redis is
never touched."""

from __future__ import annotations

import socket
import subprocess
import time

import pytest
import redis
from django.db import transaction
from django.test import override_settings

from community.celery import app as celery_app
from core import ratelimit
from outbox.models import MessageKind, MessageStatus, OutboundMessage
from outbox.services import integration_create, message_enqueue
from tests.factories import CommunityFactory, UserFactory
from tests.personas import api_client

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivateRedis:
    def __init__(self):
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(self.url, socket_connect_timeout=1).ping()
                return
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "the private redis-server did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def private_redis():
    server = PrivateRedis()
    yield server
    if server.process.poll() is None:
        server.stop()


@pytest.fixture
def cache_on(private_redis):
    caches = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": private_redis.url}}
    with override_settings(CACHES=caches):
        yield private_redis


@pytest.fixture
def broker_on(private_redis):
    """Celery publishes to the private Redis for the test (and back to the suite's after)."""
    before = celery_app.conf.broker_url

    def switch(url: str) -> None:
        celery_app.conf.broker_url = url
        celery_app.conf.broker_write_url = None
        celery_app.amqp._producer_pool = None
        celery_app._pool = None

    switch(private_redis.url)
    yield private_redis
    switch(before)


def test_with_the_cache_down_the_api_answers_and_limits_fail_open(cache_on):
    community = CommunityFactory()
    user = UserFactory(username="ops", operator_of=[community])
    client = api_client(user)
    assert client.get("/api/v1/groups/").status_code == 200  # throttled through the cache
    assert ratelimit.allow("apply", "1.2.3.4", limit=1, window_seconds=60)
    assert not ratelimit.allow("apply", "1.2.3.4", limit=1, window_seconds=60)
    cache_on.stop()
    response = client.get("/api/v1/groups/")
    assert response.status_code == 200, response.content
    assert ratelimit.allow("apply", "1.2.3.4", limit=1, window_seconds=60)  # open, not a 500


def test_with_the_broker_down_a_write_still_lands(broker_on):
    community = CommunityFactory()
    integration_create(community=community, name="hook", webhook_url="http://127.0.0.1:9/hook")
    with transaction.atomic():
        first = message_enqueue(group=community.hub, kind=MessageKind.ANNOUNCEMENT, body="broker up")
    queued = redis.Redis.from_url(broker_on.url).llen(celery_app.conf.task_default_queue)
    assert queued == 1  # published to the private broker, for a worker
    broker_on.stop()
    with transaction.atomic():
        second = message_enqueue(group=community.hub, kind=MessageKind.ANNOUNCEMENT, body="broker down")
    # Stored and pending: the beat sweep (deliver_due) pushes it once the broker is back.
    stored = OutboundMessage.objects.filter(pk__in=[first.pk, second.pk], status=MessageStatus.PENDING)
    assert stored.count() == 2
