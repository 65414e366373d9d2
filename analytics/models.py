"""Activity and the numbers drawn from it.

Events are the raw record: append-only, deduplicated by the integration's own event id and
bucketed at ingestion into the community's local day. Everything else here is derived and
recomputable from them: daily rollups per (member, group, day), metrics per (group, day) and
(community, day), a current snapshot per member, the churn model's fit, alerts and weekly
reports. Derived rows are upserts keyed by (object, day), so a second run changes nothing.

Foreign keys here carry no index of their own (``db_index=False``) where a composite index
already starts with the column: every extra index is paid on each of millions of writes.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from members.models import Member
from subgroups.models import Community, Group


class EventKind(models.TextChoices):
    MESSAGE = "message", _("Message")
    REPLY = "reply", _("Reply")
    REACTION = "reaction", _("Reaction")
    CHECK_IN = "check_in", _("Check-in")
    VISIT = "visit", _("Visit")
    JOIN = "join", _("Join")
    LEAVE = "leave", _("Leave")
    INVITE = "invite", _("Invitation")
    PURCHASE = "purchase", _("Purchase")
    CLICK = "click", _("Click")
    OPEN = "open", pgettext_lazy("event", "Open")


POSTING_KINDS = (EventKind.MESSAGE, EventKind.REPLY)
# What makes a day an active day for the churn model: taking part, not joining or leaving.
ENGAGED_KINDS = (EventKind.MESSAGE, EventKind.REPLY, EventKind.REACTION, EventKind.CHECK_IN, EventKind.VISIT)
# "Claiming benefits" (薅羊毛): check-ins for points, coupon clicks, purchases with a discount.
BENEFIT_KINDS = (EventKind.CHECK_IN, EventKind.CLICK, EventKind.PURCHASE)


class Event(models.Model):
    """One thing a member did in a group, as an integration reported it (活动事件).

    Append-only: nothing updates or deletes an event except deleting its community. The text of
    a message is scanned by the word engine and, by default, only its length and hash are kept.
    """

    id = models.BigAutoField(primary_key=True)
    community = models.ForeignKey(
        Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="+", db_index=False
    )
    group = models.ForeignKey(
        Group, verbose_name=_("group"), on_delete=models.CASCADE, related_name="+", db_index=False
    )
    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="+", db_index=False
    )
    kind = models.CharField(_("kind"), max_length=16, choices=EventKind.choices)
    occurred_at = models.DateTimeField(_("occurred"))
    day = models.DateField(_("day"), help_text=_("The community's local day when it occurred."))
    external_id = models.CharField(_("event id"), max_length=128, help_text=_("The integration's id: the dedupe key."))
    text_length = models.PositiveIntegerField(_("text length"), null=True, blank=True)
    text_hash = models.CharField(_("text hash"), max_length=64, blank=True)
    text = models.TextField(_("text"), blank=True, help_text=_("Kept only when the community chooses to keep texts."))
    is_question = models.BooleanField(_("question"), default=False)
    reply_to = models.CharField(_("replies to"), max_length=128, blank=True, help_text=_("The event id it answers."))
    value = models.DecimalField(_("value"), max_digits=12, decimal_places=2, null=True, blank=True)
    received_at = models.DateTimeField(_("received"), default=timezone.now)

    class Meta:
        verbose_name = _("activity event")
        verbose_name_plural = _("activity events")
        constraints = [
            models.UniqueConstraint(fields=["community", "external_id"], name="event_unique_external_id"),
        ]
        indexes = [
            # Rollups recompute whole local days of one community.
            models.Index(fields=["community", "day"], name="event_community_day"),
            models.Index(fields=["group", "occurred_at"], name="event_group_time"),
            models.Index(fields=["member", "occurred_at"], name="event_member_time"),
            # Unanswered questions: a handful of questions, each checked for a reply.
            models.Index(fields=["community", "occurred_at"], condition=Q(is_question=True), name="event_questions"),
            models.Index(fields=["community", "reply_to"], condition=~Q(reply_to=""), name="event_replies"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.external_id}"


class DirtyDay(models.Model):
    """A local day whose events changed since its rollups were computed. Ingestion bumps
    ``seq``; the engine clears the mark only if ``seq`` is still what it read, so an event that
    lands mid-computation leaves its day marked for the next run."""

    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    seq = models.BigIntegerField(default=1)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["community", "day"], name="dirty_day_unique")]

    def __str__(self) -> str:
        return f"{self.community_id} {self.day}"


class MemberDay(models.Model):
    """Daily rollup per (member, group, day): the counts every metric starts from.

    Its foreign keys are not database constraints: millions of rows are rewritten at a time,
    and checking each against three tables at commit doubled a full run. The rows are derived
    from events, which do carry the constraints; deletes still cascade through the ORM."""

    id = models.BigAutoField(primary_key=True)
    community = models.ForeignKey(
        Community,
        verbose_name=_("community"),
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    member = models.ForeignKey(
        Member,
        verbose_name=_("member"),
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    group = models.ForeignKey(
        Group, verbose_name=_("group"), on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    day = models.DateField(_("day"))
    messages = models.PositiveIntegerField(_("messages"), default=0)
    replies = models.PositiveIntegerField(_("replies"), default=0)
    reactions = models.PositiveIntegerField(_("reactions"), default=0)
    check_ins = models.PositiveIntegerField(_("check-ins"), default=0)
    visits = models.PositiveIntegerField(_("visits"), default=0)
    joins = models.PositiveIntegerField(_("joins"), default=0)
    leaves = models.PositiveIntegerField(_("leaves"), default=0)
    invites = models.PositiveIntegerField(_("invitations"), default=0)
    purchases = models.PositiveIntegerField(_("purchases"), default=0)
    clicks = models.PositiveIntegerField(_("clicks"), default=0)
    opens = models.PositiveIntegerField(_("opens"), default=0)
    events = models.PositiveIntegerField(_("events"), default=0)
    value = models.DecimalField(_("value"), max_digits=14, decimal_places=2, default=0)
    last_at = models.DateTimeField(_("last event"))
    last_message_at = models.DateTimeField(_("last message"), null=True, blank=True)
    last_visit_at = models.DateTimeField(_("last visit"), null=True, blank=True)

    class Meta:
        verbose_name = _("member day")
        verbose_name_plural = _("member days")
        constraints = [models.UniqueConstraint(fields=["member", "group", "day"], name="member_day_unique")]
        indexes = [
            models.Index(fields=["community", "day"], name="member_day_community_day"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id}@{self.group_id} {self.day}"


class GroupDay(models.Model):
    """A group's numbers for one local day. Rates are fractions (0.25 is 25%); a rate with no
    members to divide by is empty, not zero."""

    id = models.BigAutoField(primary_key=True)
    community = models.ForeignKey(
        Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="+", db_index=False
    )
    group = models.ForeignKey(
        Group, verbose_name=_("group"), on_delete=models.CASCADE, related_name="+", db_index=False
    )
    day = models.DateField(_("day"))
    members = models.PositiveIntegerField(_("members"), default=0)
    joins = models.PositiveIntegerField(_("joins"), default=0)
    leaves = models.PositiveIntegerField(_("leaves"), default=0)
    active_members = models.PositiveIntegerField(_("active members"), default=0)
    speakers = models.PositiveIntegerField(_("members who posted"), default=0)
    interactors = models.PositiveIntegerField(_("members who replied or reacted"), default=0)
    messages = models.PositiveIntegerField(_("messages"), default=0)
    dau_rate = models.FloatField(_("DAU rate (日活)"), null=True, blank=True)
    speaking_rate_day = models.FloatField(_("speaking rate, day (发言率)"), null=True, blank=True)
    speaking_rate_week = models.FloatField(_("speaking rate, week"), null=True, blank=True)
    speaking_rate_month = models.FloatField(_("speaking rate, month"), null=True, blank=True)
    messages_per_member = models.FloatField(_("messages per member"), null=True, blank=True)
    quit_rate_week = models.FloatField(_("quit rate, week (退群率)"), null=True, blank=True)
    quit_rate_month = models.FloatField(_("quit rate, month"), null=True, blank=True)
    interaction_rate = models.FloatField(_("interaction rate"), null=True, blank=True)
    unanswered_questions = models.PositiveIntegerField(_("unanswered questions"), null=True, blank=True)
    grade = models.CharField(_("health grade"), max_length=1, blank=True)
    failed_checks = models.JSONField(_("checks failed"), default=list, blank=True)

    class Meta:
        verbose_name = _("group day")
        verbose_name_plural = _("group days")
        constraints = [models.UniqueConstraint(fields=["group", "day"], name="group_day_unique")]
        indexes = [models.Index(fields=["community", "day"], name="group_day_community_day")]

    def __str__(self) -> str:
        return f"{self.group_id} {self.day}"


class CommunityDay(models.Model):
    """The whole community's numbers for one local day, plus the member states and segments
    as they stood when that day was the latest one computed."""

    community = models.ForeignKey(
        Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="+", db_index=False
    )
    day = models.DateField(_("day"))
    members = models.PositiveIntegerField(_("members"), default=0)
    joins = models.PositiveIntegerField(_("joins"), default=0)
    leaves = models.PositiveIntegerField(_("leaves"), default=0)
    active_members = models.PositiveIntegerField(_("active members"), default=0)
    speakers = models.PositiveIntegerField(_("members who posted"), default=0)
    messages = models.PositiveIntegerField(_("messages"), default=0)
    dau_rate = models.FloatField(_("DAU rate"), null=True, blank=True)
    speaking_rate_week = models.FloatField(_("speaking rate, week"), null=True, blank=True)
    speaking_rate_month = models.FloatField(_("speaking rate, month"), null=True, blank=True)
    messages_per_member = models.FloatField(_("messages per member"), null=True, blank=True)
    quit_rate_month = models.FloatField(_("quit rate, month"), null=True, blank=True)
    states = models.JSONField(_("members by state"), default=dict, blank=True)
    segments = models.JSONField(_("members by segment"), default=dict, blank=True)

    class Meta:
        verbose_name = _("community day")
        verbose_name_plural = _("community days")
        constraints = [models.UniqueConstraint(fields=["community", "day"], name="community_day_unique")]

    def __str__(self) -> str:
        return f"{self.community_id} {self.day}"


class MemberState(models.TextChoices):
    ACTIVE = "active", pgettext_lazy("member state", "Active")
    OCCASIONAL = "occasional", _("Occasional")
    LURKER = "lurker", _("Lurker (潜水)")
    FREELOADER = "freeloader", _("Freeloader (薅羊毛)")
    SILENT = "silent", _("Silent (沉默)")
    CHURNED = "churned", _("Churned (流失)")


class Segment(models.TextChoices):
    HIGH_VALUE = "high_value", _("High value")
    POTENTIAL = "potential", _("Potential")
    SILENT = "silent", _("Silent")
    LOST = "lost", _("Lost")


class RiskBand(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")


class MemberMetric(models.Model):
    """Where a member stands as of ``day``: recency, counts, state, RFM and churn risk."""

    member = models.OneToOneField(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, primary_key=True, related_name="metric"
    )
    community = models.ForeignKey(
        Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="+", db_index=False
    )
    day = models.DateField(_("as of"))
    last_message_at = models.DateTimeField(_("last message"), null=True, blank=True)
    last_visit_at = models.DateTimeField(_("last visit"), null=True, blank=True)
    last_active_at = models.DateTimeField(_("last activity"), null=True, blank=True)
    active_days = models.PositiveIntegerField(_("active days, 90 days"), default=0)
    messages_7d = models.PositiveIntegerField(_("messages, 7 days"), default=0)
    messages_30d = models.PositiveIntegerField(_("messages, 30 days"), default=0)
    messages_90d = models.PositiveIntegerField(_("messages, 90 days"), default=0)
    interactions_14d = models.PositiveIntegerField(_("interactions, last 14 days"), default=0)
    interactions_prior_14d = models.PositiveIntegerField(_("interactions, the 14 days before"), default=0)
    decay = models.FloatField(
        _("interaction decay"),
        null=True,
        blank=True,
        help_text=_("1 − last 14 days ÷ the 14 before: 0 is steady, 1 stopped, negative growing."),
    )
    state = models.CharField(_("state"), max_length=16, choices=MemberState.choices)
    recency_score = models.PositiveSmallIntegerField(_("R"), default=1)
    frequency_score = models.PositiveSmallIntegerField(_("F"), default=1)
    monetary_score = models.PositiveSmallIntegerField(_("M"), default=1)
    segment = models.CharField(_("segment"), max_length=16, choices=Segment.choices)
    p_alive = models.FloatField(_("probability still engaged"), null=True, blank=True)
    churn_probability = models.FloatField(_("churn probability"), null=True, blank=True)
    risk_band = models.CharField(_("risk"), max_length=8, choices=RiskBand.choices, blank=True)
    computed_at = models.DateTimeField(_("computed"), default=timezone.now)

    class Meta:
        verbose_name = _("member metric")
        verbose_name_plural = _("member metrics")
        indexes = [
            models.Index(fields=["community", "state"], name="member_metric_state"),
            models.Index(fields=["community", "segment"], name="member_metric_segment"),
            models.Index(fields=["community", "risk_band"], name="member_metric_risk"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.state}"


class ChurnModel(models.Model):
    """The BG/NBD fit for one community on one day, with how well it was calibrated on a
    holdout: fitted on the history up to ``horizon_days`` ago, checked on what happened since."""

    community = models.ForeignKey(
        Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="+", db_index=False
    )
    day = models.DateField(_("day"))
    params = models.JSONField(_("parameters"), default=dict)
    members = models.PositiveIntegerField(_("members fitted"), default=0)
    horizon_days = models.PositiveSmallIntegerField(_("horizon, days"), default=30)
    calibration = models.JSONField(_("calibration"), default=dict, blank=True)
    error = models.TextField(_("why there is no fit"), blank=True)
    created_at = models.DateTimeField(_("computed"), default=timezone.now)

    class Meta:
        verbose_name = _("churn model")
        verbose_name_plural = _("churn models")
        constraints = [models.UniqueConstraint(fields=["community", "day"], name="churn_model_unique_day")]

    def __str__(self) -> str:
        return f"{self.community_id} {self.day}"


class AlertKind(models.TextChoices):
    GROUP_BELOW_THRESHOLD = "group_health", _("Group below a health threshold")
    UNANSWERED_QUESTIONS = "unanswered", _("Unanswered questions")
    SILENT_AND_LEFT = "silent_left", _("Silent for 7 days and left")
    LOW_ACTIVITY = "low_activity", _("Fewer than 3 messages in two weeks")


class AlertStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("alert", "Open")
    RESOLVED = "resolved", _("Resolved")
    DISMISSED = "dismissed", _("Dismissed")


class Alert(models.Model):
    """A warning for the admins of a group. One open alert per (kind, subject): the engine
    refreshes it while the condition holds and resolves it when the condition ends."""

    community = models.ForeignKey(
        Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="+", db_index=False
    )
    kind = models.CharField(_("kind"), max_length=16, choices=AlertKind.choices)
    group = models.ForeignKey(Group, verbose_name=_("group"), on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    subject = models.CharField(_("subject"), max_length=64)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    first_day = models.DateField(_("first seen"))
    last_day = models.DateField(_("last seen"))
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("dismissed by"), on_delete=models.SET_NULL, null=True, blank=True
    )

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ["-last_day", "kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["community", "kind", "subject"], condition=Q(status="open"), name="alert_one_open_per_subject"
            ),
        ]
        indexes = [models.Index(fields=["community", "status"], name="alert_community_status")]

    def __str__(self) -> str:
        return f"{self.kind}: {self.subject}"


class HealthReport(models.Model):
    """The weekly community health report (周报), generated by beat for the week that ended."""

    community = models.ForeignKey(
        Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="+", db_index=False
    )
    week_start = models.DateField(_("week starting"))
    data = models.JSONField(_("data"), default=dict)
    created_at = models.DateTimeField(_("generated"), default=timezone.now)

    class Meta:
        verbose_name = _("health report")
        verbose_name_plural = _("health reports")
        ordering = ["-week_start"]
        constraints = [models.UniqueConstraint(fields=["community", "week_start"], name="health_report_unique_week")]

    def __str__(self) -> str:
        return f"{self.community_id} {self.week_start}"


def _percent(minimum: float = 0.0, maximum: float = 1.0):
    return [MinValueValidator(minimum), MaxValueValidator(maximum)]


class AnalyticsSettings(models.Model):
    """A community's thresholds: member states, segments, churn risk and health grades.
    Defaults come from SPEC.md's sources."""

    community = models.OneToOneField(
        Community,
        verbose_name=_("community"),
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="analytics_settings",
    )
    active_messages_per_week = models.PositiveSmallIntegerField(
        _("active: messages a week"), default=3, validators=[MinValueValidator(1)]
    )
    silent_days = models.PositiveSmallIntegerField(
        _("silent after days without a message"), default=30, validators=[MinValueValidator(1)]
    )
    churned_days = models.PositiveSmallIntegerField(
        _("churned after days without a visit"), default=90, validators=[MinValueValidator(2)]
    )
    high_value_days = models.PositiveSmallIntegerField(
        _("high value: active within days"), default=7, validators=[MinValueValidator(1)]
    )
    high_value_messages_per_day = models.FloatField(
        _("high value: messages a day"), default=3.0, validators=[MinValueValidator(0.1)]
    )
    churn_horizon_days = models.PositiveSmallIntegerField(
        _("churn: no activity within days"),
        default=30,
        validators=[MinValueValidator(7), MaxValueValidator(90)],
    )
    risk_medium = models.FloatField(_("medium risk from"), default=0.5, validators=_percent())
    risk_high = models.FloatField(_("high risk from"), default=0.8, validators=_percent())
    speaking_rate_week_min = models.FloatField(_("speaking rate, week, at least"), default=0.20, validators=_percent())
    speaking_rate_month_min = models.FloatField(
        _("speaking rate, month, at least"), default=0.40, validators=_percent()
    )
    messages_per_member_min = models.FloatField(
        _("messages per member a day, at least"), default=0.8, validators=[MinValueValidator(0)]
    )
    interaction_rate_min = models.FloatField(_("interaction rate, at least"), default=0.15, validators=_percent())
    quit_rate_week_max = models.FloatField(_("quit rate, week, below"), default=0.15, validators=_percent())
    quit_rate_month_max = models.FloatField(_("quit rate, month, at most"), default=0.05, validators=_percent())
    unanswered_questions_max = models.PositiveSmallIntegerField(
        _("alert at unanswered questions"), default=5, validators=[MinValueValidator(1)]
    )
    unanswered_after_hours = models.PositiveSmallIntegerField(
        _("a question is unanswered after hours"), default=24, validators=[MinValueValidator(1)]
    )
    keep_message_text = models.BooleanField(
        _("keep message texts"),
        default=False,
        help_text=_("Off: only a message's length and hash are stored."),
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("analytics settings")
        verbose_name_plural = _("analytics settings")
        constraints = [
            models.CheckConstraint(condition=Q(risk_medium__lt=models.F("risk_high")), name="risk_bands_ordered"),
            models.CheckConstraint(condition=Q(silent_days__lt=models.F("churned_days")), name="silent_before_churned"),
        ]

    def __str__(self) -> str:
        return str(self.community)


class ImportKind(models.TextChoices):
    CHAT_LOG = "chat_log", _("Chat log")
    MEMBERS = "members", _("Member list")


class ImportStatus(models.TextChoices):
    PREVIEW = "preview", _("Waiting for confirmation")
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class ImportJob(models.Model):
    """An uploaded CSV or XLSX export, its column mapping and how far its import has got."""

    community = models.ForeignKey(Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="+")
    group = models.ForeignKey(
        Group,
        verbose_name=_("default group"),
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("For rows that name no group."),
    )
    kind = models.CharField(_("kind"), max_length=16, choices=ImportKind.choices)
    filename = models.CharField(_("file"), max_length=200)
    content = models.BinaryField(_("content"))
    mapping = models.JSONField(_("column mapping"), default=dict, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=ImportStatus.choices, default=ImportStatus.PREVIEW)
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    processed_rows = models.PositiveIntegerField(_("rows done"), default=0)
    accepted = models.PositiveIntegerField(pgettext_lazy("import", "accepted"), default=0)
    duplicates = models.PositiveIntegerField(_("duplicates"), default=0)
    rejected = models.PositiveIntegerField(_("rejected"), default=0)
    errors = models.JSONField(_("row errors"), default=list, blank=True)
    message = models.TextField(_("message"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("uploaded by"), on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(_("uploaded"), default=timezone.now)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.filename

    @property
    def progress(self) -> int:
        """Percent done, 0–100."""
        if not self.total_rows:
            return 100 if self.status == ImportStatus.DONE else 0
        return min(100, round(100 * self.processed_rows / self.total_rows))
