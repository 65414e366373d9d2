"""Peer-recognition rounds (同伴认可): nominate on online hours, vote, close, appoint.

A candidate (候选管理员) is a member online at least 15 hours a week who at least 80% of the
peers who voted recognise. Both thresholds, and the votes needed, belong to the round.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics.services.metrics import local_today
from core.errors import ApplicationError
from members.models import Member, Membership, MembershipStatus, Role
from members.services.people import role_grant
from programme import selectors
from programme.models import Nomination, PeerVote, RoundStatus, VotingRound
from subgroups.models import Group

MAX_DAYS_OPEN = 60


def _clean_thresholds(threshold_hours, threshold_recognition, min_votes) -> tuple[float, float, int]:
    try:
        hours = float(threshold_hours)
    except (TypeError, ValueError):
        raise ApplicationError(_("Give the online hours as a number."), field="threshold_hours") from None
    if not 0 < hours <= 168:
        raise ApplicationError(_("Online hours a week run from more than 0 to 168."), field="threshold_hours")
    try:
        recognition = float(threshold_recognition)
    except (TypeError, ValueError):
        raise ApplicationError(
            _("Give the recognition as a share from 0 to 1."), field="threshold_recognition"
        ) from None
    if not 0 < recognition <= 1:
        raise ApplicationError(
            _("Recognition is a share of the votes: more than 0, at most 1."), field="threshold_recognition"
        )
    if isinstance(min_votes, bool) or not isinstance(min_votes, int) or not 1 <= min_votes <= 1000:
        raise ApplicationError(_("Votes needed: a whole number from 1 to 1000."), field="min_votes")
    return hours, recognition, min_votes


@transaction.atomic
def round_create(
    *,
    group: Group,
    month: date | None = None,
    days: int = 7,
    threshold_hours: float = 15,
    threshold_recognition: float = 0.8,
    min_votes: int = 5,
    note: str = "",
    by=None,
    now: datetime | None = None,
) -> VotingRound:
    """Open a round on ``group`` for ``days`` days and nominate, in the same transaction, the
    members of its subtree whose average online hours over the last four complete weeks reach
    ``threshold_hours`` and who hold no role serving the group yet. One open round per group."""
    now = now or timezone.now()
    hours, recognition, min_votes = _clean_thresholds(threshold_hours, threshold_recognition, min_votes)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS_OPEN:
        raise ApplicationError(_("A round stays open 1 to 60 days."), field="days")
    if group.is_archived:
        raise ApplicationError(_("“%(group)s” is archived.") % {"group": group.name}, field="group")
    month = selectors.month_start(month or local_today(group.community, now))
    if VotingRound.objects.filter(group=group, status=RoundStatus.OPEN).exists():
        raise ApplicationError(_("This group already has an open round: close it first."), field="group")
    try:
        with transaction.atomic():
            voting_round = VotingRound.objects.create(
                community_id=group.community_id,
                group=group,
                month=month,
                opens_at=now,
                closes_at=now + timedelta(days=days),
                threshold_hours=hours,
                threshold_recognition=recognition,
                min_votes=min_votes,
                note=(note or "").strip()[:300],
                created_by=by if by is not None and getattr(by, "is_authenticated", False) else None,
            )
    except IntegrityError:
        raise ApplicationError(_("This group already has an open round: close it first."), field="group") from None
    today = local_today(group.community, now)
    Nomination.objects.bulk_create(
        Nomination(round=voting_round, member=row.member, online_hours=row.average)
        for row in selectors.candidates(group=group, threshold_hours=hours, today=today)
    )
    return voting_round


def round_close(*, voting_round: VotingRound, now: datetime | None = None) -> VotingRound:
    """No more votes. Closing twice changes nothing."""
    now = now or timezone.now()
    VotingRound.objects.filter(pk=voting_round.pk, status=RoundStatus.OPEN).update(
        status=RoundStatus.CLOSED, closed_at=now
    )
    voting_round.refresh_from_db()
    return voting_round


def rounds_close_due(*, now: datetime | None = None) -> int:
    """Close every open round past its closing time (beat). Returns how many."""
    now = now or timezone.now()
    return VotingRound.objects.filter(status=RoundStatus.OPEN, closes_at__lte=now).update(
        status=RoundStatus.CLOSED, closed_at=now
    )


def vote_cast(
    *, voting_round: VotingRound, nominee: Nomination, voter: Member, approve: bool, now: datetime | None = None
) -> PeerVote:
    """Record ``voter``'s view of ``nominee``. Voters are active members of the round's group or
    a group below it, never the nominee; a voter may change their vote while the round is open.
    One statement (an upsert on the voter and nominee), so a voter clicking many times at once
    still has exactly one vote."""
    now = now or timezone.now()
    if nominee.round_id != voting_round.pk:
        raise ApplicationError(_("That member is not a nominee of this round."), field="nominee")
    if not voting_round.accepts_votes(now):
        raise ApplicationError(_("This round is closed: votes are no longer taken."), field="round")
    if voter.community_id != voting_round.community_id:
        raise ApplicationError(_("Only members of this community vote."), field="voter")
    if voter.pk == nominee.member_id:
        raise ApplicationError(_("Nobody votes for themselves."), field="voter")
    if not selectors.is_active_in_subtree(voter, voting_round.group):
        raise ApplicationError(
            _("Only members of “%(group)s” and its sub-groups vote.") % {"group": voting_round.group.name},
            field="voter",
        )
    PeerVote.objects.bulk_create(
        [PeerVote(round=voting_round, nominee=nominee, voter=voter, approve=bool(approve), at=now)],
        update_conflicts=True,
        unique_fields=["nominee", "voter"],
        update_fields=["approve", "at"],
    )
    return PeerVote.objects.get(nominee=nominee, voter=voter)


@transaction.atomic
def nominee_appoint(*, nomination: Nomination, by=None) -> Membership:
    """Make a qualified nominee an admin of the round's group (the role covers its subtree).
    An unqualified nominee is refused, with the reason. Appointing twice changes nothing."""
    nomination = Nomination.objects.select_for_update().select_related("round__group", "member").get(pk=nomination.pk)
    group = nomination.round.group
    current = Membership.objects.filter(member=nomination.member, group=group, status=MembershipStatus.ACTIVE).first()
    if nomination.appointed_at is not None and current is not None and current.role == Role.ADMIN:
        return current
    result = selectors.nominee_result(nomination)
    if not result.qualified:
        raise ApplicationError(
            _("%(name)s is not qualified: %(why)s") % {"name": nomination.member.display_name, "why": result.why_not},
            field="nominee",
        )
    if current is not None and current.role in (Role.OWNER, Role.CORE_ADMIN, Role.ADMIN):
        raise ApplicationError(
            _("%(name)s is already %(role)s of this group.")
            % {"name": nomination.member.display_name, "role": current.get_role_display().lower()},
            field="nominee",
        )
    membership = role_grant(
        member=nomination.member,
        group=group,
        role=Role.ADMIN,
        by=by,
        reason=_("Peer recognition %(share)d%% of %(votes)d votes, %(hours)s online hours a week")
        % {"share": round(100 * (result.recognition or 0)), "votes": result.votes, "hours": nomination.online_hours},
    )
    nomination.appointed_at = timezone.now()
    nomination.appointed_by = by if by is not None and getattr(by, "is_authenticated", False) else None
    nomination.save(update_fields=["appointed_at", "appointed_by"])
    return membership
