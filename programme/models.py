"""Models of the admin programme (管理员培养): peer-recognition rounds, their nominations and votes.

Online hours, assessments and the rotation are computed from analytics and written to
``members`` (``AdminAssessment``, roles); only the vote itself needs tables of its own.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import Member
from subgroups.models import Community, Group


class RoundStatus(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")


class VotingRound(models.Model):
    """A peer-recognition vote on a group's admin candidates (同伴认可投票). On creation it
    nominates the subtree's members who were online at least ``threshold_hours`` a week on
    average over the last four complete weeks; members of the subtree then approve or not, and
    a nominee with at least ``min_votes`` votes of which ``threshold_recognition`` approve is
    qualified to be appointed admin."""

    community = models.ForeignKey(Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="+")
    group = models.ForeignKey(Group, verbose_name=_("group"), on_delete=models.CASCADE, related_name="voting_rounds")
    month = models.DateField(_("month"), help_text=_("The first day of the month the round is for."))
    opens_at = models.DateTimeField(_("opens"), default=timezone.now)
    closes_at = models.DateTimeField(_("closes"))
    threshold_hours = models.FloatField(
        _("online hours a week, at least"),
        default=15,
        validators=[MinValueValidator(0), MaxValueValidator(168)],
    )
    threshold_recognition = models.FloatField(
        _("peer recognition, at least"),
        default=0.8,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text=_("The share of votes that approve, 0–1."),
    )
    min_votes = models.PositiveSmallIntegerField(
        _("votes needed, at least"), default=5, validators=[MinValueValidator(1), MaxValueValidator(1000)]
    )
    status = models.CharField(_("status"), max_length=16, choices=RoundStatus.choices, default=RoundStatus.OPEN)
    note = models.CharField(_("note"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    class Meta:
        verbose_name = _("voting round")
        verbose_name_plural = _("voting rounds")
        ordering = ["-opens_at", "-pk"]
        constraints = [
            # One open round per group: two at once would split the votes.
            models.UniqueConstraint(fields=["group"], condition=Q(status="open"), name="voting_round_one_open"),
            models.CheckConstraint(condition=Q(closes_at__gt=F("opens_at")), name="voting_round_closes_after_opening"),
            models.CheckConstraint(
                condition=Q(threshold_hours__gte=0, threshold_hours__lte=168)
                & Q(threshold_recognition__gte=0, threshold_recognition__lte=1)
                & Q(min_votes__gte=1),
                name="voting_round_thresholds_bounded",
            ),
            models.CheckConstraint(
                condition=(Q(status="closed") & Q(closed_at__isnull=False))
                | (~Q(status="closed") & Q(closed_at__isnull=True)),
                name="voting_round_closed_has_time",
            ),
        ]
        indexes = [models.Index(fields=["community", "status"], name="voting_round_status")]

    def __str__(self) -> str:
        return f"{self.group} · {self.month:%Y-%m}"

    def accepts_votes(self, now=None) -> bool:
        now = now or timezone.now()
        return self.status == RoundStatus.OPEN and self.opens_at <= now < self.closes_at


class Nomination(models.Model):
    """A member put up for admin in a round, with the online hours that qualified them."""

    round = models.ForeignKey(
        VotingRound, verbose_name=_("voting round"), on_delete=models.CASCADE, related_name="nominations"
    )
    member = models.ForeignKey(Member, verbose_name=_("nominee"), on_delete=models.CASCADE, related_name="+")
    online_hours = models.FloatField(_("online hours a week"), help_text=_("Average over the last 4 complete weeks."))
    appointed_at = models.DateTimeField(_("appointed"), null=True, blank=True)
    appointed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("appointed by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("nomination")
        verbose_name_plural = _("nominations")
        ordering = ["-online_hours", "pk"]
        constraints = [models.UniqueConstraint(fields=["round", "member"], name="nomination_once_per_round")]

    def __str__(self) -> str:
        return f"{self.member} · {self.round}"


class PeerVote(models.Model):
    """One member's view of one nominee: approve or not yet. A voter may change it while the
    round is open; the unique pair keeps one vote however often (or however fast) they click."""

    round = models.ForeignKey(VotingRound, verbose_name=_("voting round"), on_delete=models.CASCADE, related_name="+")
    nominee = models.ForeignKey(Nomination, verbose_name=_("nominee"), on_delete=models.CASCADE, related_name="votes")
    voter = models.ForeignKey(Member, verbose_name=_("voter"), on_delete=models.CASCADE, related_name="+")
    approve = models.BooleanField(_("approves"))
    at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        verbose_name = _("peer vote")
        verbose_name_plural = _("peer votes")
        ordering = ["-at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["nominee", "voter"], name="peer_vote_once_per_voter")]

    def __str__(self) -> str:
        return f"{self.voter} → {self.nominee.member_id}: {'+' if self.approve else '–'}"
