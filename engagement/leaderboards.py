"""Leaderboards (排行榜): members of a group ranked by the points they earned this week or
month, and sibling groups ranked against each other by health and activity (the source
articles' internal competition between sub-groups, as BetterMe ran it).

Everything is a handful of grouped queries, whatever the size of the group: one for the
points, one for the messages and check-ins, one for the members' names."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Count, QuerySet, Sum
from django.utils.translation import gettext_lazy as _

from analytics.models import GroupDay, MemberDay
from analytics.services.metrics import local_today
from engagement.services.levels import EARNED
from members.models import Member, Membership, MembershipStatus, PointsEntry
from subgroups.models import Community, Group

PERIODS = {"week": _("Week"), "month": _("Month")}
WHICH = {"current": _("This period"), "previous": _("The one before")}
GRADE_SCORE = {"A": 100, "B": 75, "C": 50, "D": 25}


@dataclass(frozen=True)
class Window:
    """A calendar week (Monday to Sunday) or month, in the community's own days."""

    period: str
    first: date
    last: date  # inclusive
    start: datetime
    end: datetime  # exclusive

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def window_for(community: Community, *, period: str = "week", which: str = "current", today: date | None = None):
    if period not in PERIODS or which not in WHICH:
        raise ValueError("unknown period")
    today = today or local_today(community)
    if period == "week":
        first = today - timedelta(days=today.weekday())
        if which == "previous":
            first -= timedelta(days=7)
        last = first + timedelta(days=6)
    else:
        first = today.replace(day=1)
        if which == "previous":
            first = (first - timedelta(days=1)).replace(day=1)
        last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    zone = zoneinfo.ZoneInfo(community.time_zone)
    start = datetime.combine(first, time.min, tzinfo=zone)
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone)
    return Window(period=period, first=first, last=last, start=start, end=end)


@dataclass
class Row:
    member_id: int
    name: str
    points: int = 0
    messages: int = 0
    check_ins: int = 0
    rank: int = 0


def _subtree_ids(group: Group) -> QuerySet:
    return group.get_descendants(include_self=True).values("pk")


def _member_ids(group: Group) -> QuerySet:
    return (
        Membership.objects.filter(group__in=_subtree_ids(group), status=MembershipStatus.ACTIVE)
        .values("member_id")
        .distinct()
    )


def _rank(rows: list, key) -> None:
    """Competition ranking: equal scores share a place, and the next place skips (1, 2, 2, 4)."""
    previous, place = None, 0
    for index, row in enumerate(rows, start=1):
        score = key(row)
        if score != previous:
            place, previous = index, score
        row.rank = place


def member_leaderboard(*, group: Group, window: Window, limit: int = 50) -> list[Row]:
    """The group's members (its whole subtree) by points earned in the window, then messages.
    Spends don't count against a member (a leaderboard rewards earning, not hoarding), and a
    refund of a cancelled redemption is not earning. Members
    who did nothing in the window are left out."""
    members = _member_ids(group)
    points = dict(
        PointsEntry.objects.filter(
            EARNED, member_id__in=members, created_at__gte=window.start, created_at__lt=window.end
        )
        .values("member_id")
        .annotate(total=Sum("amount"))
        .values_list("member_id", "total")
    )
    activity = {
        row["member_id"]: row
        for row in MemberDay.objects.filter(
            group__in=_subtree_ids(group),
            member_id__in=members,
            day__gte=window.first,
            day__lte=window.last,
        )
        .values("member_id")
        .annotate(messages=Sum("messages"), check_ins=Sum("check_ins"))
    }
    ids = {member_id for member_id, total in points.items() if total} | {
        member_id for member_id, row in activity.items() if row["messages"] or row["check_ins"]
    }
    names = dict(Member.objects.filter(pk__in=ids).values_list("pk", "display_name"))
    rows = [
        Row(
            member_id=member_id,
            name=names.get(member_id, ""),
            points=points.get(member_id) or 0,
            messages=(activity.get(member_id) or {}).get("messages") or 0,
            check_ins=(activity.get(member_id) or {}).get("check_ins") or 0,
        )
        for member_id in ids
    ]
    rows.sort(key=lambda row: (-row.points, -row.messages, -row.check_ins, row.name, row.member_id))
    _rank(rows, key=lambda row: (row.points, row.messages))
    return rows[:limit]


@dataclass
class GroupRow:
    group: Group
    members: int
    grade: str = ""
    health: int | None = None
    failed: list = field(default_factory=list)
    speaking_rate_week: float | None = None
    messages_per_member: float | None = None
    dau_rate: float | None = None
    points_per_member: float = 0.0
    check_in_rate: float = 0.0
    health_rank: int = 0
    activity_rank: int = 0
    rank: int = 0


def sibling_groups(group: Group, visible: QuerySet[Group]) -> list[Group]:
    """The groups that compete with ``group``: its siblings, or the hub's children when the
    hub itself is chosen, as far as the viewer may see them."""
    parent_id = group.parent_id if group.parent_id else group.pk
    return list(visible.filter(parent_id=parent_id).exclude(status="archived").order_by("name"))


def sibling_ranking(*, groups: list[Group], window: Window) -> list[GroupRow]:
    """Sibling groups side by side. Health is the grade of their latest computed day (100 for
    A, 25 for D: how many of the health thresholds they meet); activity is messages per
    member over 7 days. The overall rank orders by health, then activity: a group can't win
    by noise alone. Points and check-ins per member in the window are shown beside them."""
    if not groups:
        return []
    community_id = groups[0].community_id
    latest_day = (
        GroupDay.objects.filter(community_id=community_id, group__in=groups)
        .order_by("-day")
        .values_list("day", flat=True)
        .first()
    )
    days = (
        {row.group_id: row for row in GroupDay.objects.filter(group__in=groups, day=latest_day)} if latest_day else {}
    )
    rows: list[GroupRow] = []
    for group in groups:
        day = days.get(group.pk)
        row = GroupRow(group=group, members=group.member_count)
        if day is not None:
            row.grade = day.grade
            row.health = GRADE_SCORE.get(day.grade)
            row.failed = [check.get("metric") for check in day.failed_checks or []]
            row.speaking_rate_week = day.speaking_rate_week
            row.messages_per_member = day.messages_per_member
            row.dau_rate = day.dau_rate
        rows.append(row)
    _window_figures(rows, window)
    by_health = sorted(rows, key=lambda row: -(row.health if row.health is not None else -1))
    _rank(by_health, key=lambda row: row.health)
    for row in by_health:
        row.health_rank = row.rank
    by_activity = sorted(rows, key=lambda row: -(row.messages_per_member or 0))
    _rank(by_activity, key=lambda row: row.messages_per_member or 0)
    for row in by_activity:
        row.activity_rank = row.rank
    rows.sort(
        key=lambda row: (
            -(row.health if row.health is not None else -1),
            -(row.messages_per_member or 0),
            row.group.name,
        )
    )
    _rank(rows, key=lambda row: (row.health, row.messages_per_member or 0))
    return rows


def _window_figures(rows: list[GroupRow], window: Window) -> None:
    """Points earned and check-ins per member in the window, for each group's subtree, in two
    grouped queries over all the groups at once."""
    ranges = [(row.group.tree_id, row.group.lft, row.group.rght, row.group.pk) for row in rows]
    member_groups: dict[int, set[int]] = {}
    memberships = (
        Membership.objects.filter(
            group__community_id=rows[0].group.community_id,
            group__tree_id__in={tree_id for tree_id, *_rest in ranges},
            status=MembershipStatus.ACTIVE,
        )
        .values_list("member_id", "group__tree_id", "group__lft")
        .distinct()
    )
    for member_id, tree_id, lft in memberships:
        for root_tree, root_lft, root_rght, group_pk in ranges:
            if tree_id == root_tree and root_lft <= lft < root_rght:
                member_groups.setdefault(member_id, set()).add(group_pk)
    if not member_groups:
        return
    points = (
        PointsEntry.objects.filter(
            EARNED, member_id__in=list(member_groups), created_at__gte=window.start, created_at__lt=window.end
        )
        .values_list("member_id")
        .annotate(total=Sum("amount"))
    )
    check_ins = (
        MemberDay.objects.filter(
            member_id__in=list(member_groups), day__gte=window.first, day__lte=window.last, check_ins__gt=0
        )
        .values_list("member_id")
        .annotate(days=Count("day", distinct=True))
    )
    totals = {row.group.pk: {"points": 0, "check_ins": 0, "members": 0} for row in rows}
    for groups in member_groups.values():
        for group_pk in groups:
            totals[group_pk]["members"] += 1
    for member_id, total in points:
        for group_pk in member_groups.get(member_id, ()):
            totals[group_pk]["points"] += total or 0
    for member_id, count in check_ins:
        for group_pk in member_groups.get(member_id, ()):
            totals[group_pk]["check_ins"] += count or 0
    for row in rows:
        figures = totals[row.group.pk]
        if figures["members"]:
            row.points_per_member = figures["points"] / figures["members"]
            row.check_in_rate = figures["check_ins"] / (figures["members"] * window.days)


def ranking_has_data(rows: list[GroupRow]) -> bool:
    return any(row.health is not None or row.points_per_member for row in rows)


__all__ = [
    "PERIODS",
    "WHICH",
    "GroupRow",
    "Row",
    "Window",
    "member_leaderboard",
    "ranking_has_data",
    "sibling_groups",
    "sibling_ranking",
    "window_for",
]
