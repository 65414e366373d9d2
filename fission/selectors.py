"""Fission's reads: the fission coefficient (裂变系数 = new members brought in ÷ members who
invited them) per group (rolled up over each subtree), per live code, per campaign and for the
community, its weekly trend, the top inviters, the rejected referrals and a member's own
progress. Every figure comes from credited referrals in grouped queries, never one per group,
and is scoped to the groups the user may see."""

from __future__ import annotations

import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Min, Q, QuerySet
from django.db.models.functions import TruncWeek
from django.utils import timezone

from fission.models import (
    BENCHMARK_COEFFICIENT,
    Campaign,
    InviteTaskCompletion,
    Referral,
    ReferralStatus,
)
from members.models import LiveCode, Member, Membership
from members.permissions import groups_where
from subgroups.access import Capability
from subgroups.models import Community, Group

PERIODS = {"30": 30, "90": 90, "365": 365, "all": None}
DEFAULT_PERIOD = "90"
CREDITED = Q(status=ReferralStatus.CREDITED)
REJECTED = Q(status=ReferralStatus.REJECTED)


def visible_groups(user, community: Community) -> QuerySet[Group]:
    return groups_where(user, Capability.VIEW).filter(community=community)


def referrals_for(user, community: Community) -> QuerySet[Referral]:
    """The referrals into groups the user may see."""
    return Referral.objects.filter(community=community, group__in=visible_groups(user, community))


def period_start(period: str, now: datetime | None = None) -> datetime | None:
    days = PERIODS.get(period, PERIODS[DEFAULT_PERIOD])
    return None if days is None else (now or timezone.now()) - timedelta(days=days)


def in_period(referrals: QuerySet[Referral], since: datetime | None) -> QuerySet[Referral]:
    return referrals if since is None else referrals.filter(joined_at__gte=since)


def coefficient(new_members: int, inviters: int) -> float | None:
    return round(new_members / inviters, 2) if inviters else None


def _figures(new_members: int, inviters: int, rejected: int = 0) -> dict:
    checked = new_members + rejected
    return {
        "new_members": new_members,
        "inviters": inviters,
        "coefficient": coefficient(new_members, inviters),
        "rejected": rejected,
        "rejected_share": rejected / checked if checked else None,
    }


def _counts() -> dict:
    return {
        "new": Count("pk", filter=CREDITED),
        "inviters": Count("inviter_id", filter=CREDITED, distinct=True),
        "rejected_count": Count("pk", filter=REJECTED),
    }


def totals(referrals: QuerySet[Referral]) -> dict:
    """The community-wide (or, for a subtree admin, their subtree's) figures."""
    row = referrals.aggregate(**_counts())
    return _figures(row["new"], row["inviters"], row["rejected_count"])


# --- Per group, rolled up over subtrees ---------------------------------------------------------


@dataclass
class _Tally:
    new_members: int = 0
    rejected: int = 0
    inviters: set[int] = field(default_factory=set)


def by_group(referrals: QuerySet[Referral], groups: QuerySet[Group]) -> list[dict]:
    """One row per group in tree order: its own figures (invitees who joined that group) and
    its subtree's (a parent's figure rolls up everything below it; an inviter who brought
    people into two sub-groups counts once in their parent). One grouped query of
    (group, inviter) pairs; the roll-up walks each pair's ancestors in memory."""
    groups = list(groups.order_by("tree_id", "lft").only("name", "parent_id", "level", "tree_id", "lft", "rght"))
    parents = {group.pk: group.parent_id for group in groups}
    own: dict[int, _Tally] = defaultdict(_Tally)
    subtree: dict[int, _Tally] = defaultdict(_Tally)
    pairs = (
        referrals.order_by()
        .values("group_id", "inviter_id")
        .annotate(new=Count("pk", filter=CREDITED), rejected_count=Count("pk", filter=REJECTED))
    )
    for pair in pairs:
        group_id = pair["group_id"]
        own[group_id].new_members += pair["new"]
        own[group_id].rejected += pair["rejected_count"]
        if pair["new"]:
            own[group_id].inviters.add(pair["inviter_id"])
        node = group_id
        while node is not None:
            tally = subtree[node]
            tally.new_members += pair["new"]
            tally.rejected += pair["rejected_count"]
            if pair["new"]:
                tally.inviters.add(pair["inviter_id"])
            node = parents.get(node)
    rows = []
    for group in groups:
        mine, below = own[group.pk], subtree[group.pk]
        rows.append(
            {
                "group": group,
                "depth": group.level,
                "own": _figures(mine.new_members, len(mine.inviters), mine.rejected),
                **_figures(below.new_members, len(below.inviters), below.rejected),
            }
        )
    return rows


def group_chart(rows: list[dict]) -> dict:
    """Coefficient per sub-group (its subtree) against the 2.8 benchmark, for groups that have any."""
    shown = [row for row in rows if row["coefficient"] is not None and row["depth"] > 0]
    return {
        "labels": [row["group"].name for row in shown],
        "coefficients": [row["coefficient"] for row in shown],
        "benchmark": BENCHMARK_COEFFICIENT,
    }


# --- Per live code and per campaign -------------------------------------------------------------


def by_live_code(referrals: QuerySet[Referral]) -> list[dict]:
    rows = list(referrals.filter(live_code__isnull=False).order_by().values("live_code_id").annotate(**_counts()))
    codes = LiveCode.objects.in_bulk([row["live_code_id"] for row in rows])
    result = [
        {"live_code": codes[row["live_code_id"]], **_figures(row["new"], row["inviters"], row["rejected_count"])}
        for row in rows
        if row["live_code_id"] in codes
    ]
    return sorted(result, key=lambda row: (-row["new_members"], row["live_code"].name))


def by_campaign(referrals: QuerySet[Referral], community: Community) -> list[dict]:
    """Every campaign of the community, newest first, with its figures and completions."""
    counts = {
        row["campaign_id"]: row
        for row in referrals.filter(campaign__isnull=False).order_by().values("campaign_id").annotate(**_counts())
    }
    completions = dict(
        InviteTaskCompletion.objects.filter(campaign__community=community)
        .order_by()
        .values("campaign_id")
        .annotate(n=Count("pk"))
        .values_list("campaign_id", "n")
    )
    rows = []
    for campaign in Campaign.objects.filter(community=community).select_related("group").order_by("-starts_at", "pk"):
        row = counts.get(campaign.pk, {"new": 0, "inviters": 0, "rejected_count": 0})
        rows.append(
            {
                "campaign": campaign,
                "completions": completions.get(campaign.pk, 0),
                **_figures(row["new"], row["inviters"], row["rejected_count"]),
            }
        )
    return rows


# --- Over time, people --------------------------------------------------------------------------


def weekly(referrals: QuerySet[Referral], community: Community) -> list[dict]:
    """Week by week (weeks start on Monday in the community's time zone): that week's new
    members, inviters and coefficient, and the coefficient to date (everyone brought in since
    the period began ÷ everyone who brought someone), which settles as the weeks add up. Two
    grouped queries: per week, and each inviter's first credited join."""
    zone = zoneinfo.ZoneInfo(community.time_zone)
    credited = referrals.filter(CREDITED).order_by()
    rows = (
        credited.annotate(week=TruncWeek("joined_at", tzinfo=zone))
        .values("week")
        .annotate(new=Count("pk"), inviters=Count("inviter_id", distinct=True))
        .order_by("week")
    )
    first_weeks: dict = defaultdict(int)
    for first in credited.values("inviter_id").annotate(first=Min("joined_at")).values_list("first", flat=True):
        day = first.astimezone(zone).date()
        first_weeks[day - timedelta(days=day.weekday())] += 1
    result, new_to_date, inviters_to_date = [], 0, 0
    for row in rows:
        week = row["week"].date() if isinstance(row["week"], datetime) else row["week"]
        new_to_date += row["new"]
        inviters_to_date += first_weeks.get(week, 0)
        result.append(
            {
                "week": week,
                **_figures(row["new"], row["inviters"]),
                "new_members_to_date": new_to_date,
                "inviters_to_date": inviters_to_date,
                "coefficient_to_date": coefficient(new_to_date, inviters_to_date),
            }
        )
    return result


def weekly_chart(rows: list[dict], *, labels: tuple[str, str, str] = ("to date", "that week", "benchmark")) -> dict:
    return {
        "labels": [row["week"].isoformat() for row in rows],
        "datasets": [
            {"label": labels[0], "data": [row["coefficient_to_date"] for row in rows]},
            {"label": labels[1], "data": [row["coefficient"] for row in rows]},
            {"label": labels[2], "data": [BENCHMARK_COEFFICIENT for _row in rows]},
        ],
    }


def top_inviters(referrals: QuerySet[Referral], *, limit: int = 10) -> list[dict]:
    rows = list(
        referrals.order_by()
        .values("inviter_id")
        .annotate(new=Count("pk", filter=CREDITED), rejected_count=Count("pk", filter=REJECTED))
        .filter(new__gt=0)
        .order_by("-new", "rejected_count", "inviter_id")[:limit]
    )
    members = Member.objects.only("display_name", "phone", "invite_code").in_bulk([row["inviter_id"] for row in rows])
    return [
        {"member": members[row["inviter_id"]], "new_members": row["new"], "rejected": row["rejected_count"]}
        for row in rows
        if row["inviter_id"] in members
    ]


def rejected(referrals: QuerySet[Referral], *, limit: int = 50) -> QuerySet[Referral]:
    return (
        referrals.filter(REJECTED)
        .select_related("inviter", "invitee", "group", "matched_member")
        .order_by("-joined_at", "-pk")[:limit]
    )


def pending_count(user, community: Community) -> int:
    """Referred joins into the user's groups still waiting for their check."""
    return Membership.objects.filter(
        group__in=visible_groups(user, community), invited_by__community=community, referral__isnull=True
    ).count()


def completions(campaign: Campaign, referrals: QuerySet[Referral]) -> QuerySet[InviteTaskCompletion]:
    """The campaign's completions by inviters whose referrals the user sees."""
    return (
        InviteTaskCompletion.objects.filter(campaign=campaign, member__in=referrals.values("inviter_id"))
        .select_related("member")
        .order_by("completed_at", "pk")
    )


def overview(user, community: Community, *, period: str, now: datetime | None = None) -> dict:
    """Everything the overview page and the coefficients endpoint show."""
    now = now or timezone.now()
    since = period_start(period, now)
    groups = visible_groups(user, community)
    referrals = in_period(referrals_for(user, community), since)
    group_rows = by_group(referrals, groups)
    return {
        "since": since,
        "benchmark": BENCHMARK_COEFFICIENT,
        "total": totals(referrals),
        "groups": group_rows,
        "live_codes": by_live_code(referrals),
        "campaigns": by_campaign(referrals, community),
        "weekly": weekly(referrals, community),
        "referrals": referrals,
    }


# --- A member's own page ------------------------------------------------------------------------


def member_progress(member: Member, *, now: datetime | None = None) -> dict:
    """What the member's invitations page shows: friends credited, joins still being checked,
    and the running campaigns with their progress towards each goal."""
    now = now or timezone.now()
    mine = Referral.objects.filter(inviter=member)
    credited = mine.filter(CREDITED).count()
    waiting = Membership.objects.filter(invited_by=member, referral__isnull=True).count()
    per_campaign = dict(
        mine.filter(CREDITED, campaign__isnull=False)
        .order_by()
        .values("campaign_id")
        .annotate(n=Count("pk"))
        .values_list("campaign_id", "n")
    )
    completed = set(InviteTaskCompletion.objects.filter(member=member).values_list("campaign_id", flat=True))
    campaigns = Campaign.objects.filter(community_id=member.community_id).filter(
        Q(is_active=True, starts_at__lte=now, ends_at__gt=now) | Q(pk__in=completed)
    )
    tasks = []
    for campaign in campaigns.select_related("group").order_by("ends_at", "pk"):
        joined = per_campaign.get(campaign.pk, 0)
        tasks.append(
            {
                "campaign": campaign,
                "joined": joined,
                "goal": campaign.goal_invites,
                "missing": max(campaign.goal_invites - joined, 0),
                "completed": campaign.pk in completed,
                "percent": min(100, round(100 * joined / campaign.goal_invites)),
            }
        )
    return {"credited": credited, "waiting": waiting, "tasks": tasks}
