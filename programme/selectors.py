"""Reads of the admin programme, every one set-based over analytics: online hours from events,
the month's activity from the daily rollups, the team's shape, and how a round's votes stand.

Periods are the community's own: a week is an ISO week (Monday to Sunday) and a month a
calendar month of local days, as the events' ``day`` column already records them.
"""

from __future__ import annotations

import calendar
import math
import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncHour, TruncWeek
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from analytics.models import Event, MemberDay
from analytics.services.metrics import local_today
from members.models import Member, Membership, MembershipStatus, Role
from programme.models import Nomination, PeerVote, RoundStatus, VotingRound
from subgroups.models import Community, Group

HOURS_WEEKS = 4  # the average behind a nomination: the last four complete weeks
STAFF_ROLES = (Role.OWNER, Role.CORE_ADMIN, Role.ADMIN, Role.GUIDE)
USER_ADMIN_ROLES = (Role.ADMIN, Role.GUIDE)
HEALTHY_LEADS = 1
HEALTHY_CORE_ADMINS = 3
USER_ADMIN_SHARE = 0.10  # ~10% of members, fine between 5% and 15%
USER_ADMIN_BAND = (0.05, 0.15)
SHAPE_CHECK_KEYS = ("lead", "core", "user_admins")
SHAPE_VERDICTS = ("ok", "under", "over")


# --- Periods and scopes -----------------------------------------------------------------------


def month_start(month: date) -> date:
    return month.replace(day=1)


def next_month(month: date) -> date:
    month = month_start(month)
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def previous_month(month: date) -> date:
    month = month_start(month)
    return (month - timedelta(days=1)).replace(day=1)


def month_days(month: date) -> tuple[date, date]:
    """The local days of the month: first day, and the first day after it."""
    return month_start(month), next_month(month)


def month_bounds(community: Community, month: date) -> tuple[datetime, datetime]:
    """The month as moments: local midnight on its first day to local midnight after its last."""
    zone = zoneinfo.ZoneInfo(community.time_zone)
    first, after = month_days(month)
    return datetime.combine(first, time(), tzinfo=zone), datetime.combine(after, time(), tzinfo=zone)


def month_last_day(month: date) -> date:
    return month_start(month).replace(day=calendar.monthrange(month.year, month.month)[1])


def complete_weeks(community: Community, weeks: int = HOURS_WEEKS, *, today: date | None = None) -> list[date]:
    """The Mondays of the last ``weeks`` complete ISO weeks before this one, oldest first."""
    today = today or local_today(community)
    this_monday = today - timedelta(days=today.weekday())
    return [this_monday - timedelta(weeks=back) for back in range(weeks, 0, -1)]


def subtree(group: Group) -> QuerySet[Group]:
    """The group and every group below it."""
    return Group.objects.filter(
        community_id=group.community_id, tree_id=group.tree_id, lft__gte=group.lft, rght__lte=group.rght
    )


def covering(group: Group) -> QuerySet[Group]:
    """The group and every group above it: whose roles cover it."""
    return Group.objects.filter(
        community_id=group.community_id, tree_id=group.tree_id, lft__lte=group.lft, rght__gte=group.rght
    )


def subtree_members(group: Group) -> QuerySet[Member]:
    """Members with an active membership in the group or below it."""
    return Member.objects.filter(
        pk__in=Membership.objects.filter(group__in=subtree(group), status=MembershipStatus.ACTIVE).values("member_id")
    )


def is_active_in_subtree(member: Member, group: Group) -> bool:
    return Membership.objects.filter(member=member, group__in=subtree(group), status=MembershipStatus.ACTIVE).exists()


def serving(group: Group) -> QuerySet[Membership]:
    """Staff roles that serve the group: held on it, above it or below it."""
    return Membership.objects.filter(
        Q(group__in=subtree(group)) | Q(group__in=covering(group)),
        status=MembershipStatus.ACTIVE,
        role__in=STAFF_ROLES,
    )


# --- Online hours -----------------------------------------------------------------------------


def online_hours_by_week(
    *, community: Community, start: date, end: date, members: QuerySet | list[int] | None = None
) -> dict[int, dict[date, int]]:
    """Online hours per member and ISO week, for the local days ``start`` ≤ day < ``end``.

    A member is online in a clock hour (community local time) when any event of theirs falls
    in it: a visit, a message, a reaction, a check-in… being seen at all means being there.
    One grouped query: the distinct local hours of each (member, week), never one per member.
    Events anywhere in the community count: being online is not a property of one group."""
    zone = zoneinfo.ZoneInfo(community.time_zone)
    events = Event.objects.filter(community=community, day__gte=start, day__lt=end)
    if members is not None:
        events = events.filter(member_id__in=members)
    rows = (
        events.order_by()
        .values("member_id", week=TruncWeek("day"))
        .annotate(hours=Count(TruncHour("occurred_at", tzinfo=zone), distinct=True))
        .values_list("member_id", "week", "hours")
    )
    result: dict[int, dict[date, int]] = {}
    for member_id, week, hours in rows:
        if isinstance(week, datetime):
            week = week.date()
        result.setdefault(member_id, {})[week] = hours
    return result


def online_hours_in(*, community: Community, start: date, end: date, members: QuerySet | list[int]) -> dict[int, int]:
    """Distinct local clock hours with any event per member over a span of local days."""
    zone = zoneinfo.ZoneInfo(community.time_zone)
    return dict(
        Event.objects.filter(community=community, day__gte=start, day__lt=end, member_id__in=members)
        .order_by()
        .values("member_id")
        .annotate(hours=Count(TruncHour("occurred_at", tzinfo=zone), distinct=True))
        .values_list("member_id", "hours")
    )


@dataclass
class HoursRow:
    member: Member
    weeks: list[int]
    average: float
    is_staff: bool = False

    @property
    def member_id(self) -> int:
        return self.member.pk


def weekly_online_hours(
    *,
    group: Group,
    weeks: int = HOURS_WEEKS,
    today: date | None = None,
    limit: int | None = None,
    min_average: float = 0,
) -> tuple[list[date], list[HoursRow]]:
    """For the members of the group's subtree who were online at all (and at least
    ``min_average`` hours a week): their online hours in each of the last ``weeks`` complete
    weeks and the average (weeks without an event count as 0), highest average first. Returns
    the weeks' Mondays and the rows."""
    community = group.community
    mondays = complete_weeks(community, weeks, today=today)
    start, end = mondays[0], mondays[-1] + timedelta(weeks=1)
    members: QuerySet | list[int] = subtree_members(group).values("pk")
    if min_average > 0:
        # A member has no more online hours than events: a cheap count (no local-hour
        # arithmetic per event) leaves out everyone who cannot reach the average.
        needed = math.ceil(min_average * len(mondays) - 1e-9)
        members = list(
            Event.objects.filter(community=community, day__gte=start, day__lt=end, member_id__in=members)
            .order_by()
            .values("member_id")
            .annotate(events=Count("pk"))
            .filter(events__gte=needed)
            .values_list("member_id", flat=True)
        )
    by_week = online_hours_by_week(community=community, start=start, end=end, members=members)
    averages = {
        member_id: sum(hours.values()) / len(mondays)
        for member_id, hours in by_week.items()
        if sum(hours.values()) and sum(hours.values()) / len(mondays) >= min_average
    }
    ranked = sorted(averages, key=lambda member_id: -averages[member_id])
    if limit is not None:
        ranked = ranked[:limit]
    members = Member.objects.in_bulk(ranked)
    staff = set(serving(group).values_list("member_id", flat=True))  # a team: a handful of rows
    rows = [
        HoursRow(
            member=members[member_id],
            weeks=[by_week[member_id].get(monday, 0) for monday in mondays],
            average=round(averages[member_id], 2),
            is_staff=member_id in staff,
        )
        for member_id in ranked
    ]
    rows.sort(key=lambda row: (-row.average, row.member.display_name, row.member.pk))
    return mondays, rows


def candidates(*, group: Group, threshold_hours: float = 15, today: date | None = None) -> list[HoursRow]:
    """Members of the subtree who would be nominated now: online at least ``threshold_hours``
    a week on average over the last four complete weeks, and holding no role that serves the
    group (owner, core admin, admin or guide on it, above it or below it)."""
    _weeks, rows = weekly_online_hours(group=group, today=today, min_average=threshold_hours)
    return [row for row in rows if row.average >= threshold_hours and not row.is_staff]


# --- The month's activity ----------------------------------------------------------------------


@dataclass
class ActivityRow:
    member: Member
    messages: int
    replies: int

    @property
    def total(self) -> int:
        return self.messages + self.replies


def posting_in_month(*, group: Group, month: date, members: QuerySet | list[int]) -> dict[int, tuple[int, int]]:
    """Messages and replies per member in the group's subtree over the month, from the daily
    rollups: ``{member id: (messages, replies)}``."""
    first, after = month_days(month)
    rows = (
        MemberDay.objects.filter(
            community_id=group.community_id,
            group__in=subtree(group),
            day__gte=first,
            day__lt=after,
            member_id__in=members,
        )
        .order_by()
        .values("member_id")
        .annotate(messages=Sum("messages"), replies=Sum("replies"))
        .values_list("member_id", "messages", "replies")
    )
    return {member_id: (messages or 0, replies or 0) for member_id, messages, replies in rows}


def rotation_preview(*, group: Group, month: date) -> list[ActivityRow]:
    """The group's plain members ranked by messages + replies in the group's subtree that month
    (the daily rollups), most first; ties by name, as ``guides_rotate`` breaks them. Only
    members of the group itself with no role can be rotated in, and only those who posted."""
    plain = Membership.objects.filter(group=group, status=MembershipStatus.ACTIVE, role=Role.MEMBER).values("member_id")
    counts = posting_in_month(group=group, month=month, members=plain)
    members = Member.objects.in_bulk([member_id for member_id, pair in counts.items() if sum(pair)])
    rows = [ActivityRow(member, *counts[member_id]) for member_id, member in members.items()]
    rows.sort(key=lambda row: (-row.total, row.member.display_name, row.member.pk))
    return rows


# --- The team's shape -------------------------------------------------------------------------


@dataclass
class ShapeCheck:
    key: str
    label: str
    have: int
    target: int
    verdict: str  # ok | under | over
    sentence: str
    low: int = 0
    high: int = 0


@dataclass
class TeamShape:
    group: Group
    members: int
    checks: list[ShapeCheck] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return all(check.verdict == "ok" for check in self.checks)


def team_shape(*, group: Group) -> TeamShape:
    """The healthy team (source 004): 1 lead + 3 core admins + user admins for ~10% of members.

    - lead: owners whose role covers the group (on it or above it; for the hub, the
      community's owners), against 1;
    - core admins covering the group, against 3;
    - user admins: admins and guides on the group or below it, against 10% of the members
      with an active membership in the subtree, fine anywhere from 5% to 15%.
    Each check says ok, under or over, with the numbers needed to get there."""
    above = covering(group)
    leads = _distinct_members(Membership.objects.filter(group__in=above, role=Role.OWNER))
    cores = _distinct_members(Membership.objects.filter(group__in=above, role=Role.CORE_ADMIN))
    user_admins = _distinct_members(Membership.objects.filter(group__in=subtree(group), role__in=USER_ADMIN_ROLES))
    members = subtree_members(group).count()
    shape = TeamShape(group=group, members=members)
    shape.checks.append(_lead_check(leads))
    shape.checks.append(_core_check(cores))
    shape.checks.append(_user_admin_check(user_admins, members))
    return shape


def _distinct_members(memberships: QuerySet[Membership]) -> int:
    return memberships.filter(status=MembershipStatus.ACTIVE).values("member_id").distinct().count()


def _lead_check(have: int) -> ShapeCheck:
    label = _("Lead (owner)")
    if have == HEALTHY_LEADS:
        return ShapeCheck("lead", label, have, 1, "ok", _("One lead: as it should be."), 1, 1)
    if have < HEALTHY_LEADS:
        return ShapeCheck("lead", label, have, 1, "under", _("No lead: name 1 owner."), 1, 1)
    extra = have - HEALTHY_LEADS
    sentence = ngettext(
        "%(have)d leads where 1 is clearer: %(extra)d owner more than needed.",
        "%(have)d leads where 1 is clearer: %(extra)d owners more than needed.",
        extra,
    ) % {"have": have, "extra": extra}
    return ShapeCheck("lead", label, have, 1, "over", sentence, 1, 1)


def _core_check(have: int) -> ShapeCheck:
    label = _("Core admins")
    target = HEALTHY_CORE_ADMINS
    if have == target:
        return ShapeCheck("core", label, have, target, "ok", _("3 core admins: as it should be."), target, target)
    if have < target:
        missing = target - have
        sentence = ngettext("%(count)d more core admin needed.", "%(count)d more core admins needed.", missing) % {
            "count": missing
        }
        return ShapeCheck("core", label, have, target, "under", sentence, target, target)
    extra = have - target
    sentence = ngettext(
        "%(count)d core admin more than the 3 of a healthy team.",
        "%(count)d core admins more than the 3 of a healthy team.",
        extra,
    ) % {"count": extra}
    return ShapeCheck("core", label, have, target, "over", sentence, target, target)


def _user_admin_check(have: int, members: int) -> ShapeCheck:
    label = _("User admins (admins and guides)")
    target = round(members * USER_ADMIN_SHARE)
    low, high = round(members * USER_ADMIN_BAND[0]), round(members * USER_ADMIN_BAND[1])
    if members == 0:
        return ShapeCheck("user_admins", label, have, 0, "ok", _("No members yet."), 0, 0)
    share = have / members
    figures = {"have": have, "members": members, "share": round(100 * share)}
    if USER_ADMIN_BAND[0] <= share <= USER_ADMIN_BAND[1]:
        sentence = _("%(have)d user admins for %(members)d members (%(share)d%%): within 5–15%%.") % figures
        return ShapeCheck("user_admins", label, have, target, "ok", sentence, low, high)
    if share < USER_ADMIN_BAND[0]:
        missing = max(target - have, 1)
        sentence = ngettext(
            "%(have)d user admins for %(members)d members (%(share)d%%): about %(count)d more user admin.",
            "%(have)d user admins for %(members)d members (%(share)d%%): about %(count)d more user admins.",
            missing,
        ) % {**figures, "count": missing}
        return ShapeCheck("user_admins", label, have, target, "under", sentence, low, high)
    extra = max(have - target, 1)
    sentence = ngettext(
        "%(have)d user admins for %(members)d members (%(share)d%%): about %(count)d fewer would do.",
        "%(have)d user admins for %(members)d members (%(share)d%%): about %(count)d fewer would do.",
        extra,
    ) % {**figures, "count": extra}
    return ShapeCheck("user_admins", label, have, target, "over", sentence, low, high)


# --- Rounds -----------------------------------------------------------------------------------


@dataclass
class NomineeResult:
    nomination: Nomination
    votes: int
    approvals: int
    min_votes: int
    threshold: float

    @property
    def recognition(self) -> float | None:
        """Approvals ÷ votes (None before the first vote)."""
        return self.approvals / self.votes if self.votes else None

    @property
    def qualified(self) -> bool:
        return (
            self.votes >= self.min_votes and self.recognition is not None and self.recognition >= self.threshold - 1e-9
        )

    @property
    def why_not(self) -> str:
        """Why the nominee is not (yet) qualified, in the operator's words."""
        if self.votes < self.min_votes:
            return _("%(votes)d of the %(needed)d votes needed.") % {"votes": self.votes, "needed": self.min_votes}
        if not self.qualified:
            return _("Recognition %(have)d%% is below the %(needed)d%% needed.") % {
                "have": round(100 * (self.recognition or 0)),
                "needed": round(100 * self.threshold),
            }
        return ""


def round_results(voting_round: VotingRound) -> list[NomineeResult]:
    """Every nominee with their votes, approvals and recognition, in one grouped query."""
    nominations = (
        Nomination.objects.filter(round=voting_round)
        .select_related("member")
        .annotate(vote_count=Count("votes"), approval_count=Count("votes", filter=Q(votes__approve=True)))
        .order_by("-online_hours", "member__display_name", "pk")
    )
    results = [
        NomineeResult(
            nomination=nomination,
            votes=nomination.vote_count,
            approvals=nomination.approval_count,
            min_votes=voting_round.min_votes,
            threshold=voting_round.threshold_recognition,
        )
        for nomination in nominations
    ]
    results.sort(key=lambda result: (not result.qualified, -(result.recognition or 0), -result.votes))
    return results


def nominee_result(nomination: Nomination) -> NomineeResult:
    votes = PeerVote.objects.filter(nominee=nomination).aggregate(
        votes=Count("pk"), approvals=Count("pk", filter=Q(approve=True))
    )
    voting_round = nomination.round
    return NomineeResult(
        nomination=nomination,
        votes=votes["votes"],
        approvals=votes["approvals"],
        min_votes=voting_round.min_votes,
        threshold=voting_round.threshold_recognition,
    )


def rounds_for_group(group: Group) -> QuerySet[VotingRound]:
    return VotingRound.objects.filter(group=group).select_related("group").order_by("-opens_at", "-pk")


def open_rounds_for_voter(member: Member) -> QuerySet[VotingRound]:
    """Open rounds the member may vote in: on a group they are in, or above one."""
    groups = Group.objects.filter(
        pk__in=Membership.objects.filter(member=member, status=MembershipStatus.ACTIVE).values("group_id")
    ).only("community_id", "tree_id", "lft", "rght")
    above = Q(pk__in=[])
    for group in groups:
        above |= Q(group__tree_id=group.tree_id, group__lft__lte=group.lft, group__rght__gte=group.rght)
    return (
        VotingRound.objects.filter(above, community_id=member.community_id, status=RoundStatus.OPEN)
        .select_related("group")
        .order_by("closes_at", "pk")
    )
