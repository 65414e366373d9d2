"""Queueing messages, and getting them delivered: by polling bots that acknowledge each one,
or by signed webhooks retried with backoff."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import random
import socket
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import timedelta
from urllib.parse import urlparse

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from outbox.models import Integration, MessageStatus, OutboundMessage
from subgroups.models import Group, Platform

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10
# Waits between attempts, as Standard Webhooks senders do, stretched to span more than three
# days: an endpoint down over a long weekend still gets its messages. Each wait is jittered by
# up to a fifth either way, so retries after an outage do not arrive all at once.
RETRY_SCHEDULE = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=20),
    timedelta(hours=24),
    timedelta(hours=24),
)
JITTER = 0.2
MAX_ATTEMPTS = len(RETRY_SCHEDULE) + 1
SECRET_GRACE = timedelta(hours=24)  # a rotated signing secret still signs beside the new one


def pushing() -> QuerySet[Integration]:
    """Integrations Canopy pushes to: active, with a webhook that has not answered 410 Gone."""
    return Integration.objects.filter(is_active=True, webhook_disabled_at__isnull=True).exclude(webhook_url="")


def message_enqueue(
    *,
    group: Group,
    kind: str,
    body: str,
    recipient_platform: str = "",
    recipient_external_id: str = "",
    recipient_name: str = "",
    dedupe_key: str | None = None,
) -> OutboundMessage:
    """Queue a message for the group's integration. With a ``dedupe_key`` a second call
    returns the first message instead of queueing another."""
    if dedupe_key:
        existing = OutboundMessage.objects.filter(dedupe_key=dedupe_key).first()
        if existing is not None:
            return existing
    try:
        with transaction.atomic():
            message = OutboundMessage.objects.create(
                community_id=group.community_id,
                group=group,
                kind=kind,
                body=body,
                recipient_platform=recipient_platform,
                recipient_external_id=recipient_external_id,
                recipient_name=recipient_name,
                dedupe_key=dedupe_key,
            )
    except IntegrityError:
        if dedupe_key:
            return OutboundMessage.objects.get(dedupe_key=dedupe_key)
        raise
    if pushing().filter(community_id=group.community_id).exists():
        from outbox.tasks import deliver_message

        transaction.on_commit(lambda: deliver_message.delay(message.pk), robust=True)
    return message


def message_ack(*, message: OutboundMessage, delivered: bool = True, error: str = "") -> OutboundMessage:
    """An integration says it delivered the message (or could not). Saying it twice is harmless:
    a delivered message stays delivered."""
    if delivered:
        OutboundMessage.objects.filter(pk=message.pk).exclude(status=MessageStatus.DELIVERED).update(
            status=MessageStatus.DELIVERED, delivered_at=timezone.now(), last_error=""
        )
    else:
        OutboundMessage.objects.filter(pk=message.pk, status=MessageStatus.PENDING).update(
            status=MessageStatus.FAILED, last_error=error[:2000]
        )
    message.refresh_from_db()
    return message


# --- Webhooks -------------------------------------------------------------------------------


def _key(secret: str) -> bytes:
    """A Standard Webhooks secret is base64 after ``whsec_``. Secrets made before Canopy signed
    that way are 64 hex characters, which decode as base64 too, exactly as the
    ``standardwebhooks`` library decodes them."""
    return base64.b64decode(secret.removeprefix("whsec_"))


def standard_signature(secret: str, message_id: str, timestamp: str, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">``: the Standard Webhooks signature."""
    mac = hmac.new(_key(secret), f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def signing_secrets(integration: Integration, now=None) -> list[str]:
    """The current secret, and the previous one while its grace period lasts."""
    now = now or timezone.now()
    secrets_ = [integration.secret]
    if integration.previous_secret and integration.previous_secret_until and integration.previous_secret_until > now:
        secrets_.append(integration.previous_secret)
    return secrets_


def webhook_headers(integration: Integration, message_id: int, body: bytes, timestamp: int | None = None) -> dict:
    """The headers of one delivery: Standard Webhooks' three, and the deprecated ``X-Canopy-*``
    ones (kept for one release; they go in the release after)."""
    stamp = str(int(timestamp if timestamp is not None else time.time()))
    webhook_id = f"msg_{message_id}"
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": stamp,
        "webhook-signature": " ".join(
            standard_signature(secret, webhook_id, stamp, body) for secret in signing_secrets(integration)
        ),
        "X-Canopy-Delivery": str(message_id),
        "X-Canopy-Timestamp": stamp,
        "X-Canopy-Signature": sign(integration.secret, stamp, body),
    }


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Deprecated (``X-Canopy-Signature``): ``sha256=<hex>`` of HMAC-SHA256 over
    ``<timestamp>.<body>`` with the secret as it is written."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, signature: str, *, tolerance: int = 300) -> bool:
    """For receivers (and the tests): a valid, fresh signature."""
    try:
        fresh = abs(time.time() - int(timestamp)) <= tolerance
    except ValueError:
        return False
    return fresh and hmac.compare_digest(sign(secret, timestamp, body), signature)


def payload(message: OutboundMessage) -> dict:
    """The JSON of a delivery. ``type`` and ``timestamp`` are Standard Webhooks' envelope; the
    message's own fields sit beside them, where receivers before it read them."""
    group = message.group
    return {
        "type": f"outbox.{message.kind}",
        "timestamp": message.created_at.isoformat(),
        "id": message.pk,
        "kind": message.kind,
        "community": message.community_id,
        "group": {
            "id": group.pk,
            "name": group.name,
            "platform": group.platform,
            "external_id": group.external_id,
        }
        if group
        else None,
        "recipient": {
            "platform": message.recipient_platform,
            "external_id": message.recipient_external_id,
            "name": message.recipient_name,
        },
        "body": message.body,
        "created_at": message.created_at.isoformat(),
    }


def _integration_for(message: OutboundMessage) -> Integration | None:
    platform = message.recipient_platform or (message.group.platform if message.group else "")
    return (
        pushing()
        .filter(community_id=message.community_id)
        .filter(Q(platform="") | Q(platform=platform))
        .order_by("-platform", "pk")  # a platform's own integration before the catch-all
        .first()
    )


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A webhook answers where it was asked: following a redirect could lead anywhere."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def _not_public(address: str) -> bool:
    """Loopback, private, link-local, carrier-grade NAT (100.64/10, where some clouds keep their
    metadata service), reserved, multicast: anything not on the public internet."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


class BlockedAddress(OSError):
    """The webhook's host resolved to an address webhooks may not reach."""


class _Guarded:
    """Checks the address actually connected to, after DNS: a name that resolved to a public
    address when the webhook was saved and to an internal one now is caught here."""

    def connect(self):
        super().connect()
        if not settings.CANOPY_WEBHOOK_ALLOW_PRIVATE and _not_public(self.sock.getpeername()[0]):
            self.sock.close()
            raise BlockedAddress(f"{self.host} is not a public address")


class _GuardedHTTPConnection(_Guarded, http.client.HTTPConnection):
    pass


class _GuardedHTTPSConnection(_Guarded, http.client.HTTPSConnection):
    pass


class _GuardedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_GuardedHTTPConnection, req)


class _GuardedHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_GuardedHTTPSConnection, req, context=self._context)


# No proxies from the environment: the address check must see the real peer.
_opener = urllib.request.build_opener(
    urllib.request.ProxyHandler({}), _NoRedirects, _GuardedHTTPHandler, _GuardedHTTPSHandler
)


def _backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed attempt, jittered."""
    wait = RETRY_SCHEDULE[min(attempts, len(RETRY_SCHEDULE)) - 1]
    return wait * random.uniform(1 - JITTER, 1 + JITTER)


def _lease() -> timedelta:
    """How long one webhook attempt may hold a message before another worker may retry it."""
    return timedelta(seconds=settings.CANOPY_OUTBOX_LEASE_SECONDS)


def _claim(message_id: int) -> bool:
    """Take a message for one attempt: only one worker wins, and the lease lets a crashed
    worker's message be retried once it runs out."""
    now = timezone.now()
    return (
        OutboundMessage.objects.filter(pk=message_id, status=MessageStatus.PENDING, available_at__lte=now).update(
            available_at=now + _lease(), attempts=F("attempts") + 1
        )
        == 1
    )


GONE = "HTTP 410"


def _post(integration: Integration, message: OutboundMessage) -> tuple[bool, str]:
    """POST one signed message to the integration's webhook: (delivered?, error)."""
    body = json.dumps(payload(message), ensure_ascii=False).encode()
    request = urllib.request.Request(
        integration.webhook_url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Canopy-Webhook/2",
            **webhook_headers(integration, message.pk, body),
        },
    )
    try:
        with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            ok = 200 <= response.status < 300
            return ok, "" if ok else f"HTTP {response.status}"
    except urllib.error.HTTPError as failure:
        return False, f"HTTP {failure.code}"
    except (urllib.error.URLError, TimeoutError, OSError) as failure:
        return False, f"{failure.__class__.__name__}: {failure}"[:500]


def _endpoint_answered(integration: Integration, ok: bool) -> None:
    """Keep ``failing_since``: the first failure since the last success (the page alerts after a
    day of failures)."""
    endpoint = Integration.objects.filter(pk=integration.pk)
    if ok:
        endpoint.exclude(failing_since=None).update(failing_since=None)
    else:
        endpoint.filter(failing_since=None).update(failing_since=timezone.now())


def _settle(message_id: int, attempts: int, integration: Integration, ok: bool, error: str) -> str:
    # Settle only the attempt this worker claimed: if it overran its lease and another worker
    # took the message (or a poller acknowledged it), that one's outcome stands.
    mine = OutboundMessage.objects.filter(pk=message_id, status=MessageStatus.PENDING, attempts=attempts)
    if error == GONE:
        # 410 Gone: the receiver says the endpoint is no more. Stop pushing to it, and give the
        # message back (unclaimed) for polling or for when the webhook is enabled again.
        Integration.objects.filter(pk=integration.pk, webhook_disabled_at=None).update(
            webhook_disabled_at=timezone.now()
        )
        logger.warning("webhook of integration %s answered 410 Gone: disabled", integration.pk)
        mine.update(available_at=timezone.now(), attempts=F("attempts") - 1, last_error=error)
        return "disabled"
    _endpoint_answered(integration, ok)
    if ok:
        mine.update(
            status=MessageStatus.DELIVERED, delivered_at=timezone.now(), delivered_via=integration, last_error=""
        )
        return "delivered"
    if attempts >= MAX_ATTEMPTS:
        mine.update(status=MessageStatus.FAILED, last_error=error)
        logger.warning("outbox message %s failed after %s attempts: %s", message_id, attempts, error)
        return "failed"
    mine.update(available_at=timezone.now() + _backoff(attempts), last_error=error)
    return "retry"


def _usable(integration: Integration | None) -> Integration | None:
    if integration is not None and not settings.CANOPY_WEBHOOK_ALLOW_PRIVATE and _private_host(integration.webhook_url):
        return None  # the address moved somewhere it must not go
    return integration


def webhook_deliver(*, message_id: int) -> str:
    """One delivery attempt. Returns what happened: delivered, retry, failed or skipped."""
    if not _claim(message_id):
        return "skipped"
    message = OutboundMessage.objects.select_related("group").get(pk=message_id)
    integration = _usable(_integration_for(message))
    if integration is None:
        # Nobody to push to: leave it for polling, as if never claimed.
        OutboundMessage.objects.filter(pk=message_id).update(available_at=timezone.now(), attempts=F("attempts") - 1)
        return "skipped"
    ok, error = _post(integration, message)
    return _settle(message_id, message.attempts, integration, ok, error)


SETTLE_EVERY = 16  # deliveries recorded per UPDATE while a batch is posted


def batch_limit(limit: int, threads: int) -> int:
    """At most as many messages as ``threads`` can post within one lease, even if every post
    ran into the timeout: a batch must never outlast the lease that keeps other sweeps off it."""
    rounds = max(1, settings.CANOPY_OUTBOX_LEASE_SECONDS // TIMEOUT_SECONDS - 1)
    return max(1, min(limit, threads * rounds))


def webhook_deliver_due(*, limit: int = 500, threads: int = 8) -> dict[str, int]:
    """Claim due messages in one statement (``SKIP LOCKED``: sweeps side by side take different
    messages) and push them over ``threads`` connections. The claim commits before anything is
    sent, and deliveries are recorded as the posts return, a few at a time; so a worker killed
    mid-batch leaves only the posts in flight and the last few unrecorded ones to be sent again,
    with the same delivery id, once their lease runs out. Nothing is lost."""
    now = timezone.now()
    threads = max(1, threads)
    communities = pushing().values("community_id")
    with transaction.atomic():
        ids = list(
            OutboundMessage.objects.select_for_update(skip_locked=True)
            .filter(status=MessageStatus.PENDING, available_at__lte=now, community_id__in=communities)
            .order_by("available_at", "pk")
            .values_list("pk", flat=True)[: batch_limit(limit, threads)]
        )
        OutboundMessage.objects.filter(pk__in=ids).update(available_at=now + _lease(), attempts=F("attempts") + 1)
    outcome: dict[str, int] = {"claimed": len(ids)}
    if not ids:
        return outcome
    integrations: dict[tuple[int, str], Integration | None] = {}
    work = []
    for message in OutboundMessage.objects.filter(pk__in=ids).select_related("group"):
        platform = message.recipient_platform or (message.group.platform if message.group else "")
        key = (message.community_id, platform)
        if key not in integrations:
            integrations[key] = _usable(_integration_for(message))
        if integrations[key] is None:
            OutboundMessage.objects.filter(pk=message.pk).update(available_at=now, attempts=F("attempts") - 1)
            outcome["skipped"] = outcome.get("skipped", 0) + 1
        else:
            work.append((integrations[key], message))
    delivered: list[tuple[Integration, OutboundMessage]] = []

    def settle_delivered() -> None:
        by_claim: dict[tuple[int, int], list[int]] = {}
        for integration, message in delivered:
            by_claim.setdefault((integration.pk, message.attempts), []).append(message.pk)
        stamp = timezone.now()
        Integration.objects.filter(pk__in={pk for pk, _ in by_claim}).exclude(failing_since=None).update(
            failing_since=None
        )
        for (integration_id, tries), message_ids in by_claim.items():
            # Only the claims this sweep made: a message another worker took over is theirs.
            outcome["delivered"] = outcome.get("delivered", 0) + OutboundMessage.objects.filter(
                pk__in=message_ids, status=MessageStatus.PENDING, attempts=tries
            ).update(status=MessageStatus.DELIVERED, delivered_at=stamp, delivered_via_id=integration_id, last_error="")
        delivered.clear()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        posts = {pool.submit(_post, integration, message): (integration, message) for integration, message in work}
        for future in as_completed(posts):
            integration, message = posts[future]
            ok, error = future.result()
            if ok:
                delivered.append((integration, message))
                if len(delivered) >= SETTLE_EVERY:
                    settle_delivered()
            else:
                result = _settle(message.pk, message.attempts, integration, ok, error)
                outcome[result] = outcome.get(result, 0) + 1
    settle_delivered()
    return outcome


def for_polling(messages: QuerySet[OutboundMessage]) -> QuerySet[OutboundMessage]:
    """Leave out the messages a webhook integration will push: a bot that polls while a webhook
    also serves the platform must not send them a second time."""
    platform = Coalesce(NullIf(OuterRef("recipient_platform"), Value("")), OuterRef("group__platform"))
    webhooks = pushing().filter(community_id=OuterRef("community_id")).filter(Q(platform="") | Q(platform=platform))
    return messages.exclude(Exists(webhooks))


def due_for_webhooks(*, limit: int = 200) -> list[int]:
    """Pending messages whose time has come, in communities that have a webhook."""
    communities = pushing().values("community_id").distinct()
    return list(
        OutboundMessage.objects.filter(
            status=MessageStatus.PENDING, available_at__lte=timezone.now(), community_id__in=communities
        )
        .order_by("available_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


# --- Integrations ---------------------------------------------------------------------------


def _private_host(url: str) -> bool:
    """Does the URL's host resolve to a loopback, private or link-local address? Webhooks
    there would let a community's owner reach this server's own network."""
    host = urlparse(url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False  # unresolvable now: delivery will fail and retry
    return any(_not_public(address) for address in addresses)


def clean_webhook(url: str) -> str:
    url = (url or "").strip()
    if not url:
        return ""
    if len(url) > 200:
        raise ApplicationError(_("Keep the webhook address to 200 characters."), field="webhook_url")
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise ApplicationError(_("Enter a webhook address starting with https://."), field="webhook_url") from None
    if not settings.CANOPY_WEBHOOK_ALLOW_PRIVATE and _private_host(url):
        raise ApplicationError(_("Webhooks go to public addresses only."), field="webhook_url")
    return url


@transaction.atomic
def integration_create(*, community, name: str, platform: str = "", webhook_url: str = "") -> Integration:
    name = " ".join((name or "").split())
    if not name or len(name) > 100:
        raise ApplicationError(_("Give the integration a name."), field="name")
    if platform and platform not in Platform.values:
        raise ApplicationError(_("Unknown platform."), field="platform")
    return Integration.objects.create(
        community=community, name=name, platform=platform or "", webhook_url=clean_webhook(webhook_url)
    )


def integration_delete(*, integration: Integration) -> None:
    integration.delete()


@transaction.atomic
def integration_rotate_secret(*, integration: Integration) -> Integration:
    """A new signing secret, shown once by the caller. For a day deliveries carry a signature
    with each secret, so the receiver can switch over without refusing anything."""
    from outbox.models import _secret

    integration = Integration.objects.select_for_update().get(pk=integration.pk)
    integration.previous_secret = integration.secret
    integration.previous_secret_until = timezone.now() + SECRET_GRACE
    integration.secret = _secret()
    integration.save(update_fields=["secret", "previous_secret", "previous_secret_until"])
    return integration


def integration_enable_webhook(*, integration: Integration) -> Integration:
    """Push again to a webhook that answered 410 Gone (after its owner fixed it)."""
    Integration.objects.filter(pk=integration.pk).update(webhook_disabled_at=None, failing_since=None)
    integration.refresh_from_db()
    if integration.pushes:
        _deliver_soon(_messages_of(integration).filter(status=MessageStatus.PENDING))
    return integration


def _messages_of(integration: Integration) -> QuerySet[OutboundMessage]:
    """The messages an integration serves: its community's, on its platform (or all)."""
    messages = OutboundMessage.objects.filter(community_id=integration.community_id)
    if integration.platform:
        platform = Coalesce(NullIf(F("recipient_platform"), Value("")), F("group__platform"))
        messages = messages.alias(platform=platform).filter(platform=integration.platform)
    return messages


def _deliver_soon(messages: QuerySet[OutboundMessage]) -> None:
    from outbox.tasks import deliver_message

    for message_id in messages.values_list("pk", flat=True)[:1000]:
        transaction.on_commit(lambda message_id=message_id: deliver_message.delay(message_id), robust=True)


@transaction.atomic
def message_resend(*, message: OutboundMessage) -> OutboundMessage:
    """Send a failed (or cancelled) message again, with a fresh set of attempts and the same
    delivery id. A pending or delivered message is left as it is."""
    resent = OutboundMessage.objects.filter(
        pk=message.pk, status__in=[MessageStatus.FAILED, MessageStatus.CANCELLED]
    ).update(status=MessageStatus.PENDING, attempts=0, available_at=timezone.now(), last_error="")
    if not resent:
        raise ApplicationError(_("Only a failed or cancelled message can be sent again."), field="message")
    message.refresh_from_db()
    if pushing().filter(community_id=message.community_id).exists():
        _deliver_soon(OutboundMessage.objects.filter(pk=message.pk))
    return message


@transaction.atomic
def integration_resend_failed(*, integration: Integration) -> int:
    """Every failed message of the integration's community and platform, sent again."""
    failed = _messages_of(integration).filter(status=MessageStatus.FAILED)
    ids = list(failed.values_list("pk", flat=True))
    OutboundMessage.objects.filter(pk__in=ids, status=MessageStatus.FAILED).update(
        status=MessageStatus.PENDING, attempts=0, available_at=timezone.now(), last_error=""
    )
    if integration.pushes:
        _deliver_soon(OutboundMessage.objects.filter(pk__in=ids))
    return len(ids)


def failing_integrations(community) -> QuerySet[Integration]:
    """Webhooks that have failed for a day or more, or were disabled by a 410: for the alerts."""
    day_ago = timezone.now() - timedelta(hours=24)
    return (
        Integration.objects.filter(community=community, is_active=True)
        .filter(Q(failing_since__lte=day_ago) | Q(webhook_disabled_at__isnull=False))
        .exclude(webhook_url="")
    )
