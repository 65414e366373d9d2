"""Reads for the engagement pages and API: members' standing (balance, lifetime, level,
streak), the ledger with a running balance, and the overview's figures. Scoped like the rest
of Canopy: a user sees the members who are or were in a group they may see (everyone, with a
role on the hub), and the check-ins, points and redemptions of those members."""

from __future__ import annotations

import zoneinfo
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from analytics.services.metrics import local_today
from engagement.models import CheckIn, Level, OrganisedEvent, Redemption, RedemptionStatus, RewardItem
from engagement.services import streaks
from engagement.services.levels import (
    EARNED,
    REFUND_REASON,
    SPEND_REASON,
    LevelProgress,
    level_of,
    levels_for,
    lifetime_earned,
)
from members.models import Member, Membership, MembershipStatus, PointsEntry
from members.permissions import can, groups_where
from members.selectors import members_for_user
from members.services.points import points_balance
from subgroups.access import Capability
from subgroups.models import Community, Group

REASONS = {
    "check_in": gettext_lazy("Check-in"),
    "post": gettext_lazy("Published post"),
    "featured_post": gettext_lazy("Featured post"),
    "invite_accepted": gettext_lazy("Invitation accepted"),
    "event_organised": gettext_lazy("Event organised"),
    "streak_bonus": gettext_lazy("Streak reward"),
    SPEND_REASON: gettext_lazy("Redeemed"),
    REFUND_REASON: gettext_lazy("Refund"),
}
STREAK_GOAL = 7
CHART_DAYS = 30


def reason_label(reason: str) -> str:
    return str(REASONS.get(reason, reason))


# --- Scope ---------------------------------------------------------------------------------------


def visible_groups(user, community: Community) -> QuerySet[Group]:
    return groups_where(user, Capability.VIEW).filter(community=community)


def visible_members(user, community: Community) -> QuerySet[Member]:
    return members_for_user(user, community=community)


def sees_everyone(user, community: Community) -> bool:
    return community.hub_id is not None and can(user, Capability.VIEW, community.hub)


def manages_community(user, community: Community) -> bool:
    """Community-wide engagement settings (rules, levels, the shop) need manage-tree on the hub."""
    return community.hub_id is not None and can(user, Capability.MANAGE_TREE, community.hub)


def manages_member(user, member: Member) -> bool:
    """Handing over or cancelling a member's redemption: manage-members on the hub or on a
    group the member is in."""
    community = member.community
    if community.hub_id is not None and can(user, Capability.MANAGE_MEMBERS, community.hub):
        return True
    return Membership.objects.filter(
        member=member,
        status=MembershipStatus.ACTIVE,
        group__in=groups_where(user, Capability.MANAGE_MEMBERS).filter(community=community),
    ).exists()


def _scoped(queryset: QuerySet, user, community: Community, field: str = "member") -> QuerySet:
    queryset = queryset.filter(community=community)
    if sees_everyone(user, community):
        return queryset
    return queryset.filter(**{f"{field}__in": visible_members(user, community).values("pk")})


def checkins_for(user, community: Community) -> QuerySet[CheckIn]:
    return _scoped(CheckIn.objects.all(), user, community)


def entries_for(user, community: Community) -> QuerySet[PointsEntry]:
    return _scoped(PointsEntry.objects.all(), user, community)


def redemptions_for(user, community: Community) -> QuerySet[Redemption]:
    return _scoped(Redemption.objects.select_related("item", "member", "by"), user, community)


def organised_events_for(user, community: Community) -> QuerySet[OrganisedEvent]:
    return OrganisedEvent.objects.filter(community=community, group__in=visible_groups(user, community)).select_related(
        "group", "organiser", "recorded_by"
    )


def rewards(community: Community) -> QuerySet[RewardItem]:
    return RewardItem.objects.filter(community=community).select_related("requires_level").order_by("cost", "pk")


# --- A member's standing --------------------------------------------------------------------------


@dataclass(frozen=True)
class Standing:
    balance: int
    progress: LevelProgress
    streak: streaks.Streak

    @property
    def lifetime(self) -> int:
        return self.progress.lifetime

    @property
    def level(self) -> Level | None:
        return self.progress.level

    @property
    def next_level(self) -> Level | None:
        return self.progress.next_level


def member_standing(member: Member, *, levels: list[Level] | None = None) -> Standing:
    levels = levels if levels is not None else levels_for(community=member.community)
    return Standing(
        balance=points_balance(member=member),
        progress=level_of(levels, lifetime_earned(member=member)),
        streak=streaks.member_streak(member, today=local_today(member.community)),
    )


def standings_for(community: Community, member_ids: list[int]) -> dict[int, Standing]:
    """Many members' standing in four queries, whatever their number."""
    levels = levels_for(community=community)
    entries = PointsEntry.objects.filter(community=community, member_id__in=member_ids).order_by()
    sums = {
        row["member_id"]: row
        for row in entries.values("member_id").annotate(balance=Sum("amount"), lifetime=Sum("amount", filter=EARNED))
    }
    found = streaks.streaks_for(community, today=local_today(community), member_ids=member_ids)
    return {
        member_id: Standing(
            balance=(sums.get(member_id) or {}).get("balance") or 0,
            progress=level_of(levels, (sums.get(member_id) or {}).get("lifetime") or 0),
            streak=found.get(member_id, streaks.Streak()),
        )
        for member_id in member_ids
    }


@dataclass(frozen=True)
class LedgerLine:
    entry: PointsEntry
    label: str
    balance: int


def ledger(member: Member) -> list[LedgerLine]:
    """Every entry of the member's ledger, oldest first, each with the balance after it: the
    last line's balance is the member's balance, and each step can be checked by hand."""
    lines, running = [], 0
    for entry in PointsEntry.objects.filter(member=member).order_by("created_at", "pk"):
        running += entry.amount
        lines.append(LedgerLine(entry=entry, label=reason_label(entry.reason), balance=running))
    return lines


# --- The overview ----------------------------------------------------------------------------------


def _local_start(community: Community, day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zoneinfo.ZoneInfo(community.time_zone))


def overview(user, community: Community) -> dict[str, Any]:
    today = local_today(community)
    check_ins = checkins_for(user, community)
    entries = entries_for(user, community)
    month_start = _local_start(community, today.replace(day=1))
    month = entries.filter(created_at__gte=month_start).aggregate(
        issued=Sum("amount", filter=EARNED),
        spent=Sum("amount", filter=Q(reason=SPEND_REASON)),
        refunded=Sum("amount", filter=Q(reason=REFUND_REASON)),
    )
    redemptions = redemptions_for(user, community)
    recent = redemptions.filter(created_at__gte=month_start).exclude(status=RedemptionStatus.CANCELLED).count()
    first = today - timedelta(days=CHART_DAYS - 1)
    per_day = dict(
        check_ins.filter(day__gte=first)
        .order_by()
        .values("day")
        .annotate(count=Count("pk"))
        .values_list("day", "count")
    )
    days = [first + timedelta(days=offset) for offset in range(CHART_DAYS)]
    visible_ids = (
        None if sees_everyone(user, community) else set(visible_members(user, community).values_list("pk", flat=True))
    )
    found = streaks.streaks_for(community, today=today, member_ids=visible_ids)
    return {
        "today": today,
        "check_ins_today": per_day.get(today, 0),
        "check_ins_week": sum(per_day.get(today - timedelta(days=offset), 0) for offset in range(7)),
        "on_streak": sum(1 for streak in found.values() if streak.current >= STREAK_GOAL),
        "issued": month["issued"] or 0,
        "spent": -(month["spent"] or 0) - (month["refunded"] or 0),
        "redemptions_month": recent,
        "redemptions_pending": redemptions.filter(status=RedemptionStatus.PENDING).count(),
        "chart": {
            "labels": [day.strftime("%m-%d") for day in days],
            "datasets": [{"label": _("Check-ins"), "data": [per_day.get(day, 0) for day in days]}],
        },
    }


def level_distribution(user, community: Community) -> dict[str, Any]:
    """Members per level, for the visible members: one grouped query for lifetime points."""
    levels = levels_for(community=community)
    members = visible_members(user, community).order_by()
    total = members.count()
    earned = (
        entries_for(user, community)
        .filter(EARNED)
        .order_by()
        .values("member_id")
        .annotate(total=Sum("amount"))
        .values_list("total", flat=True)
    )
    counts: Counter = Counter()
    for lifetime in earned:
        progress = level_of(levels, lifetime or 0)
        counts[progress.level.pk if progress.level else None] += 1
    bottom = levels[0].pk if levels else None
    counts[bottom] += max(0, total - sum(counts.values()))
    rows = [{"level": level, "members": counts.get(level.pk, 0)} for level in levels]
    return {
        "rows": rows,
        "chart": {
            "labels": [level.name for level in levels],
            "datasets": [{"label": _("Members"), "data": [row["members"] for row in rows]}],
        },
    }


def managed_member_ids(user, community: Community, member_ids: list[int]) -> set[int]:
    """Which of these members the user may handle redemptions for, in one query."""
    if community.hub_id is not None and can(user, Capability.MANAGE_MEMBERS, community.hub):
        return set(member_ids)
    return set(
        Membership.objects.filter(
            member_id__in=member_ids,
            status=MembershipStatus.ACTIVE,
            group__in=groups_where(user, Capability.MANAGE_MEMBERS).filter(community=community),
        ).values_list("member_id", flat=True)
    )


def members_with_points(user, community: Community, *, search: str = "", sort: str = "name") -> QuerySet[Member]:
    """The visible members with their balance and lifetime points, sortable by either."""
    members = visible_members(user, community)
    if search:
        members = members.filter(display_name__icontains=search)
    entries = PointsEntry.objects.filter(member=OuterRef("pk")).order_by().values("member")
    members = members.annotate(
        balance=Coalesce(Subquery(entries.annotate(total=Sum("amount")).values("total")), 0),
        lifetime=Coalesce(Subquery(entries.filter(EARNED).annotate(total=Sum("amount")).values("total")), 0),
    )
    if sort == "balance":
        return members.order_by("-balance", "display_name", "pk")
    if sort == "lifetime":
        return members.order_by("-lifetime", "display_name", "pk")
    return members.order_by("display_name", "pk")
