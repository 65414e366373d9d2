"""Integration keys: how a bot or another tool authenticates, instead of a person's token.

A key belongs to one integration, and so to one community. It acts there on the operations its
scopes name (``events:write``, ``outbox:read`` …) and nowhere else: other communities read as
not found. It acts as the integration's service account, which holds no role and cannot log in,
so what it creates is attributed to the integration.

A key looks like ``cnp_<prefix>_<secret>``: 12 characters of prefix to find it by and 43 of
secret (256 bits). It is shown once; Canopy keeps the prefix and the SHA-256 of the whole key.
A salted slow hash (PBKDF2, as for passwords) would add half a second to every request and
protect nothing here: a 256-bit random secret cannot be guessed from its SHA-256.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.errors import ApplicationError
from outbox.models import Integration, IntegrationKey

KEY_PREFIX = "cnp_"
LAST_USED_EVERY = timedelta(minutes=1)  # at most one write a minute per key for last_used_at

# Every scope a key can hold: an area of the API and what may be done there. Reads are GET,
# writes everything else; a few operations ask for a narrower scope of their own.
SCOPES: dict[str, str] = {
    "groups:read": gettext_lazy("Read communities and the tree of groups"),
    "groups:write": gettext_lazy("Change the tree of groups"),
    "members:read": gettext_lazy("Read members and memberships (phone numbers stay masked)"),
    "members:write": gettext_lazy("Add and change members and memberships"),
    "funnel:read": gettext_lazy("Read applications and live codes"),
    "funnel:write": gettext_lazy("Review applications, change live codes"),
    "content:read": gettext_lazy("Read posts, digests, schedules and auto-replies"),
    "content:write": gettext_lazy("Write posts, schedules and auto-replies"),
    "moderation:read": gettext_lazy("Read flags and the word lists"),
    "moderation:write": gettext_lazy("Settle flags, change the word lists"),
    "moderation:scan": gettext_lazy("Scan chat messages with the word engine"),
    "events:write": gettext_lazy("Push activity events"),
    "analytics:read": gettext_lazy("Read metrics"),
    "recall:read": gettext_lazy("Read recall policies, attempts and the funnel"),
    "recall:write": gettext_lazy("Run recall: record calls, opt-outs and exit surveys"),
    "outbox:read": gettext_lazy("Read the outbox"),
    "outbox:ack": gettext_lazy("Acknowledge deliveries from the outbox"),
    "growth:read": gettext_lazy("Read check-ins, points, rewards, invitations and the growth programmes"),
    "growth:write": gettext_lazy("Record check-ins, redemptions and the growth programmes"),
}

# What a bridge needs to carry a chat: activity in, messages out, the word engine on the way.
BRIDGE_SCOPES = ("groups:read", "members:read", "events:write", "moderation:scan", "outbox:read", "outbox:ack")


def rotation_grace() -> timedelta:
    """How long a rotated key keeps working beside its successor."""
    return timedelta(hours=settings.CANOPY_KEY_ROTATION_GRACE_HOURS)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedKey:
    """A new key and the one time its secret is seen."""

    key: IntegrationKey
    secret: str


def _issue(**fields) -> IssuedKey:
    prefix = secrets.token_hex(6)
    secret = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = IntegrationKey.objects.create(prefix=prefix, hashed_key=_hash(secret), **fields)
    return IssuedKey(key=key, secret=secret)


def clean_scopes(scopes) -> list[str]:
    if not isinstance(scopes, (list, tuple)) or not scopes:
        raise ApplicationError(_("Choose at least one scope."), field="scopes")
    unknown = sorted({str(scope) for scope in scopes} - set(SCOPES))
    if unknown:
        raise ApplicationError(_("Unknown scopes: %(scopes)s.") % {"scopes": ", ".join(unknown)}, field="scopes")
    return sorted(set(scopes))


def service_user(integration: Integration):
    """The account an integration's keys act as, made on first use."""
    if integration.user_id:
        return integration.user
    User = get_user_model()
    user = User(username=f"integration-{integration.pk}-{slugify(integration.name)[:40] or 'bot'}"[:150])
    user.first_name = integration.name[:150]
    user.set_unusable_password()
    user.save()
    Integration.objects.filter(pk=integration.pk).update(user=user)
    integration.user = user
    return user


@transaction.atomic
def key_create(
    *, integration: Integration, name: str, scopes, expires_at: datetime | None = None, created_by=None
) -> IssuedKey:
    """A new key for the integration. Its secret is in the result and nowhere else."""
    integration = Integration.objects.select_for_update().get(pk=integration.pk)
    name = " ".join((name or "").split())
    if not name or len(name) > 100:
        raise ApplicationError(_("Give the key a name of up to 100 characters."), field="name")
    scopes = clean_scopes(scopes)
    if expires_at is not None and expires_at <= timezone.now():
        raise ApplicationError(_("Choose an expiry in the future."), field="expires_at")
    service_user(integration)
    return _issue(
        integration=integration,
        name=name,
        scopes=scopes,
        expires_at=expires_at,
        created_by=created_by if getattr(created_by, "pk", None) else None,
    )


@transaction.atomic
def key_rotate(*, key: IntegrationKey, created_by=None) -> IssuedKey:
    """A successor with the same name, scopes and expiry. The old key keeps working for the
    rotation grace period (``CANOPY_KEY_ROTATION_GRACE_HOURS``, 24 h by default), so the bot
    can be switched over without a gap, and then stops."""
    key = IntegrationKey.objects.select_for_update().get(pk=key.pk)
    now = timezone.now()
    if not key.is_usable(now):
        raise ApplicationError(_("This key is revoked or expired: create a new one instead."), field="key")
    if IntegrationKey.objects.filter(rotated_from=key).exists():
        raise ApplicationError(_("This key was already rotated: rotate its successor."), field="key")
    grace_end = now + rotation_grace()
    successor = _issue(
        integration=key.integration,
        name=key.name,
        scopes=list(key.scopes),
        expires_at=key.expires_at,
        rotated_from=key,
        created_by=created_by if getattr(created_by, "pk", None) else None,
    )
    key.expires_at = min(key.expires_at, grace_end) if key.expires_at else grace_end
    key.save(update_fields=["expires_at"])
    return successor


def key_revoke(*, key: IntegrationKey) -> IntegrationKey:
    """The key stops working at once. Revoking twice keeps the first time."""
    IntegrationKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    key.refresh_from_db()
    return key


def key_authenticate(secret: str) -> IntegrationKey | None:
    """The usable key this secret belongs to, or None. Marks it used (at most once a minute)."""
    parts = secret.split("_")
    if len(parts) < 3 or not secret.startswith(KEY_PREFIX):
        return None
    prefix = parts[1]
    key = IntegrationKey.objects.filter(prefix=prefix).select_related("integration", "integration__user").first()
    if key is None or not hmac.compare_digest(key.hashed_key, _hash(secret)):
        return None
    now = timezone.now()
    if not key.is_usable(now) or not key.integration.is_active or key.integration.user is None:
        return None
    if key.last_used_at is None or key.last_used_at < now - LAST_USED_EVERY:
        IntegrationKey.objects.filter(pk=key.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_EVERY)
        ).update(last_used_at=now)
        key.last_used_at = now
    return key


def keys_of(integration: Integration) -> QuerySet[IntegrationKey]:
    return IntegrationKey.objects.filter(integration=integration)


def key_of(user) -> IntegrationKey | None:
    """The key a request authenticated with, when it was one (the permission rules ask)."""
    return getattr(user, "canopy_key", None)
