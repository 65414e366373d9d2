"""The outbox: integrations poll and acknowledge, or receive signed webhooks that are retried
with backoff. Webhooks go to a real HTTP server on this machine."""

from __future__ import annotations

import http.server
import json
import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import ApplicationError
from outbox import services
from outbox.models import Integration, MessageKind, MessageStatus, OutboundMessage
from tests.personas import api_client

pytestmark = pytest.mark.django_db


class Receiver:
    """A local webhook endpoint: records each request and answers with the next planned status."""

    def __init__(self, statuses=(200,), redirect_to: str = ""):
        self.requests: list[dict] = []
        self.statuses = list(statuses)
        self.redirect_to = redirect_to
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": dict(self.headers), "body": body, "path": self.path})
                status = receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                self.send_response(status)
                if status in (301, 302, 307, 308):
                    self.send_header("Location", receiver.redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


def queue(group, body="欢迎新朋友", **kwargs) -> OutboundMessage:
    return services.message_enqueue(group=group, kind=MessageKind.WELCOME, body=body, **kwargs)


def test_a_webhook_is_signed_and_the_receiver_can_check_it(community, photo, receiver):
    integration = services.integration_create(community=community, name="机器人", webhook_url=receiver.url)
    message = queue(photo, recipient_name="林嘉琪", recipient_platform="wechat", recipient_external_id="wx-lin")

    assert services.webhook_deliver(message_id=message.pk) == "delivered"

    [request] = receiver.requests
    headers, body = request["headers"], request["body"]
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert headers["X-Canopy-Delivery"] == str(message.pk)
    assert services.verify(integration.secret, headers["X-Canopy-Timestamp"], body, headers["X-Canopy-Signature"])
    # A forged body, a wrong secret or a stale timestamp fail the check.
    assert not services.verify(
        integration.secret, headers["X-Canopy-Timestamp"], body + b" ", headers["X-Canopy-Signature"]
    )
    assert not services.verify("wrong", headers["X-Canopy-Timestamp"], body, headers["X-Canopy-Signature"])
    stale = str(int(headers["X-Canopy-Timestamp"]) - 3600)
    assert not services.verify(integration.secret, stale, body, services.sign(integration.secret, stale, body))
    payload = json.loads(body)
    assert payload["body"] == "欢迎新朋友" and payload["group"]["id"] == photo.pk
    assert payload["recipient"] == {"platform": "wechat", "external_id": "wx-lin", "name": "林嘉琪"}
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED and message.delivered_via == integration
    assert message.attempts == 1 and message.delivered_at is not None
    # Delivering again does nothing: the message is no longer pending.
    assert services.webhook_deliver(message_id=message.pk) == "skipped"
    assert len(receiver.requests) == 1


def test_failures_are_retried_with_growing_waits_then_given_up(community, photo):
    receiver = Receiver(statuses=[500])
    try:
        services.integration_create(community=community, name="机器人", webhook_url=receiver.url)
        message = queue(photo)
        waits = []
        for attempt in range(1, services.MAX_ATTEMPTS):
            before = timezone.now()
            assert services.webhook_deliver(message_id=message.pk) == "retry"
            message.refresh_from_db()
            assert message.status == MessageStatus.PENDING and message.attempts == attempt
            assert message.last_error == "HTTP 500"
            waits.append((message.available_at - before).total_seconds())
            # Not due yet: a sweep leaves it alone.
            assert services.webhook_deliver(message_id=message.pk) == "skipped"
            OutboundMessage.objects.filter(pk=message.pk).update(available_at=timezone.now())  # time passes
        # The schedule, each wait jittered by up to a fifth, spanning more than three days.
        for wait, planned in zip(waits, services.RETRY_SCHEDULE, strict=True):
            seconds = planned.total_seconds()
            assert seconds * 0.8 - 2 <= wait <= seconds * 1.2 + 2
        assert sum(waits) > 3 * 24 * 3600
        assert services.webhook_deliver(message_id=message.pk) == "failed"
        message.refresh_from_db()
        assert message.status == MessageStatus.FAILED and message.attempts == services.MAX_ATTEMPTS
        assert len(receiver.requests) == services.MAX_ATTEMPTS
    finally:
        receiver.close()


def test_a_recovering_receiver_gets_the_message(community, photo):
    receiver = Receiver(statuses=[503, 200])
    try:
        services.integration_create(community=community, name="机器人", webhook_url=receiver.url)
        message = queue(photo)
        assert services.webhook_deliver(message_id=message.pk) == "retry"
        OutboundMessage.objects.filter(pk=message.pk).update(available_at=timezone.now() - timedelta(seconds=1))
        assert services.due_for_webhooks() == [message.pk]
        assert services.webhook_deliver(message_id=message.pk) == "delivered"
        assert [request["headers"]["X-Canopy-Delivery"] for request in receiver.requests] == [str(message.pk)] * 2
    finally:
        receiver.close()


def test_a_redirect_is_not_followed(community, photo, receiver):
    redirecting = Receiver(statuses=[302], redirect_to=receiver.url)
    try:
        services.integration_create(community=community, name="机器人", webhook_url=redirecting.url)
        message = queue(photo)
        assert services.webhook_deliver(message_id=message.pk) == "retry"
        assert receiver.requests == [] and len(redirecting.requests) == 1
        message.refresh_from_db()
        assert message.last_error == "HTTP 302"
    finally:
        redirecting.close()


def test_an_unreachable_receiver_is_a_retry(community, photo):
    closed = Receiver()
    url = closed.url
    closed.close()
    services.integration_create(community=community, name="机器人", webhook_url=url)
    message = queue(photo)
    assert services.webhook_deliver(message_id=message.pk) == "retry"
    message.refresh_from_db()
    assert "Connection" in message.last_error or "URLError" in message.last_error


def test_without_a_webhook_messages_wait_for_polling(community, photo):
    services.integration_create(community=community, name="轮询机器人")
    message = queue(photo)
    assert services.due_for_webhooks() == []
    assert services.webhook_deliver(message_id=message.pk) == "skipped"
    message.refresh_from_db()
    assert message.status == MessageStatus.PENDING and message.attempts == 0


def test_a_platform_integration_is_preferred_to_the_catch_all(community, photo):
    wechat, catch_all = Receiver(), Receiver()
    try:
        services.integration_create(community=community, name="全部", webhook_url=catch_all.url)
        services.integration_create(community=community, name="微信", platform="wechat", webhook_url=wechat.url)
        assert services.webhook_deliver(message_id=queue(photo, recipient_platform="wechat").pk) == "delivered"
        assert services.webhook_deliver(message_id=queue(photo, recipient_platform="qq").pk) == "delivered"
        assert len(wechat.requests) == 1 and len(catch_all.requests) == 1
    finally:
        wechat.close()
        catch_all.close()


def test_private_addresses_are_refused_when_the_setting_says_so(community, settings):
    settings.CANOPY_WEBHOOK_ALLOW_PRIVATE = False
    for url in ("http://127.0.0.1:9/hook", "http://localhost/hook", "http://10.1.2.3/hook", "http://[::1]/hook"):
        with pytest.raises(ApplicationError) as error:
            services.integration_create(community=community, name="机器人", webhook_url=url)
        assert "webhook_url" in error.value.extra["fields"]
    with pytest.raises(ApplicationError):
        services.integration_create(community=community, name="机器人", webhook_url="ftp://example.org/hook")
    assert not Integration.objects.exists()


def test_an_address_that_turns_private_is_not_called(community, photo, receiver, settings):
    services.integration_create(community=community, name="机器人", webhook_url=receiver.url)
    settings.CANOPY_WEBHOOK_ALLOW_PRIVATE = False  # e.g. its DNS now points inside
    message = queue(photo)
    assert services.webhook_deliver(message_id=message.pk) == "skipped"
    assert receiver.requests == []


# --- Polling --------------------------------------------------------------------------------


def test_polling_lists_pending_messages_of_the_groups_served_and_ack_is_idempotent(
    community, photo, coders, subtree_admin, outsider
):
    mine = queue(photo, body="给摄影群")
    queue(coders, body="给程序员群")
    client = api_client(subtree_admin)
    listed = client.get("/api/v1/outbox/", {"group": photo.pk}).json()["results"]
    assert [item["id"] for item in listed] == [mine.pk]
    assert [item["body"] for item in client.get("/api/v1/outbox/").json()["results"]] == ["给摄影群"]

    first = client.post(f"/api/v1/outbox/{mine.pk}/ack/", {}, format="json")
    assert first.status_code == 200 and first.json()["status"] == "delivered"
    delivered_at = OutboundMessage.objects.get(pk=mine.pk).delivered_at
    second = client.post(f"/api/v1/outbox/{mine.pk}/ack/", {}, format="json")
    assert second.status_code == 200 and second.json()["status"] == "delivered"
    assert OutboundMessage.objects.get(pk=mine.pk).delivered_at == delivered_at
    # A failure reported after delivery changes nothing either.
    client.post(f"/api/v1/outbox/{mine.pk}/ack/", {"delivered": False, "error": "blocked"}, format="json")
    assert OutboundMessage.objects.get(pk=mine.pk).status == MessageStatus.DELIVERED

    assert client.get("/api/v1/outbox/", {"group": photo.pk}).json()["results"] == []
    assert len(client.get("/api/v1/outbox/", {"status": "delivered"}).json()["results"]) == 1
    assert api_client(outsider).post(f"/api/v1/outbox/{mine.pk}/ack/", {}).status_code == 404


def test_an_integration_reports_a_failed_delivery(community, photo, owner):
    message = queue(photo)
    response = api_client(owner).post(
        f"/api/v1/outbox/{message.pk}/ack/", {"delivered": False, "error": "user blocked the bot"}, format="json"
    )
    assert response.status_code == 200 and response.json()["status"] == "failed"
    assert OutboundMessage.objects.get(pk=message.pk).last_error == "user blocked the bot"


# --- A real worker --------------------------------------------------------------------------


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_pushes_a_queued_message_to_the_webhook(community, photo, receiver):
    from celery.contrib.testing.worker import start_worker

    from community.celery import app as celery_app

    assert not celery_app.conf.task_always_eager
    integration = services.integration_create(community=community, name="机器人", webhook_url=receiver.url)
    celery_app.loader.import_module("celery.contrib.testing.tasks")
    celery_app.control.purge()  # tasks queued by earlier tests refer to rows long gone
    with start_worker(celery_app, pool="solo", perform_ping_check=True, shutdown_timeout=10):
        message = queue(photo, body="worker 送达")  # committed at once: the on-commit hook queues the task
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not receiver.requests:
            time.sleep(0.1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            message.refresh_from_db()
            if message.status == MessageStatus.DELIVERED:
                break
            time.sleep(0.1)
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert json.loads(request["body"])["body"] == "worker 送达"
    assert services.verify(
        integration.secret,
        request["headers"]["X-Canopy-Timestamp"],
        request["body"],
        request["headers"]["X-Canopy-Signature"],
    )
    assert message.status == MessageStatus.DELIVERED and message.delivered_via == integration


def test_a_sweep_pushes_due_messages_in_one_claimed_batch(community, photo, design):
    receiver = Receiver(statuses=[200])
    try:
        integration = services.integration_create(community=community, name="机器人", webhook_url=receiver.url)
        messages = [queue(photo, body=f"消息{n}", dedupe_key=f"batch-{n}") for n in range(5)]
        later = queue(design, body="稍后")
        OutboundMessage.objects.filter(pk=later.pk).update(available_at=timezone.now() + timedelta(hours=1))

        outcome = services.webhook_deliver_due(limit=10, threads=3)

        assert outcome == {"claimed": 5, "delivered": 5}
        ids = sorted(int(request["headers"]["X-Canopy-Delivery"]) for request in receiver.requests)
        assert ids == sorted(message.pk for message in messages)
        for request in receiver.requests:
            headers = request["headers"]
            assert services.verify(
                integration.secret, headers["X-Canopy-Timestamp"], request["body"], headers["X-Canopy-Signature"]
            )
        assert OutboundMessage.objects.filter(status=MessageStatus.DELIVERED, delivered_via=integration).count() == 5
        assert services.webhook_deliver_due(limit=10) == {"claimed": 0}
    finally:
        receiver.close()


def test_a_sweep_retries_failures_with_backoff_and_keeps_the_delivery_id(community, photo):
    receiver = Receiver(statuses=[503, 503, 200])
    try:
        services.integration_create(community=community, name="机器人", webhook_url=receiver.url)
        message = queue(photo)
        assert services.webhook_deliver_due(limit=10) == {"claimed": 1, "retry": 1}
        message.refresh_from_db()
        assert message.status == MessageStatus.PENDING and message.last_error == "HTTP 503"
        first_wait = (message.available_at - timezone.now()).total_seconds()
        assert 5 * 0.8 - 1 <= first_wait <= 5 * 1.2  # the first wait of the schedule, jittered
        assert services.webhook_deliver_due(limit=10) == {"claimed": 0}, "not due yet"
        OutboundMessage.objects.filter(pk=message.pk).update(available_at=timezone.now())
        services.webhook_deliver_due(limit=10)
        message.refresh_from_db()
        assert (message.available_at - timezone.now()).total_seconds() > 4 * 60  # then five minutes
        OutboundMessage.objects.filter(pk=message.pk).update(available_at=timezone.now())
        assert services.webhook_deliver_due(limit=10) == {"claimed": 1, "delivered": 1}
        assert {request["headers"]["X-Canopy-Delivery"] for request in receiver.requests} == {str(message.pk)}
        assert len(receiver.requests) == 3
    finally:
        receiver.close()


def test_a_message_whose_lease_ran_out_is_sent_again_with_the_same_id(community, photo, receiver, settings):
    services.integration_create(community=community, name="机器人", webhook_url=receiver.url)
    message = queue(photo)
    # A worker claimed it and died: the lease is on, nothing was settled.
    OutboundMessage.objects.filter(pk=message.pk).update(
        attempts=1, available_at=timezone.now() + timedelta(seconds=60)
    )
    assert services.webhook_deliver_due(limit=10) == {"claimed": 0}
    OutboundMessage.objects.filter(pk=message.pk).update(available_at=timezone.now())  # the lease ran out
    assert services.webhook_deliver_due(limit=10) == {"claimed": 1, "delivered": 1}
    message.refresh_from_db()
    assert message.attempts == 2 and receiver.requests[0]["headers"]["X-Canopy-Delivery"] == str(message.pk)
