"""Engagement in the demo, on top of the generated activity: the sweeps turn the generated
check-in events into check-ins (with their points and streak rewards) and pay for published
and featured posts; levels in Chinese, a few organised events, and a rewards shop whose
redemptions go through ``reward_redeem`` like anyone's, so the pages open full."""

from __future__ import annotations

import random
from datetime import timedelta

from django.db.models import Count, Sum
from django.utils import timezone

from core.errors import ApplicationError
from engagement.models import CheckIn, Redemption, RedemptionStatus
from engagement.services.checkins import local_day
from engagement.services.levels import EARNED, levels_for, levels_save
from engagement.services.organised import organised_event_record
from engagement.services.shop import redemption_cancel, redemption_fulfil, reward_redeem, reward_save
from engagement.services.sweeps import sweeps_run
from members.models import Member, MembershipStatus, PointsEntry
from subgroups.models import Community, Group, GroupStatus

LEVELS = (("新人", 0), ("活跃成员", 100), ("贡献者", 300), ("核心成员", 1000), ("社群之星", 3000))
# (name, description, cost, stock, per member, level index or None, streak days)
SHOP = (
    ("《作文模板大全》", "电子版模板合集，兑换后由管理员私信发送。", 120, 40, 1, None, 0),
    ("线下活动优先券", "下次线下活动优先报名，名额有限。", 200, 8, 1, 1, 0),
    ("专属头衔「打卡达人」", "群昵称前加专属头衔，连续签到 7 天解锁。", 60, None, 1, None, 7),
    ("一对一职业咨询 30 分钟", "与核心成员一对一交流，由运营安排时间。", 500, 3, 1, 2, 0),
    ("社群周边贴纸", "一套 6 张，随下次活动发放。", 40, None, 3, None, 0),
)
_EVENT_TITLES = ("周末线下交流会", "主题分享：我的转型之路", "21 天打卡挑战", "作品互评夜", "新人答疑会", "读书会")
REDEEMERS = 40  # members who try the shop, among those with the most points
FULFILLED = 0.6
CANCELLED = 0.1


def engagement_demo(*, community: Community, rng: random.Random) -> str:
    """Build the community's engagement data; returns a one-line summary."""
    sweep = sweeps_run(community)
    levels = _levels(community)
    events = _organised_events(community, rng)
    items = [
        reward_save(
            community=community,
            name=name,
            description=description,
            cost=cost,
            stock=stock,
            per_member_limit=limit,
            requires_level=levels[level] if level is not None else None,
            requires_streak=streak,
        )
        for name, description, cost, stock, limit, level, streak in SHOP
    ]
    redeemed = _redemptions(community, items, rng)
    points = PointsEntry.objects.filter(EARNED, community=community).aggregate(total=Sum("amount"))["total"]
    return (
        f"engagement: {CheckIn.objects.filter(community=community).count():,} check-ins "
        f"({sweep['streak_bonuses']:,} streak rewards), {sweep['posts']} posts and {sweep['featured']} featured "
        f"paid, {points or 0:,} points issued, {events} organised events, {len(items)} rewards, "
        f"{redeemed} redemptions"
    )


def _levels(community: Community):
    current = levels_for(community=community)
    rows = [
        {"id": level.pk, "name": name, "threshold": threshold}
        for level, (name, threshold) in zip(current, LEVELS, strict=False)
    ]
    rows += [{"name": name, "threshold": threshold} for name, threshold in LEVELS[len(current) :]]
    rows += [{"id": level.pk, "delete": True} for level in current[len(LEVELS) :]]
    return levels_save(community=community, levels=rows)


def _organised_events(community: Community, rng: random.Random) -> int:
    """A few events over the last weeks, run by members who check in a lot, in their groups."""
    groups = list(
        Group.objects.filter(community=community, parent__isnull=False)
        .exclude(status=GroupStatus.ARCHIVED)
        .order_by("pk")
    )
    keen = list(
        CheckIn.objects.filter(community=community)
        .values("member_id")
        .annotate(days=Count("pk"))
        .order_by("-days", "member_id")
        .values_list("member_id", flat=True)[:30]
    )
    if not groups or not keen:
        return 0
    today = local_day(community, timezone.now())
    organisers = {member.pk: member for member in Member.objects.filter(pk__in=keen).prefetch_related("memberships")}
    recorded = 0
    for _ in range(min(6, len(keen))):
        member = organisers[rng.choice(keen)]
        own = [m.group_id for m in member.memberships.all() if m.status == MembershipStatus.ACTIVE]
        candidates = [group for group in groups if group.pk in own] or groups
        try:
            organised_event_record(
                group=rng.choice(candidates),
                organiser=member,
                title=rng.choice(_EVENT_TITLES),
                held_on=today - timedelta(days=rng.randrange(3, 50)),
                attendees=rng.randrange(8, 60),
            )
        except ApplicationError:
            continue
        recorded += 1
    return recorded


def _redemptions(community: Community, items, rng: random.Random) -> int:
    richest = list(
        PointsEntry.objects.filter(community=community)
        .values("member_id")
        .annotate(balance=Sum("amount"))
        .filter(balance__gte=min(item.cost for item in items))
        .order_by("-balance", "member_id")
        .values_list("member_id", flat=True)[:REDEEMERS]
    )
    members = Member.objects.in_bulk(richest)
    made = []
    for member_id in richest:
        for item in rng.sample(items, k=rng.choice((1, 1, 2))):
            try:
                made.append(reward_redeem(member=members[member_id], item=item))
            except ApplicationError:
                continue  # locked, sold out or too dear: a member of the shop's real life
    for redemption in made:
        roll = rng.random()
        if roll < FULFILLED:
            redemption_fulfil(redemption=redemption)
        elif roll < FULFILLED + CANCELLED:
            redemption_cancel(redemption=redemption)
    return Redemption.objects.filter(community=community).exclude(status=RedemptionStatus.CANCELLED).count()
