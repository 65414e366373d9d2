"""The outbox: everything Canopy wants delivered on a chat platform, in one table.

It sits just above the tree, below every app that writes to it: members write welcome
messages, content writes pushes and digests, analytics writes recall messages. Integrations
collect and acknowledge them (the delivery API arrives with the content release).
"""

import base64
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from subgroups.models import Community, Group, Platform


class MessageKind(models.TextChoices):
    WELCOME = "welcome", _("Welcome")
    INVITATION = "invitation", _("Invitation")
    PUSH = "push", _("Scheduled push")
    ANNOUNCEMENT = "announcement", _("Announcement")
    DIGEST = "digest", _("Digest")
    RECALL = "recall", _("Recall")
    INSTRUCTION = "instruction", _("Instruction to the integration")


class MessageStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class OutboundMessage(models.Model):
    community = models.ForeignKey(Community, verbose_name=_("community"), on_delete=models.CASCADE)
    group = models.ForeignKey(
        Group, verbose_name=_("group"), on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=MessageKind.choices)
    recipient_platform = models.CharField(_("platform"), max_length=16, choices=Platform.choices, blank=True)
    recipient_external_id = models.CharField(
        _("recipient"), max_length=128, blank=True, help_text=_("Empty: the whole group.")
    )
    recipient_name = models.CharField(_("recipient name"), max_length=100, blank=True)
    body = models.TextField(_("body"))
    status = models.CharField(_("status"), max_length=16, choices=MessageStatus.choices, default=MessageStatus.PENDING)
    dedupe_key = models.CharField(  # noqa: DJ001 - NULL means "no key"; many rows may have none
        _("dedupe key"), max_length=200, null=True, blank=True, help_text=_("One message per key, ever.")
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    available_at = models.DateTimeField(
        _("send after"),
        default=timezone.now,
        help_text=_("Also the end of a webhook attempt's lease, and of a retry's wait."),
    )
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    delivered_via = models.ForeignKey(
        "outbox.Integration",
        verbose_name=_("delivered by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("outbound message")
        verbose_name_plural = _("outbound messages")
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["dedupe_key"], condition=Q(dedupe_key__isnull=False), name="outbound_dedupe_key_unique"
            ),
        ]
        indexes = [models.Index(fields=["community", "status", "available_at"], name="outbox_queue")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {self.recipient_name or self.group or self.community}"


def _secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class Integration(models.Model):
    """A bot that delivers a community's messages. With a webhook URL, Canopy pushes each
    message to it, signed per Standard Webhooks with ``secret`` (and, for a day after a
    rotation, with the previous one too); without one, the bot polls ``/api/v1/outbox/`` with
    its key and acknowledges each delivery."""

    community = models.ForeignKey(Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("name"), max_length=100)
    platform = models.CharField(
        _("platform"), max_length=16, choices=Platform.choices, blank=True, help_text=_("Empty: every platform.")
    )
    webhook_url = models.URLField(_("webhook URL"), blank=True)
    secret = models.CharField(_("signing secret"), max_length=64, default=_secret)
    previous_secret = models.CharField(_("previous signing secret"), max_length=64, blank=True, editable=False)
    previous_secret_until = models.DateTimeField(
        _("previous secret signs until"), null=True, blank=True, editable=False
    )
    is_active = models.BooleanField(_("active"), default=True)
    webhook_disabled_at = models.DateTimeField(
        _("webhook disabled"),
        null=True,
        blank=True,
        help_text=_("Set when the endpoint answered 410 Gone: nothing is pushed until it is enabled again."),
    )
    failing_since = models.DateTimeField(
        _("failing since"), null=True, blank=True, help_text=_("The first failed delivery since the last success.")
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("acts as"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("The service account its keys act as: it cannot log in and holds no role."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("integration")
        verbose_name_plural = _("integrations")
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def pushes(self) -> bool:
        return bool(self.webhook_url) and self.webhook_disabled_at is None

    def failing_for_a_day(self, now=None) -> bool:
        now = now or timezone.now()
        return self.failing_since is not None and now - self.failing_since >= timedelta(hours=24)


class IntegrationKey(models.Model):
    """An API key of one integration: it acts in the integration's community only, on the
    operations its scopes name. The key itself is shown once; only its SHA-256 is kept, with
    a short prefix to find it by."""

    integration = models.ForeignKey(
        Integration, verbose_name=_("integration"), on_delete=models.CASCADE, related_name="keys"
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    hashed_key = models.CharField(_("hashed key"), max_length=64, editable=False)
    scopes = models.JSONField(_("scopes"), default=list)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True, help_text=_("Empty: never."))
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    rotated_from = models.OneToOneField(
        "self",
        verbose_name=_("replaces"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="rotated_to",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("integration key")
        verbose_name_plural = _("integration keys")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_usable(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
