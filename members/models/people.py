from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.json import UnicodeJSONEncoder
from subgroups.models import LANGUAGES, Community, Group, LifecycleStage, Platform


class Member(models.Model):
    """A person in one community (成员), whatever groups they are in."""

    community = models.ForeignKey(
        Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="members"
    )
    display_name = models.CharField(_("name"), max_length=100)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    email = models.EmailField(_("email"), blank=True)
    city = models.CharField(_("city"), max_length=50, blank=True)
    language = models.CharField(
        _("language"),
        max_length=16,
        choices=LANGUAGES,
        blank=True,
        help_text=_("The member's own language, where known (a bot may report it); blank: the community's."),
    )
    purchase_count = models.PositiveIntegerField(
        _("purchases"), default=0, validators=[MaxValueValidator(100_000)], help_text=_("Feeds tier groups.")
    )
    annual_member = models.BooleanField(_("annual member"), default=False)
    lifecycle_stage = models.CharField(_("lifecycle stage"), max_length=16, choices=LifecycleStage.choices, blank=True)
    invite_code = models.CharField(
        _("personal invitation code"),
        max_length=16,
        unique=True,
        null=True,
        blank=True,
        help_text=_("The code in the member's own invitation link (裂变邀请); made when first asked for."),
    )
    tags = models.JSONField(_("tags"), default=list, blank=True, encoder=UnicodeJSONEncoder)
    notes = models.TextField(_("notes"), blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("login"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="canopy_members",
        help_text=_("For operators and admins, who work in the dashboard."),
    )
    joined_at = models.DateTimeField(_("joined"), null=True, blank=True)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        ordering = ["display_name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["community", "user"], condition=Q(user__isnull=False), name="member_one_per_user_and_community"
            ),
            models.CheckConstraint(condition=Q(purchase_count__lte=100_000), name="member_purchases_bounded"),
        ]
        indexes = [
            models.Index(fields=["community", "phone"], name="member_phone"),
            models.Index(fields=["community", "email"], name="member_email"),
            models.Index(fields=["community", "city"], name="member_city"),
        ]

    def __str__(self) -> str:
        return self.display_name


class PlatformHandle(models.Model):
    """A member's account on one platform: WeChat openid, QQ number, Discord id, …"""

    community = models.ForeignKey(Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="handles")
    platform = models.CharField(_("platform"), max_length=16, choices=Platform.choices)
    external_id = models.CharField(_("user id on the platform"), max_length=128)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("platform handle")
        verbose_name_plural = _("platform handles")
        constraints = [
            models.UniqueConstraint(fields=["community", "platform", "external_id"], name="handle_unique_in_community"),
        ]

    def __str__(self) -> str:
        return f"{self.get_platform_display()}: {self.external_id}"


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")  # 群主
    CORE_ADMIN = "core_admin", _("Core admin")  # 核心管理员
    ADMIN = "admin", _("Admin")  # 管理员
    GUIDE = "guide", _("Guide")  # 引导员
    MEMBER = "member", _("Member")


class MembershipStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    LEFT = "left", _("Left")
    REMOVED = "removed", _("Removed")


class MembershipSource(models.TextChoices):
    APPLICATION = "application", _("Application")
    LIVE_CODE = "live_code", _("Live code")
    IMPORT = "import", _("Import")
    INVITE = "invite", _("Invitation")
    MANUAL = "manual", _("Added by an admin")
    PLATFORM = "platform", _("Seen on the platform")
    LIFECYCLE = "lifecycle", _("Moved by a lifecycle rule")


class Membership(models.Model):
    """One member in one group, with a role that covers the group's whole subtree."""

    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="memberships")
    group = models.ForeignKey(Group, verbose_name=_("group"), on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.MEMBER)
    status = models.CharField(
        _("status"), max_length=16, choices=MembershipStatus.choices, default=MembershipStatus.ACTIVE
    )
    source = models.CharField(_("source"), max_length=16, choices=MembershipSource.choices)
    invited_by = models.ForeignKey(
        Member, verbose_name=_("invited by"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    live_code = models.ForeignKey(
        "members.LiveCode",
        verbose_name=_("live code"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="memberships",
    )
    joined_at = models.DateTimeField(_("joined"), default=timezone.now)
    left_at = models.DateTimeField(_("left"), null=True, blank=True)
    role_since = models.DateTimeField(_("role since"), null=True, blank=True)
    role_until = models.DateTimeField(
        _("role until"), null=True, blank=True, help_text=_("The end of an admin term, e.g. a temporary guide's month.")
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        ordering = ["-joined_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["member", "group"],
                condition=Q(status="active"),
                name="membership_one_active_per_group",
            ),
            models.CheckConstraint(
                condition=(Q(status="active") & Q(left_at__isnull=True))
                | (~Q(status="active") & Q(left_at__isnull=False)),
                name="membership_left_has_time",
            ),
        ]
        indexes = [models.Index(fields=["group", "status", "role"], name="membership_group_role")]

    def __str__(self) -> str:
        return f"{self.member} · {self.group} ({self.get_role_display()})"

    @property
    def is_active(self) -> bool:
        return self.status == MembershipStatus.ACTIVE


class MembershipEvent(models.Model):
    """Who changed a membership, when, and why: joins, role changes, departures."""

    class Action(models.TextChoices):
        JOINED = "joined", _("Joined")
        ROLE = "role", _("Role changed")
        LEFT = "left", _("Left")
        REMOVED = "removed", _("Removed")

    membership = models.ForeignKey(
        Membership, verbose_name=_("membership"), on_delete=models.CASCADE, related_name="events"
    )
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    previous_role = models.CharField(_("previous role"), max_length=16, choices=Role.choices, blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        verbose_name = _("membership event")
        verbose_name_plural = _("membership events")
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.membership} · {self.get_action_display()}"


class AdminAssessment(models.Model):
    """An admin's monthly assessment (月度考核): activity and dispute handling, 0–100 each."""

    member = models.ForeignKey(Member, verbose_name=_("admin"), on_delete=models.CASCADE, related_name="assessments")
    group = models.ForeignKey(Group, verbose_name=_("group"), on_delete=models.CASCADE, related_name="+")
    month = models.DateField(_("month"), help_text=_("The first day of the month assessed."))
    activity_score = models.PositiveSmallIntegerField(_("activity"), validators=[MaxValueValidator(100)])
    dispute_score = models.PositiveSmallIntegerField(_("dispute handling"), validators=[MaxValueValidator(100)])
    notes = models.TextField(_("notes"), blank=True)
    assessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("assessed by"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("admin assessment")
        verbose_name_plural = _("admin assessments")
        ordering = ["-month", "member__display_name"]
        constraints = [
            models.UniqueConstraint(fields=["member", "group", "month"], name="assessment_one_per_month"),
            models.CheckConstraint(
                condition=Q(activity_score__lte=100) & Q(dispute_score__lte=100), name="assessment_scores_bounded"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member} · {self.month:%Y-%m}"

    @property
    def total(self) -> int:
        return round((self.activity_score + self.dispute_score) / 2)
