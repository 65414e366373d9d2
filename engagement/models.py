"""Models of engagement: the member's pass (their private link to their own page), the points
rules, check-ins, levels, the rewards shop and organised events. Points themselves live in the
ledger (``members.PointsEntry``): a balance is a sum, never a stored number."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import Member


def _pass_token() -> str:
    return secrets.token_urlsafe(18)


class MemberPass(models.Model):
    """A member's private link (``/me/<token>/``): their points, level, streak and check-in
    button, the shop, their invitation link, the needs survey and peer votes. Whoever holds
    the link acts as the member, like a magic link, so it is long, random and can be reset."""

    member = models.OneToOneField(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="member_pass"
    )
    token = models.CharField(_("link token"), max_length=32, unique=True, default=_pass_token)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("member pass")
        verbose_name_plural = _("member passes")

    def __str__(self) -> str:
        return f"{self.member} · /me/"


class PointsRules(models.Model):
    """How many points each deed earns in a community (积分规则). One row per community, made
    with these defaults on first use; 0 switches a rule off."""

    community = models.OneToOneField(
        "subgroups.Community", verbose_name=_("community"), on_delete=models.CASCADE, related_name="points_rules"
    )
    check_in = models.PositiveIntegerField(_("check-in"), default=5)
    post = models.PositiveIntegerField(_("published post"), default=10)
    featured_post = models.PositiveIntegerField(_("featured post"), default=30)
    invite_accepted = models.PositiveIntegerField(_("invitation accepted"), default=20)
    event_organised = models.PositiveIntegerField(_("event organised"), default=50)
    streak_days = models.PositiveSmallIntegerField(_("streak length"), default=7)
    streak_bonus = models.PositiveIntegerField(_("streak reward"), default=30)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    RULES = ("check_in", "post", "featured_post", "invite_accepted", "event_organised", "streak_bonus")

    class Meta:
        verbose_name = _("points rules")
        verbose_name_plural = _("points rules")

    def __str__(self) -> str:
        return f"{self.community} · {self._meta.verbose_name}"


# --- Check-ins ---------------------------------------------------------------------------------


class CheckInSource(models.TextChoices):
    API = "api", _("API (a bot)")
    PAGE = "page", _("The member's page")
    EVENT = "event", _("Activity event")


class CheckIn(models.Model):
    """One member's check-in (签到) on one of the community's local days: at most one a day,
    however many requests, bots or events say so."""

    community = models.ForeignKey(
        "subgroups.Community", verbose_name=_("community"), on_delete=models.CASCADE, related_name="+"
    )
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="check_ins")
    group = models.ForeignKey(
        "subgroups.Group",
        verbose_name=_("group"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Where the member checked in; their home group when nobody said."),
    )
    day = models.DateField(_("day"), help_text=_("The community's local day."))
    source = models.CharField(_("source"), max_length=8, choices=CheckInSource.choices)
    created_at = models.DateTimeField(_("checked in"), default=timezone.now)

    class Meta:
        verbose_name = _("check-in")
        verbose_name_plural = _("check-ins")
        ordering = ["-day", "-pk"]
        constraints = [models.UniqueConstraint(fields=["member", "day"], name="checkin_one_per_member_day")]
        indexes = [models.Index(fields=["community", "day"], name="checkin_community_day")]

    def __str__(self) -> str:
        return f"{self.member_id} {self.day}"


# --- Levels ------------------------------------------------------------------------------------


class Level(models.Model):
    """A level (等级) a member reaches with the points they have earned in their lifetime:
    spending never demotes anyone."""

    community = models.ForeignKey(
        "subgroups.Community", verbose_name=_("community"), on_delete=models.CASCADE, related_name="+"
    )
    name = models.CharField(_("name"), max_length=50)
    threshold = models.PositiveIntegerField(_("points earned"), help_text=_("Lifetime points needed."))

    class Meta:
        verbose_name = _("level")
        verbose_name_plural = _("levels")
        ordering = ["community_id", "threshold"]
        constraints = [
            models.UniqueConstraint(fields=["community", "threshold"], name="level_unique_threshold"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.threshold})"


# --- The rewards shop ----------------------------------------------------------------------------


class RewardItem(models.Model):
    """Something members buy with points in the rewards shop (积分商城): a template pack, a
    priority ticket for an offline event, a title. Stock and a per-member limit are optional;
    an item can wait behind a level or a streak."""

    community = models.ForeignKey(
        "subgroups.Community", verbose_name=_("community"), on_delete=models.CASCADE, related_name="+"
    )
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True, max_length=2000)
    cost = models.PositiveIntegerField(_("cost in points"))
    stock = models.PositiveIntegerField(_("stock"), null=True, blank=True, help_text=_("Empty: unlimited."))
    per_member_limit = models.PositiveIntegerField(
        _("per member"), null=True, blank=True, help_text=_("How many one member may redeem; empty: no limit.")
    )
    requires_level = models.ForeignKey(
        Level,
        verbose_name=_("level needed"),
        on_delete=models.RESTRICT,
        null=True,
        blank=True,
        related_name="+",
    )
    requires_streak = models.PositiveSmallIntegerField(
        _("streak needed, days"), default=0, help_text=_("Unlocked once the member's best streak is this long.")
    )
    is_active = models.BooleanField(_("on sale"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("reward")
        verbose_name_plural = _("rewards")
        ordering = ["community_id", "cost", "pk"]
        constraints = [models.CheckConstraint(condition=models.Q(cost__gt=0), name="reward_cost_positive")]

    def __str__(self) -> str:
        return self.name


class RedemptionStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be handed over")
    FULFILLED = "fulfilled", _("Handed over")
    CANCELLED = "cancelled", _("Cancelled and refunded")


class Redemption(models.Model):
    """A member spent points on a reward (兑换). The points leave the ledger with the
    redemption and come back if it is cancelled."""

    community = models.ForeignKey(
        "subgroups.Community", verbose_name=_("community"), on_delete=models.CASCADE, related_name="+"
    )
    item = models.ForeignKey(
        RewardItem, verbose_name=_("reward"), on_delete=models.RESTRICT, related_name="redemptions"
    )
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="redemptions")
    cost = models.PositiveIntegerField(_("points spent"))
    status = models.CharField(
        _("status"), max_length=16, choices=RedemptionStatus.choices, default=RedemptionStatus.PENDING
    )
    created_at = models.DateTimeField(_("redeemed"), default=timezone.now)
    fulfilled_at = models.DateTimeField(_("handed over"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("handled by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["community", "status", "created_at"], name="redemption_queue"),
            models.Index(fields=["item", "member", "status"], name="redemption_item_member"),
        ]

    def __str__(self) -> str:
        return f"{self.item} · {self.member}"


# --- Organised events ---------------------------------------------------------------------------


class OrganisedEvent(models.Model):
    """An activity a member organised for a group (组织活动): a meetup, a sharing session, a
    challenge. Recording it pays the organiser the community's points for it, once."""

    community = models.ForeignKey(
        "subgroups.Community", verbose_name=_("community"), on_delete=models.CASCADE, related_name="+"
    )
    group = models.ForeignKey("subgroups.Group", verbose_name=_("group"), on_delete=models.CASCADE, related_name="+")
    organiser = models.ForeignKey(
        Member, verbose_name=_("organiser"), on_delete=models.CASCADE, related_name="organised_events"
    )
    title = models.CharField(_("title"), max_length=200)
    held_on = models.DateField(_("held on"))
    attendees = models.PositiveIntegerField(_("attendees"), default=0)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("recorded"), default=timezone.now)

    class Meta:
        verbose_name = _("organised event")
        verbose_name_plural = _("organised events")
        ordering = ["-held_on", "-pk"]
        indexes = [models.Index(fields=["community", "held_on"], name="organised_event_day")]

    def __str__(self) -> str:
        return self.title
