"""Models of fission (裂变): referrals and their checks, campaigns with invite tasks.

A referral is the verdict on one membership that came through a member's personal invitation
link (``Membership.invited_by``): credited (the inviter brought a new person) or rejected, with
the reason. The fission coefficient (裂变系数) is read from the credited ones."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import LiveCode, Member, Membership
from subgroups.models import Community, Group

BENCHMARK_COEFFICIENT = 2.8  # a good fission coefficient, per the source articles


class ReferralStatus(models.TextChoices):
    CREDITED = "credited", _("Credited")
    REJECTED = "rejected", _("Rejected")


class RejectReason(models.TextChoices):
    SELF_INVITE = "self_invite", _("Invited themselves")
    DUPLICATE_CONTACT = "duplicate_contact", _("Contact already in the community")
    ALREADY_MEMBER = "already_member", _("Already a member")


class MatchedOn(models.TextChoices):
    MEMBER = "member", _("Same member")
    PHONE = "phone", _("Phone")
    EMAIL = "email", _("E-mail")
    HANDLE = "handle", _("Platform account")


class Referral(models.Model):
    """One referred membership (邀请记录) and its verdict. One per membership; one credited
    referral per invitee and community, ever: a person is brought in once."""

    community = models.ForeignKey(Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="+")
    inviter = models.ForeignKey(
        Member, verbose_name=_("inviter"), on_delete=models.CASCADE, related_name="referrals_made"
    )
    invitee = models.ForeignKey(
        Member, verbose_name=_("invitee"), on_delete=models.CASCADE, related_name="referrals_received"
    )
    membership = models.OneToOneField(
        Membership, verbose_name=_("membership"), on_delete=models.CASCADE, related_name="referral"
    )
    group = models.ForeignKey(Group, verbose_name=_("group joined"), on_delete=models.CASCADE, related_name="+")
    live_code = models.ForeignKey(
        LiveCode, verbose_name=_("live code"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    campaign = models.ForeignKey(
        "fission.Campaign",
        verbose_name=_("campaign"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="referrals",
    )
    status = models.CharField(_("status"), max_length=16, choices=ReferralStatus.choices)
    reason = models.CharField(_("reason"), max_length=24, choices=RejectReason.choices, blank=True)
    matched_on = models.CharField(_("matched on"), max_length=16, choices=MatchedOn.choices, blank=True)
    matched_member = models.ForeignKey(
        Member,
        verbose_name=_("matched member"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("The inviter, or the earlier member whose contact the invitee shares."),
    )
    joined_at = models.DateTimeField(_("joined"), help_text=_("When the invitee joined through the referral."))
    created_at = models.DateTimeField(_("checked"), default=timezone.now)

    class Meta:
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        ordering = ["-joined_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["community", "invitee"],
                condition=Q(status="credited"),
                name="referral_one_credit_per_invitee",
            ),
            models.CheckConstraint(
                condition=(Q(status="credited") & Q(reason="")) | (Q(status="rejected") & ~Q(reason="")),
                name="referral_rejection_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["community", "status", "joined_at"], name="referral_community_time"),
            models.Index(fields=["inviter", "status"], name="referral_inviter"),
            models.Index(fields=["campaign", "status", "inviter"], name="referral_campaign"),
        ]

    def __str__(self) -> str:
        return f"{self.inviter} → {self.invitee} ({self.get_status_display()})"


class Campaign(models.Model):
    """An invitation campaign (裂变活动) with an invite task: bring ``goal_invites`` new members
    within the window (into ``group``'s subtree, or anywhere) and unlock the reward, e.g.
    邀请3位好友解锁《豆瓣高分书单》."""

    community = models.ForeignKey(
        Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="fission_campaigns"
    )
    name = models.CharField(_("name"), max_length=100)
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    group = models.ForeignKey(
        Group,
        verbose_name=_("group"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Only joins into this group and the groups below it count; empty for the whole community."),
    )
    goal_invites = models.PositiveSmallIntegerField(_("friends to invite"), default=3)
    reward_text = models.CharField(_("reward"), max_length=200, help_text=_("What the task unlocks, e.g. a book list."))
    reward_points = models.PositiveIntegerField(_("reward points"), default=0)
    reward_url = models.URLField(_("reward link"), max_length=500, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("invitation campaign")
        verbose_name_plural = _("invitation campaigns")
        ordering = ["-starts_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="campaign_ends_after_start"),
            models.CheckConstraint(condition=Q(goal_invites__gte=1), name="campaign_goal_positive"),
        ]

    def __str__(self) -> str:
        return self.name

    def is_running(self, now=None) -> bool:
        now = now or timezone.now()
        return self.is_active and self.starts_at <= now < self.ends_at


class InviteTaskCompletion(models.Model):
    """A member reached a campaign's goal (任务完成): once per member and campaign."""

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="completions"
    )
    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="invite_task_completions"
    )
    invites = models.PositiveSmallIntegerField(_("friends joined"), default=0)
    completed_at = models.DateTimeField(_("completed"), default=timezone.now)

    class Meta:
        verbose_name = _("invite task completion")
        verbose_name_plural = _("invite task completions")
        ordering = ["-completed_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "member"], name="invite_task_once_per_member"),
        ]

    def __str__(self) -> str:
        return f"{self.member} · {self.campaign}"
