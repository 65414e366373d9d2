"""Lifecycle's reads, each scoped to a community and to what the user may see: the stage flow,
rules, the history of moves, members' dates, and when the next daily run is."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Case, Count, Exists, IntegerField, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone

from lifecycle.models import LifecycleMove, LifecycleRule, MemberDate
from members.models import Member, Membership, MembershipStatus
from members.permissions import can, groups_where
from subgroups.access import Capability
from subgroups.models import Community, Group, GroupKind, GroupStatus, LifecycleStage

STAGE_ORDER = {stage: position for position, stage in enumerate(LifecycleStage.values)}


def visible_groups(user, community: Community) -> QuerySet[Group]:
    return groups_where(user, Capability.VIEW).filter(community=community)


def manages_rules(user, community: Community) -> bool:
    """Lifecycle rules are community-wide settings: they need the manage-tree capability on the hub."""
    return community.hub_id is not None and can(user, Capability.MANAGE_TREE, community.hub)


def _members_in(groups: QuerySet[Group], community: Community) -> QuerySet[Member]:
    present = Membership.objects.filter(member=OuterRef("pk"), status=MembershipStatus.ACTIVE, group__in=groups)
    return Member.objects.filter(community=community).filter(Exists(present))


def visible_members(user, community: Community) -> QuerySet[Member]:
    return _members_in(visible_groups(user, community), community)


def manageable_members(user, community: Community) -> QuerySet[Member]:
    """Members whose dates the user may set: those in a group where they manage members."""
    return _members_in(groups_where(user, Capability.MANAGE_MEMBERS).filter(community=community), community)


def manages_members(user, community: Community) -> bool:
    return groups_where(user, Capability.MANAGE_MEMBERS).filter(community=community).exists()


def stage_flow(community: Community, groups: QuerySet[Group]) -> list[dict]:
    """The open lifecycle groups in stage order (newcomer → intensive → sprint → alumni), each
    with its members, seats and the active rules that move members on from it."""
    lifecycle = list(
        groups.filter(kind=GroupKind.LIFECYCLE).exclude(status=GroupStatus.ARCHIVED).order_by("tree_id", "lft")
    )
    lifecycle.sort(key=lambda group: STAGE_ORDER.get((group.admission_criteria or {}).get("stage"), len(STAGE_ORDER)))
    rules: dict[int, list[LifecycleRule]] = {}
    for rule in LifecycleRule.objects.filter(community=community, is_active=True).select_related("to_group"):
        rules.setdefault(rule.from_group_id, []).append(rule)
    flow = []
    for group in lifecycle:
        stage = (group.admission_criteria or {}).get("stage", "")
        flow.append(
            {
                "group": group,
                "stage": LifecycleStage(stage).label if stage in LifecycleStage.values else "",
                "rules": rules.get(group.pk, []),
            }
        )
    return flow


def rules_for(community: Community) -> QuerySet[LifecycleRule]:
    return (
        LifecycleRule.objects.filter(community=community)
        .select_related("from_group", "to_group", "created_by")
        .annotate(
            moved=Count("moves", filter=Q(moves__status="moved")),
            failed=Count("moves", filter=Q(moves__status="failed")),
        )
        .order_by("-is_active", "name", "pk")
    )


def moves_for(user, community: Community) -> QuerySet[LifecycleMove]:
    """Moves out of or into a group the user may see, newest first."""
    groups = visible_groups(user, community)
    return (
        LifecycleMove.objects.filter(community=community)
        .filter(Q(from_group__in=groups) | Q(to_group__in=groups))
        .select_related("rule", "member", "from_group", "to_group", "from_membership", "membership")
        .order_by("-at", "-pk")
    )


def dates_for(user, community: Community) -> QuerySet[MemberDate]:
    return (
        MemberDate.objects.filter(community=community, member__in=visible_members(user, community))
        .select_related("member")
        .annotate(
            past=Case(
                When(date__gte=timezone.localdate(), then=Value(0)), default=Value(1), output_field=IntegerField()
            )
        )
        .order_by("past", "date", "member__display_name", "pk")
    )


def next_run_at(now: datetime | None = None) -> datetime | None:
    """When beat starts the next daily run, from the schedule in settings (None when it has none)."""
    now = now or timezone.now()
    entry = settings.CELERY_BEAT_SCHEDULE.get("lifecycle")
    schedule = entry and entry.get("schedule")
    if schedule is None:
        return None
    if hasattr(schedule, "remaining_estimate"):
        at = now + schedule.remaining_estimate(now)
    else:
        try:
            at = now + timedelta(seconds=float(schedule))
        except (TypeError, ValueError):
            return None
    return (at + timedelta(seconds=30)).replace(second=0, microsecond=0)
