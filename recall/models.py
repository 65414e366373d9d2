"""Recall (召回): tiered outreach to silent members, and why members leave.

A **policy** is an ordered list of **stages**. Each stage fires once a member has been silent
for its number of days (optionally only for some segments or risk bands), reaches them on one
**channel** with a message and a gift, then waits before the next stage may fire. One silence
is one **cycle**: it ends when the member is active again (recovered), opts out, leaves, or
runs out of stages. Every message is an **attempt**, unique per (member, policy, stage, cycle),
so however often the engine runs, a stage reaches a member once per silence.
"""

from __future__ import annotations

import secrets
from datetime import time

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from analytics.models import RiskBand, Segment
from members.models import Member, Membership
from outbox.models import OutboundMessage
from subgroups.models import Community, Group


class Channel(models.TextChoices):
    IN_APP = "in_app", _("In-app notice")
    PLATFORM = "platform", _("Private message")
    EMAIL = "email", _("Email")
    PHONE = "phone", _("Phone call")


class GiftKind(models.TextChoices):
    NONE = "", _("No gift")
    POINTS = "points", _("Points bonus")
    COUPON = "coupon", _("Coupon")


class RecallPolicy(models.Model):
    community = models.ForeignKey(Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("name"), max_length=100)
    is_active = models.BooleanField(_("active"), default=True)
    quiet_start = models.TimeField(
        _("quiet hours from"), null=True, blank=True, default=time(22, 0), help_text=_("Local time. Empty: none.")
    )
    quiet_end = models.TimeField(_("quiet hours until"), null=True, blank=True, default=time(8, 0))
    monthly_cap = models.PositiveSmallIntegerField(
        _("messages per member per 30 days"),
        default=4,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_("Across all recall policies; phone calls do not count. WeCom allows 4 broadcasts a month."),
    )
    recovery_days = models.PositiveSmallIntegerField(
        _("recovery window, days"),
        default=14,
        validators=[MinValueValidator(1), MaxValueValidator(90)],
        help_text=_("A member active within this many days of an attempt counts as recovered by it."),
    )
    point_value = models.DecimalField(
        _("cost of one point"), max_digits=8, decimal_places=4, default=0.01, help_text=_("In yuan, for cost reports.")
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("recall policy")
        verbose_name_plural = _("recall policies")
        ordering = ["name", "pk"]
        constraints = [models.UniqueConstraint(fields=["community", "name"], name="recall_policy_name_unique")]

    def __str__(self) -> str:
        return self.name


class CouponPool(models.Model):
    """Coupon codes bought or generated elsewhere; each is handed out once, ever."""

    community = models.ForeignKey(Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("name"), max_length=100)
    value = models.DecimalField(_("value per coupon"), max_digits=10, decimal_places=2, default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("coupon pool")
        verbose_name_plural = _("coupon pools")
        ordering = ["name", "pk"]
        constraints = [models.UniqueConstraint(fields=["community", "name"], name="coupon_pool_name_unique")]

    def __str__(self) -> str:
        return self.name


class RecallStage(models.Model):
    policy = models.ForeignKey(RecallPolicy, verbose_name=_("policy"), on_delete=models.CASCADE, related_name="stages")
    position = models.PositiveSmallIntegerField(_("order"), validators=[MinValueValidator(1)])
    name = models.CharField(_("name"), max_length=100)
    days_silent = models.PositiveSmallIntegerField(
        _("days silent"), validators=[MinValueValidator(1), MaxValueValidator(3650)]
    )
    segments = models.JSONField(_("only these segments"), default=list, blank=True, help_text=_("Empty: any."))
    risk_bands = models.JSONField(_("only these risk bands"), default=list, blank=True, help_text=_("Empty: any."))
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    template = models.TextField(_("message"))
    template_b = models.TextField(
        _("message, variant B"), blank=True, help_text=_("Optional: half the members get this one (an A/B test).")
    )
    include_digest = models.BooleanField(_("include what they missed"), default=False)
    gift_kind = models.CharField(_("gift"), max_length=16, choices=GiftKind.choices, blank=True, default="")
    gift_points = models.PositiveIntegerField(
        _("points bonus"), default=0, validators=[MaxValueValidator(1_000_000)], help_text=_("Credited on return.")
    )
    coupon_pool = models.ForeignKey(
        CouponPool, verbose_name=_("coupon pool"), on_delete=models.RESTRICT, null=True, blank=True, related_name="+"
    )
    privilege = models.CharField(_("returning-member privilege"), max_length=200, blank=True)
    wait_days = models.PositiveSmallIntegerField(
        _("wait before the next stage, days"), default=7, validators=[MaxValueValidator(365)]
    )

    class Meta:
        verbose_name = _("recall stage")
        verbose_name_plural = _("recall stages")
        ordering = ["policy", "position"]
        constraints = [models.UniqueConstraint(fields=["policy", "position"], name="recall_stage_position_unique")]

    def __str__(self) -> str:
        return f"{self.position}. {self.name}"

    @property
    def segment_labels(self) -> list[str]:
        return [str(Segment(value).label) for value in self.segments if value in Segment.values]

    @property
    def risk_labels(self) -> list[str]:
        return [str(RiskBand(value).label) for value in self.risk_bands if value in RiskBand.values]


class CycleStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("recall cycle", "Open")
    RECOVERED = "recovered", _("Recovered")
    OPTED_OUT = "opted_out", _("Opted out")
    LEFT = "left", _("Left")
    EXHAUSTED = "exhausted", _("No stage left")


class RecallCycle(models.Model):
    """One silence of one member under one policy."""

    community = models.ForeignKey(Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="+")
    policy = models.ForeignKey(RecallPolicy, verbose_name=_("policy"), on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="+")
    silent_since = models.DateTimeField(_("silent since"))
    status = models.CharField(_("status"), max_length=16, choices=CycleStatus.choices, default=CycleStatus.OPEN)
    last_position = models.PositiveSmallIntegerField(_("last stage reached"), default=0)
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)

    class Meta:
        verbose_name = _("recall cycle")
        verbose_name_plural = _("recall cycles")
        ordering = ["-started_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["member", "policy", "silent_since"], name="recall_cycle_unique"),
        ]
        indexes = [models.Index(fields=["community", "status"], name="recall_cycle_status")]

    def __str__(self) -> str:
        return f"{self.member_id} / {self.policy_id} since {self.silent_since:%Y-%m-%d}"


class AttemptStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class CallOutcome(models.TextChoices):
    REACHED = "reached", _("Reached")
    NO_ANSWER = "no_answer", _("No answer")
    WRONG_NUMBER = "wrong_number", _("Wrong number")
    REFUSED = "refused", _("Refused")


class Variant(models.TextChoices):
    A = "a", "A"
    B = "b", "B"


def _token() -> str:
    return secrets.token_urlsafe(18)


class RecallAttempt(models.Model):
    """One message of one stage to one member: the unit the funnel counts."""

    community = models.ForeignKey(Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="+")
    policy = models.ForeignKey(RecallPolicy, verbose_name=_("policy"), on_delete=models.CASCADE, related_name="+")
    stage = models.ForeignKey(RecallStage, verbose_name=_("stage"), on_delete=models.RESTRICT, related_name="attempts")
    cycle = models.ForeignKey(RecallCycle, verbose_name=_("cycle"), on_delete=models.CASCADE, related_name="attempts")
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    variant = models.CharField(_("variant"), max_length=1, choices=Variant.choices, default=Variant.A)
    body = models.TextField(_("message"))
    token = models.CharField(_("link token"), max_length=32, unique=True, default=_token)
    gift_points = models.PositiveIntegerField(_("points bonus"), default=0)
    gift_value = models.DecimalField(_("gift value"), max_digits=10, decimal_places=2, default=0)
    gift_note = models.CharField(_("gift note"), max_length=200, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=AttemptStatus.choices, default=AttemptStatus.SCHEDULED
    )
    scheduled_at = models.DateTimeField(_("planned"), default=timezone.now)
    send_after = models.DateTimeField(
        _("send after"), default=timezone.now, help_text=_("After quiet hours; also the end of an e-mail's lease.")
    )
    tries = models.PositiveSmallIntegerField(_("tries"), default=0)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    opened_at = models.DateTimeField(_("opened"), null=True, blank=True)
    responded_at = models.DateTimeField(_("responded"), null=True, blank=True)
    recovered_at = models.DateTimeField(_("recovered"), null=True, blank=True)
    message = models.ForeignKey(
        OutboundMessage, verbose_name=_("outbound message"), on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )  # fmt: skip
    group = models.ForeignKey(
        Group, verbose_name=_("sent in"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    call_outcome = models.CharField(_("call outcome"), max_length=16, choices=CallOutcome.choices, blank=True)
    call_note = models.CharField(_("call note"), max_length=500, blank=True)
    called_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("called by"), on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )  # fmt: skip
    called_at = models.DateTimeField(_("called"), null=True, blank=True)

    class Meta:
        verbose_name = _("recall attempt")
        verbose_name_plural = _("recall attempts")
        ordering = ["-scheduled_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["member", "policy", "stage", "cycle"], name="recall_attempt_once"),
        ]
        indexes = [
            models.Index(fields=["status", "send_after"], name="recall_attempt_due"),
            models.Index(fields=["community", "scheduled_at"], name="recall_attempt_time"),
            models.Index(fields=["member", "scheduled_at"], name="recall_attempt_member"),
        ]

    def __str__(self) -> str:
        return f"{self.stage} → {self.member_id}"


class Coupon(models.Model):
    pool = models.ForeignKey(CouponPool, verbose_name=_("pool"), on_delete=models.CASCADE, related_name="coupons")
    code = models.CharField(_("code"), max_length=64)
    attempt = models.OneToOneField(
        RecallAttempt, verbose_name=_("given with"), on_delete=models.SET_NULL, null=True, blank=True,
        related_name="coupon",
    )  # fmt: skip
    handed_out_at = models.DateTimeField(
        _("handed out"), null=True, blank=True, help_text=_("Set once; a code handed out is never free again.")
    )

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        ordering = ["pool", "pk"]
        constraints = [models.UniqueConstraint(fields=["pool", "code"], name="coupon_code_unique")]
        indexes = [models.Index(fields=["pool", "handed_out_at"], name="coupon_free")]

    def __str__(self) -> str:
        return self.code


class Notice(models.Model):
    """An in-app notice in a member's inbox."""

    community = models.ForeignKey(Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="+")
    attempt = models.OneToOneField(
        RecallAttempt, verbose_name=_("attempt"), on_delete=models.SET_NULL, null=True, blank=True,
        related_name="notice",
    )  # fmt: skip
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body"))
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)

    class Meta:
        verbose_name = _("notice")
        verbose_name_plural = _("notices")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["member", "read_at"], name="notice_unread")]

    def __str__(self) -> str:
        return self.title


class OptOutSource(models.TextChoices):
    INBOX = "inbox", _("Member, from the inbox")
    API = "api", _("Integration")
    ADMIN = "admin", _("Admin")


class OptOut(models.Model):
    """The member asked for no more recall messages (退订)."""

    community = models.ForeignKey(Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="+")
    member = models.OneToOneField(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="+")
    source = models.CharField(_("source"), max_length=16, choices=OptOutSource.choices)
    at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        verbose_name = _("opt-out")
        verbose_name_plural = _("opt-outs")
        ordering = ["-at"]

    def __str__(self) -> str:
        return str(self.member_id)


class ExitReason(models.TextChoices):
    CONTENT_OUTDATED = "content_outdated", _("Content outdated")
    FEW_INTERACTIONS = "few_interactions", _("Too few interactions")
    FEW_BENEFITS = "few_benefits", _("Too few benefits")
    OTHER = "other", _("Other")


class ExitSurvey(models.Model):
    """The exit questionnaire (退群问卷), sent once when a member's last membership ends."""

    community = models.ForeignKey(Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="+")
    membership = models.OneToOneField(
        Membership, verbose_name=_("membership that ended"), on_delete=models.CASCADE, related_name="+"
    )
    group = models.ForeignKey(Group, verbose_name=_("group left"), on_delete=models.CASCADE, related_name="+")
    left_at = models.DateTimeField(_("left"))
    token = models.CharField(_("link token"), max_length=32, unique=True, default=_token)
    message = models.ForeignKey(
        OutboundMessage, verbose_name=_("outbound message"), on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )  # fmt: skip
    created_at = models.DateTimeField(_("sent"), default=timezone.now)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    reasons = models.JSONField(_("reasons"), default=list, blank=True)
    other_text = models.TextField(_("in their words"), blank=True)

    class Meta:
        verbose_name = _("exit survey")
        verbose_name_plural = _("exit surveys")
        ordering = ["-left_at", "-pk"]
        indexes = [models.Index(fields=["community", "left_at"], name="exit_survey_time")]

    def __str__(self) -> str:
        return f"{self.member_id} left {self.group_id}"

    @property
    def reason_labels(self) -> list[str]:
        return [str(ExitReason(value).label) for value in self.reasons if value in ExitReason.values]
