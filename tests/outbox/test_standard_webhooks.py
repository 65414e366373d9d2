"""Standard Webhooks: deliveries verify with the ``standardwebhooks`` package in one call; secrets
are shown once and rotated with two signatures for a day; a 410 disables the endpoint; a day of
failures raises an alert; owners resend failed messages from the page and the API."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from outbox import services
from outbox.models import Integration, MessageKind, MessageStatus, OutboundMessage
from tests.outbox.test_webhooks import Receiver
from tests.personas import api_client, page_client

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shared")]


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


def queue(group, body="欢迎新朋友") -> OutboundMessage:
    return services.message_enqueue(group=group, kind=MessageKind.WELCOME, body=body)


def header(request: dict, name: str) -> str:
    return {key.lower(): value for key, value in request["headers"].items()}[name]


def verified(secret: str, request: dict) -> dict:
    """What a receiver does: one call to the library, with the raw body and the headers."""
    return Webhook(secret).verify(request["body"], request["headers"])


def test_a_delivery_verifies_with_the_standard_library(community, photo, receiver):
    integration = services.integration_create(community=community, name="机器人", webhook_url=receiver.url)
    assert integration.secret.startswith("whsec_")
    message = queue(photo)
    assert services.webhook_deliver(message_id=message.pk) == "delivered"
    [request] = receiver.requests
    data = verified(integration.secret, request)
    assert data["type"] == "outbox.welcome" and data["id"] == message.pk and data["body"] == "欢迎新朋友"
    assert header(request, "webhook-id") == f"msg_{message.pk}"
    # Tampering, another secret or an old timestamp fail.
    with pytest.raises(WebhookVerificationError):
        verified(integration.secret, {**request, "body": request["body"].replace("欢迎".encode(), b"xx")})
    with pytest.raises(WebhookVerificationError):
        verified("whsec_" + base64.b64encode(b"another secret, 32 bytes long...").decode(), request)
    stale = {key.lower(): value for key, value in request["headers"].items()}
    stale["webhook-timestamp"] = str(int(timezone.now().timestamp()) - 3600)
    with pytest.raises(WebhookVerificationError):
        verified(integration.secret, {**request, "headers": stale})
    # The deprecated header still verifies, for receivers not yet switched over.
    headers = request["headers"]
    assert services.verify(
        integration.secret, headers["X-Canopy-Timestamp"], request["body"], headers["X-Canopy-Signature"]
    )


def test_a_secret_made_before_standard_webhooks_still_verifies(community, photo, receiver):
    integration = services.integration_create(community=community, name="机器人", webhook_url=receiver.url)
    hex_secret = "ab" * 32  # what Canopy made before
    Integration.objects.filter(pk=integration.pk).update(secret=hex_secret)
    services.webhook_deliver(message_id=queue(photo).pk)
    assert verified(hex_secret, receiver.requests[0])["body"] == "欢迎新朋友"


def test_rotating_the_secret_signs_with_both_for_a_day(community, photo, receiver):
    integration = services.integration_create(community=community, name="机器人", webhook_url=receiver.url)
    old = integration.secret
    rotated = services.integration_rotate_secret(integration=integration)
    assert rotated.secret != old and rotated.secret.startswith("whsec_")
    assert abs(rotated.previous_secret_until - (timezone.now() + timedelta(hours=24))) < timedelta(minutes=1)
    services.webhook_deliver(message_id=queue(photo).pk)
    request = receiver.requests[0]
    assert len(header(request, "webhook-signature").split(" ")) == 2
    verified(old, request)
    verified(rotated.secret, request)
    # After the day, the old secret no longer signs.
    Integration.objects.filter(pk=integration.pk).update(previous_secret_until=timezone.now() - timedelta(seconds=1))
    services.webhook_deliver(message_id=queue(photo, body="第二条").pk)
    later = receiver.requests[1]
    assert len(header(later, "webhook-signature").split(" ")) == 1
    verified(rotated.secret, later)
    with pytest.raises(WebhookVerificationError):
        verified(old, later)


def test_a_410_disables_the_webhook_and_the_message_waits_for_polling(community, photo, owner):
    gone = Receiver(statuses=[410])
    try:
        integration = services.integration_create(community=community, name="机器人", webhook_url=gone.url)
        message = queue(photo)
        assert services.webhook_deliver(message_id=message.pk) == "disabled"
        integration.refresh_from_db()
        message.refresh_from_db()
        assert integration.webhook_disabled_at is not None and not integration.pushes
        assert message.status == MessageStatus.PENDING and message.attempts == 0
        # Nothing more is pushed there, and a polling bot sees the message.
        second = queue(photo, body="第二条")
        assert services.webhook_deliver(message_id=second.pk) == "skipped"
        assert len(gone.requests) == 1
        polled = api_client(owner).get("/api/v1/outbox/").json()["results"]
        assert {row["id"] for row in polled} >= {message.pk, second.pk}
        assert integration in services.failing_integrations(community)
    finally:
        gone.close()


def test_enabling_the_webhook_again_pushes_what_waited(
    community, photo, receiver, eager_tasks, django_capture_on_commit_callbacks
):
    integration = services.integration_create(community=community, name="机器人", webhook_url=receiver.url)
    Integration.objects.filter(pk=integration.pk).update(webhook_disabled_at=timezone.now())
    message = queue(photo)
    assert receiver.requests == []
    with django_capture_on_commit_callbacks(execute=True):
        services.integration_enable_webhook(integration=integration)
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED and len(receiver.requests) == 1


def test_a_day_of_failures_raises_an_alert_and_a_success_clears_it(community, photo):
    flaky = Receiver(statuses=[500, 200])
    try:
        integration = services.integration_create(community=community, name="机器人", webhook_url=flaky.url)
        message = queue(photo)
        assert services.webhook_deliver(message_id=message.pk) == "retry"
        integration.refresh_from_db()
        assert integration.failing_since is not None and not integration.failing_for_a_day()
        assert integration not in services.failing_integrations(community)
        Integration.objects.filter(pk=integration.pk).update(failing_since=timezone.now() - timedelta(hours=25))
        assert integration in services.failing_integrations(community)
        OutboundMessage.objects.filter(pk=message.pk).update(available_at=timezone.now())
        assert services.webhook_deliver(message_id=message.pk) == "delivered"
        integration.refresh_from_db()
        assert integration.failing_since is None and integration not in services.failing_integrations(community)
    finally:
        flaky.close()


def _failed(group, body="失败的消息") -> OutboundMessage:
    message = queue(group, body=body)
    OutboundMessage.objects.filter(pk=message.pk).update(
        status=MessageStatus.FAILED, attempts=11, last_error="HTTP 500"
    )
    return message


class TestResending:
    def test_one_message_is_resent_with_the_same_id(
        self, community, photo, receiver, eager_tasks, django_capture_on_commit_callbacks
    ):
        services.integration_create(community=community, name="机器人", webhook_url=receiver.url)
        message = _failed(photo)
        with django_capture_on_commit_callbacks(execute=True):
            services.message_resend(message=message)
        message.refresh_from_db()
        assert message.status == MessageStatus.DELIVERED and message.attempts == 1
        assert header(receiver.requests[0], "webhook-id") == f"msg_{message.pk}"

    def test_a_pending_or_delivered_message_is_not_resent(self, community, photo):
        message = queue(photo)
        with pytest.raises(services.ApplicationError):
            services.message_resend(message=message)

    def test_every_failed_message_of_an_integration_from_the_api(self, community, photo, design, operator):
        integration = services.integration_create(community=community, name="机器人", platform=photo.platform)
        failed = [_failed(photo, body=f"消息{n}") for n in range(3)]
        delivered = queue(design)
        OutboundMessage.objects.filter(pk=delivered.pk).update(status=MessageStatus.DELIVERED)
        client = api_client(operator)
        response = client.post(f"/api/v1/integrations/{integration.pk}/resend/", {"all_failed": True})
        assert response.status_code == 200 and response.json() == {"resent": 3}
        statuses = set(OutboundMessage.objects.filter(pk__in=[m.pk for m in failed]).values_list("status", flat=True))
        assert statuses == {MessageStatus.PENDING}
        assert OutboundMessage.objects.get(pk=delivered.pk).status == MessageStatus.DELIVERED

    def test_one_message_from_the_api_and_the_refusals(self, community, photo, operator, outsider, subtree_admin):
        integration = services.integration_create(community=community, name="机器人")
        message = _failed(photo)
        url = f"/api/v1/integrations/{integration.pk}/resend/"
        assert api_client(outsider).post(url, {"message": message.pk}).status_code == 404
        assert api_client(subtree_admin).post(url, {"message": message.pk}).status_code == 404
        both = api_client(operator).post(url, {"message": message.pk, "all_failed": True})
        assert both.status_code == 400 and both.json()["code"] == "invalid"
        assert api_client(operator).post(url, {"message": message.pk}).json() == {"resent": 1}
        again = api_client(operator).post(url, {"message": message.pk})
        assert again.status_code == 400 and "message" in again.json()["extra"]["fields"]


class TestSecretsShownOnce:
    def test_the_api_shows_the_secret_when_made_and_rotated_only(self, community, operator, receiver):
        client = api_client(operator)
        created = client.post(
            "/api/v1/integrations/", {"community": community.pk, "name": "Bot", "webhook_url": receiver.url}
        )
        assert created.status_code == 201 and created.json()["secret"].startswith("whsec_")
        pk = created.json()["id"]
        assert "secret" not in client.get(f"/api/v1/integrations/{pk}/").json()
        assert all("secret" not in row for row in client.get("/api/v1/integrations/").json()["results"])
        rotated = client.post(f"/api/v1/integrations/{pk}/rotate-secret/").json()
        assert rotated["secret"] != created.json()["secret"] and rotated["previous_secret_until"]
        assert Integration.objects.get(pk=pk).previous_secret == created.json()["secret"]

    def test_the_page_shows_the_secret_once_and_the_alert(self, community, operator, receiver):
        client = page_client(operator)
        url = f"/c/{community.slug}/content/integrations/"
        added = client.post(url, {"action": "add", "name": "Bot", "webhook_url": receiver.url, "platform": ""})
        integration = Integration.objects.get(name="Bot")
        assert added.status_code == 200 and integration.secret in added.content.decode()
        page = client.get(url).content.decode()
        assert integration.secret not in page and "410" not in page.split("<table")[0]
        Integration.objects.filter(pk=integration.pk).update(webhook_disabled_at=timezone.now())
        assert "410 Gone" in client.get(url).content.decode()
        rotated = client.post(url, {"action": "rotate_secret", "id": integration.pk}).content.decode()
        assert Integration.objects.get(pk=integration.pk).secret in rotated

    def test_the_page_resends_a_failed_message(self, community, photo, operator):
        services.integration_create(community=community, name="机器人")
        message = _failed(photo)
        client = page_client(operator)
        client.post(f"/c/{community.slug}/content/integrations/", {"action": "resend_message", "id": message.pk})
        assert OutboundMessage.objects.get(pk=message.pk).status == MessageStatus.PENDING


def test_payload_keeps_its_fields_beside_the_envelope(community, photo, receiver):
    services.integration_create(community=community, name="机器人", webhook_url=receiver.url)
    message = queue(photo)
    services.webhook_deliver(message_id=message.pk)
    body = json.loads(receiver.requests[0]["body"])
    assert set(body) == {"type", "timestamp", "id", "kind", "community", "group", "recipient", "body", "created_at"}
