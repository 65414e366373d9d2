"""Lifecycle migration (阶段迁移): rules that move members between lifecycle groups by date or
progress, with a notice to each member and a history of every move.

A **rule** moves the members of one group (e.g. 新手入门群, newcomers) to another (强化复习群,
intensive) when its trigger fires for them: a fixed date, a date of their own (their exam
date), days in the group, check-ins since joining it, or points earned. Each move is a
**LifecycleMove**, unique per (rule, member, membership left), so however often the rule runs
a member is moved once per stay in the group; a move that found the target full is recorded as
failed and retried by the next run. Nothing is deleted: the old membership stays as left, with
its dates.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import Member, Membership
from outbox.models import OutboundMessage
from subgroups.models import Community, Group

MAX_OFFSET_DAYS = 3650
MAX_THRESHOLD = 10_000_000


class TriggerKind(models.TextChoices):
    FIXED_DATE = "fixed_date", _("A date")
    MEMBER_DATE = "member_date", _("The member's own date")
    DAYS_IN_GROUP = "days_in_group", _("Days in the group")
    CHECK_INS = "check_ins", _("Check-ins since joining")
    POINTS = "points", _("Points earned")


DATE_TRIGGERS = (TriggerKind.FIXED_DATE, TriggerKind.MEMBER_DATE)
THRESHOLD_TRIGGERS = (TriggerKind.DAYS_IN_GROUP, TriggerKind.CHECK_INS, TriggerKind.POINTS)


class MoveStatus(models.TextChoices):
    MOVED = "moved", _("Moved")
    FAILED = "failed", _("Failed")


class LifecycleRule(models.Model):
    """Move the members of ``from_group`` to ``to_group`` when the trigger fires (迁移规则)."""

    community = models.ForeignKey(Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("name"), max_length=100)
    from_group = models.ForeignKey(
        Group, verbose_name=_("from group"), on_delete=models.CASCADE, related_name="lifecycle_rules_out"
    )
    to_group = models.ForeignKey(
        Group, verbose_name=_("to group"), on_delete=models.CASCADE, related_name="lifecycle_rules_in"
    )
    trigger = models.CharField(_("trigger"), max_length=16, choices=TriggerKind.choices)
    anchor_date = models.DateField(
        _("date"), null=True, blank=True, help_text=_("For a date trigger: e.g. the exam date, 2026-12-20.")
    )
    date_label = models.CharField(
        _("member date"),
        max_length=32,
        blank=True,
        help_text=_("For the member's own date: which of their dates, e.g. exam."),
    )
    offset_days = models.IntegerField(
        _("days before the date"),
        default=0,
        validators=[MinValueValidator(-MAX_OFFSET_DAYS), MaxValueValidator(MAX_OFFSET_DAYS)],
        help_text=_("Move this many days before the date (90: three months before); negative for after."),
    )
    threshold = models.PositiveIntegerField(
        _("threshold"),
        null=True,
        blank=True,
        validators=[MaxValueValidator(MAX_THRESHOLD)],
        help_text=_("For progress triggers: days in the group, check-ins since joining it, or points earned."),
    )
    keep_previous = models.BooleanField(
        _("keep in the previous group"),
        default=False,
        help_text=_("Off: the member leaves the previous group when moved."),
    )
    notice_template = models.TextField(
        _("notice"),
        blank=True,
        help_text=_("Sent to each member moved. Use {name}, {from_group}, {to_group} and {date}."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("lifecycle rule")
        verbose_name_plural = _("lifecycle rules")
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["community", "name"], name="lifecycle_rule_name_unique"),
            models.CheckConstraint(condition=~Q(from_group=models.F("to_group")), name="lifecycle_rule_groups_differ"),
            models.CheckConstraint(
                condition=~Q(trigger="fixed_date") | Q(anchor_date__isnull=False),
                name="lifecycle_rule_fixed_date_has_date",
            ),
            models.CheckConstraint(
                condition=~Q(trigger="member_date") | ~Q(date_label=""),
                name="lifecycle_rule_member_date_has_label",
            ),
            models.CheckConstraint(
                condition=~Q(trigger__in=["days_in_group", "check_ins", "points"]) | Q(threshold__isnull=False),
                name="lifecycle_rule_progress_has_threshold",
            ),
        ]
        indexes = [models.Index(fields=["community", "is_active"], name="lifecycle_rule_active")]

    def __str__(self) -> str:
        return self.name

    @property
    def days_after(self) -> int:
        """A negative offset read the other way round: 3 for "3 days after the date"."""
        return -self.offset_days


class MemberDate(models.Model):
    """A date of one member's own, e.g. their exam date (考试日期), for member-date rules."""

    community = models.ForeignKey(Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="dates")
    label = models.CharField(_("label"), max_length=32, help_text=_("What the date is, e.g. exam."))
    date = models.DateField(_("date"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("member date")
        verbose_name_plural = _("member dates")
        ordering = ["label", "date", "pk"]
        constraints = [models.UniqueConstraint(fields=["member", "label"], name="member_date_one_per_label")]
        indexes = [models.Index(fields=["community", "label", "date"], name="member_date_lookup")]

    def __str__(self) -> str:
        return f"{self.member_id} {self.label}: {self.date}"


class LifecycleMove(models.Model):
    """One member moved (or not yet: the target was full) by one rule: the history (迁移记录)."""

    community = models.ForeignKey(Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="+")
    # RESTRICT: a rule with history is deactivated, not deleted (its community may still go).
    rule = models.ForeignKey(LifecycleRule, verbose_name=_("rule"), on_delete=models.RESTRICT, related_name="moves")
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="+")
    from_group = models.ForeignKey(Group, verbose_name=_("from group"), on_delete=models.CASCADE, related_name="+")
    to_group = models.ForeignKey(Group, verbose_name=_("to group"), on_delete=models.CASCADE, related_name="+")
    from_membership = models.ForeignKey(
        Membership, verbose_name=_("membership left"), on_delete=models.CASCADE, related_name="+"
    )
    membership = models.ForeignKey(
        Membership,
        verbose_name=_("new membership"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    status = models.CharField(_("status"), max_length=16, choices=MoveStatus.choices)
    reason = models.CharField(_("reason"), max_length=300, blank=True, help_text=_("Why the move failed."))
    attempts = models.PositiveIntegerField(_("attempts"), default=1)
    notice = models.ForeignKey(
        OutboundMessage, verbose_name=_("notice"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(_("when"), default=timezone.now)
    first_tried_at = models.DateTimeField(_("first tried"), default=timezone.now)

    class Meta:
        verbose_name = _("lifecycle move")
        verbose_name_plural = _("lifecycle moves")
        ordering = ["-at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "member", "from_membership"], name="lifecycle_move_once_per_membership"
            ),
        ]
        indexes = [
            models.Index(fields=["community", "at"], name="lifecycle_move_community_at"),
            models.Index(fields=["community", "status"], name="lifecycle_move_status"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.from_group_id} → {self.to_group_id} ({self.status})"
