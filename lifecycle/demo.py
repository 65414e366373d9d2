"""Lifecycle migration in the demo: the exam-prep community's stages (新手入门群 → 强化复习群 →
冲刺押题群 → 复试调剂群) get two rules, newcomers who joined over the last weeks, members' exam
dates a few months ahead, and two daily runs replayed (a week ago and yesterday), so the history
holds moves and the preview shows who moves next and who follows."""

from __future__ import annotations

import random
import zoneinfo
from datetime import datetime, time, timedelta

from django.db.models import OuterRef, Subquery
from django.utils import timezone

from analytics.services.metrics import local_today
from lifecycle.models import LifecycleMove, LifecycleRule, MemberDate, MoveStatus, TriggerKind
from lifecycle.services.engine import lifecycle_run, rule_due, rule_upcoming
from lifecycle.services.rules import rule_save
from members.models import Membership, MembershipEvent, MembershipStatus, Role
from outbox.models import MessageKind, MessageStatus, OutboundMessage
from subgroups.models import Community, Group, GroupKind, GroupStatus, LifecycleStage

NEWCOMER_DAYS = 30
EXAM_OFFSET = 90
JOINED_WITHIN = 40  # newcomers joined over the last 40 days
DATED_SHARE = 0.4  # of the intensive group's members have told us their exam date
EXAM_IN = (55, 130)  # their exams are this many days ahead
RUNS_AGO = (7, 1)  # the daily runs replayed: a week ago and yesterday
RUN_AT = time(9, 30)

NEWCOMER_NOTICE = "{name}，你在「{from_group}」已满一个月，欢迎进入「{to_group}」，开始强化复习！"
SPRINT_NOTICE = "{name}，离考试（{date}）还有三个月，欢迎加入「{to_group}」冲刺押题，一起上岸！"


def _stages(community: Community) -> dict[str, Group]:
    groups: dict[str, Group] = {}
    for group in (
        Group.objects.filter(community=community, kind=GroupKind.LIFECYCLE)
        .exclude(status=GroupStatus.ARCHIVED)
        .order_by("tree_id", "lft")
    ):
        stage = (group.admission_criteria or {}).get("stage")
        if stage in LifecycleStage.values:
            groups.setdefault(stage, group)
    return groups


def _plain_members(group: Group) -> list[Membership]:
    return list(Membership.objects.filter(group=group, status=MembershipStatus.ACTIVE, role=Role.MEMBER).order_by("pk"))


def _spread_joins(group: Group, rng: random.Random, now: datetime) -> None:
    """Newcomers did not all join today: spread their arrivals over the last weeks."""
    memberships = _plain_members(group)
    for membership in memberships:
        membership.joined_at = now - timedelta(days=rng.randint(0, JOINED_WITHIN), minutes=rng.randint(0, 600))
    Membership.objects.bulk_update(memberships, ["joined_at"], batch_size=500)


def _exam_dates(community: Community, group: Group, rng: random.Random, today) -> int:
    rows = [
        MemberDate(
            community=community,
            member_id=membership.member_id,
            label="exam",
            date=today + timedelta(days=rng.randint(*EXAM_IN)),
        )
        for membership in _plain_members(group)
        if rng.random() < DATED_SHARE
    ]
    MemberDate.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
    return len(rows)


def _rule(community: Community, name: str, **values) -> LifecycleRule:
    existing = LifecycleRule.objects.filter(community=community, name=name).first()
    return existing or rule_save(community=community, name=name, **values)


def _settle(community: Community, at: datetime) -> None:
    """What the run did, dated when it ran (the engine stamps memberships with the real clock),
    and the bot's receipts for its notices."""
    moves = LifecycleMove.objects.filter(community=community, status=MoveStatus.MOVED, at=at)
    joined = moves.filter(membership=OuterRef("pk")).values("at")[:1]
    left = moves.filter(from_membership=OuterRef("pk")).values("at")[:1]
    Membership.objects.filter(pk__in=moves.values("membership_id")).update(joined_at=Subquery(joined))
    Membership.objects.filter(pk__in=moves.values("from_membership_id"), left_at__isnull=False).update(
        left_at=Subquery(left)
    )
    MembershipEvent.objects.filter(membership__in=moves.values("membership_id")).update(at=at)
    MembershipEvent.objects.filter(membership__in=moves.values("from_membership_id")).exclude(
        action=MembershipEvent.Action.JOINED
    ).update(at=at)
    OutboundMessage.objects.filter(
        community=community,
        kind=MessageKind.INVITATION,
        status=MessageStatus.PENDING,
        dedupe_key__startswith="lifecycle:",
    ).update(status=MessageStatus.DELIVERED, delivered_at=at + timedelta(minutes=2))


def lifecycle_demo(*, community: Community, rng: random.Random) -> str:
    """Rules, dates and two replayed runs for a community with lifecycle groups. Returns a line."""
    stages = _stages(community)
    newcomer, intensive, sprint = (stages.get(stage) for stage in ("newcomer", "intensive", "sprint"))
    if not ((newcomer and intensive) or (intensive and sprint)):
        return "lifecycle: no lifecycle groups"
    now = timezone.now()
    today = local_today(community, now)
    rules: list[LifecycleRule] = []
    dated = 0
    if newcomer and intensive:
        _spread_joins(newcomer, rng, now)
        rules.append(
            _rule(
                community,
                "新手 → 强化：入群满30天",
                from_group=newcomer,
                to_group=intensive,
                trigger=TriggerKind.DAYS_IN_GROUP,
                threshold=NEWCOMER_DAYS,
                notice_template=NEWCOMER_NOTICE,
            )
        )
    if intensive and sprint:
        dated = _exam_dates(community, intensive, rng, today)
        rules.append(
            _rule(
                community,
                "强化 → 冲刺：考前90天",
                from_group=intensive,
                to_group=sprint,
                trigger=TriggerKind.MEMBER_DATE,
                date_label="exam",
                offset_days=EXAM_OFFSET,
                notice_template=SPRINT_NOTICE,
            )
        )
    tz = zoneinfo.ZoneInfo(community.time_zone)
    moved = failed = 0
    for days_ago in RUNS_AGO:
        at = datetime.combine(today - timedelta(days=days_ago), RUN_AT, tzinfo=tz)
        result = lifecycle_run(community=community, now=at)
        moved += result.get("moved", 0)
        failed += result.get("failed", 0)
        _settle(community, at)
    due = sum(rule_due(rule, now=now).count() for rule in rules)
    soon = sum(rule_upcoming(rule, today=today, days=30).count() for rule in rules)
    return (
        f"lifecycle: {len(rules)} rules, {moved} members moved ({failed} waiting for room), "
        f"{dated} exam dates, {due} due at the next run, {soon} more in the next 30 days"
    )
