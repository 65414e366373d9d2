"""The recall engine: one run per community brings every cycle up to date and plans what is
due. Beat starts a run every few minutes; any number of runs may overlap safely.

Exactly once, by construction:
- a run holds the community's advisory lock, so normally one run works at a time;
- even without it (or across policies), planning locks the member rows of each chunk, and
  the attempt is unique per (member, policy, stage, cycle): a second planner finds the
  attempt already there, and the database refuses a duplicate if it did not look;
- a coupon is claimed with ``FOR UPDATE SKIP LOCKED`` and marked handed out in the same
  transaction as its attempt, so two runs never hand out one code.

Silence is measured from the last engaged event (message, reply, reaction, check-in or
visit) at or before ``now``; never-active members count from when they joined. ``now`` may
lie in the past, which is how the demo replays its history.
"""

from __future__ import annotations

import hashlib
import logging
import zoneinfo
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from analytics.models import ENGAGED_KINDS, Event, MemberMetric
from core.locks import advisory_unlock, try_advisory_lock
from members.models import Member, Membership, MembershipStatus, Role
from recall.models import (
    AttemptStatus,
    Channel,
    Coupon,
    CycleStatus,
    GiftKind,
    OptOut,
    RecallAttempt,
    RecallCycle,
    RecallPolicy,
    RecallStage,
    Variant,
)
from recall.services import exits, outcomes
from recall.services.messages import digest_lines, link, render
from recall.services.outcomes import active_members
from subgroups.models import Community

logger = logging.getLogger(__name__)

CHUNK = 500
CAP_WINDOW = timedelta(days=30)
_LOCK_KEY = 0x5245434C  # "RECL"


def recall_run(*, community: Community, now: datetime | None = None) -> dict:
    """Outcomes first (a member who came back is not messaged again), then planning, then exit
    surveys. Returns counts; ``{"skipped": 1}`` when another run holds the community."""
    now = now or timezone.now()
    if not try_advisory_lock(_LOCK_KEY, community.pk):
        return {"skipped": 1}
    try:
        result: Counter = Counter()
        result.update(outcomes.outcomes_refresh(community=community, now=now))
        for policy in RecallPolicy.objects.filter(community=community, is_active=True):
            result.update(policy_plan(policy=policy, now=now))
        result.update(exits.surveys_open(community=community, now=now))
        return dict(result)
    finally:
        advisory_unlock(_LOCK_KEY, community.pk)


def silence(community: Community, *, now: datetime, before: datetime) -> list[tuple[int, datetime]]:
    """(member, silent since) for the present, opted-in members (not staff) silent since before
    ``before``."""
    last_engaged = (
        Event.objects.filter(member_id=OuterRef("pk"), kind__in=ENGAGED_KINDS, occurred_at__lte=now)
        .order_by("-occurred_at")
        .values("occurred_at")[:1]
    )
    # Owners and admins are the ones who run the community, not members to win back.
    staff = Membership.objects.filter(member=OuterRef("pk"), status=MembershipStatus.ACTIVE).exclude(role=Role.MEMBER)
    return list(
        active_members(community, now)
        .exclude(Exists(OptOut.objects.filter(member=OuterRef("pk"))))
        .exclude(Exists(staff))
        .annotate(since=Coalesce(Subquery(last_engaged), "joined_at", "created_at"))
        .filter(since__lt=before)
        .order_by("pk")
        .values_list("pk", "since")
    )


def _variant(member_id: int, stage: RecallStage) -> str:
    if not stage.template_b:
        return Variant.A
    digest = hashlib.blake2b(f"{member_id}:{stage.pk}".encode(), digest_size=2).digest()
    return Variant.B if digest[0] & 1 else Variant.A


def send_after(policy: RecallPolicy, now: datetime, tz: zoneinfo.ZoneInfo) -> datetime:
    """``now``, or the end of the quiet hours when ``now`` falls inside them."""
    start, end = policy.quiet_start, policy.quiet_end
    if start is None or end is None or start == end:
        return now
    local = now.astimezone(tz)
    clock = local.time().replace(tzinfo=None)
    quiet = (start <= clock < end) if start < end else (clock >= start or clock < end)
    if not quiet:
        return now
    day = local.date() if clock < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=tz).astimezone(UTC)


def policy_plan(*, policy: RecallPolicy, now: datetime) -> Counter:
    """Plan the due stage of every silent member under one policy."""
    community = policy.community
    tz = zoneinfo.ZoneInfo(community.time_zone)
    stages = list(policy.stages.select_related("coupon_pool").order_by("position"))
    result: Counter = Counter()
    if not stages:
        return result
    today = now.astimezone(tz).date()
    # Silent for at least the first stage's days, in whole local days.
    first = min(stage.days_silent for stage in stages)
    before = datetime.combine(today - timedelta(days=first - 1), datetime.min.time(), tzinfo=tz)
    candidates = silence(community, now=now, before=before)
    digests = {
        stage.pk: digest_lines(community, since=now - timedelta(days=stage.days_silent), now=now)
        for stage in stages
        if stage.include_digest
    }
    for offset in range(0, len(candidates), CHUNK):
        result.update(_plan_chunk(policy, stages, candidates[offset : offset + CHUNK], now, tz, digests))
    return result


@transaction.atomic
def _plan_chunk(
    policy: RecallPolicy,
    stages: list[RecallStage],
    chunk: list[tuple[int, datetime]],
    now: datetime,
    tz: zoneinfo.ZoneInfo,
    digests: dict[int, str],
) -> Counter:
    result: Counter = Counter()
    ids = [member_id for member_id, _since in chunk]
    # The member rows are the lock: planners (of any policy) take them in id order, so the cap
    # and the "already planned?" checks below see every committed attempt.
    # Only the name is read: a whole Member row for each of thousands of candidates a day cost the
    # demo's 60-day replay more than the queries did.
    members = dict(
        Member.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", "display_name")
    )
    cycles: dict[int, RecallCycle] = {}
    ended: set[tuple[int, datetime]] = set()  # this silence's cycle already ran its course
    for cycle in RecallCycle.objects.filter(policy=policy, member_id__in=ids).filter(
        Q(status=CycleStatus.OPEN) | Q(silent_since__in={since for _member, since in chunk})
    ):
        if cycle.status == CycleStatus.OPEN:
            cycles[cycle.member_id] = cycle
        else:
            ended.add((cycle.member_id, cycle.silent_since))
    last = {}
    for attempt in (
        RecallAttempt.objects.filter(cycle__in=[cycle.pk for cycle in cycles.values()])
        .select_related("stage")
        .order_by("cycle_id", "-stage__position")
    ):
        last.setdefault(attempt.cycle_id, attempt)
    sent = Counter(
        dict(
            RecallAttempt.objects.filter(member_id__in=ids, scheduled_at__gt=now - CAP_WINDOW, scheduled_at__lte=now)
            .exclude(channel=Channel.PHONE)
            .exclude(status=AttemptStatus.CANCELLED)
            .values_list("member_id")
            .annotate(count=Count("pk"))
            .values_list("member_id", "count")
        )
    )
    metrics = {
        row[0]: row[1:]
        for row in MemberMetric.objects.filter(member_id__in=ids).values_list("member_id", "segment", "risk_band")
    }
    today = now.astimezone(tz).date()
    after = send_after(policy, now, tz)

    plans: list[tuple[int, datetime, RecallStage, int]] = []
    exhausted: list[int] = []
    for member_id, since in chunk:
        if member_id not in members or (member_id, since) in ended:
            continue
        cycle = cycles.get(member_id)
        if cycle is not None and cycle.silent_since != since:
            # Active again since this cycle began, and silent again: the outcome pass closes
            # the old cycle on its next run; a new cycle starts then.
            continue
        previous = last.get(cycle.pk) if cycle else None
        if previous is not None and now < previous.scheduled_at + timedelta(days=previous.stage.wait_days):
            result["waiting"] += 1
            continue
        days = (today - since.astimezone(tz).date()).days
        segment, risk = metrics.get(member_id, ("", ""))
        chosen, pending = None, False
        for stage in stages:
            if stage.position <= (cycle.last_position if cycle else 0):
                continue
            if days < stage.days_silent:
                pending = True
                break
            if (stage.segments and segment not in stage.segments) or (
                stage.risk_bands and risk not in stage.risk_bands
            ):
                continue  # not for this member: the next stage may be
            chosen = stage
            break
        if chosen is None:
            if cycle is not None and not pending:
                exhausted.append(cycle.pk)
            continue
        if chosen.channel != Channel.PHONE:
            if sent[member_id] >= policy.monthly_cap:
                result["capped"] += 1
                continue
            sent[member_id] += 1
        plans.append((member_id, since, chosen, days))

    if exhausted:
        result["exhausted"] += RecallCycle.objects.filter(pk__in=exhausted, status=CycleStatus.OPEN).update(
            status=CycleStatus.EXHAUSTED, ended_at=now
        )
    if not plans:
        return result

    new_cycles = [
        RecallCycle(
            community_id=policy.community_id, policy=policy, member_id=member_id, silent_since=since, started_at=now
        )
        for member_id, since, _stage, _days in plans
        if member_id not in cycles
    ]
    if new_cycles:
        RecallCycle.objects.bulk_create(new_cycles, ignore_conflicts=True)
        since_of = {member_id: since for member_id, since, _stage, _days in plans}
        for cycle in RecallCycle.objects.filter(policy=policy, member_id__in=list(since_of), status=CycleStatus.OPEN):
            if cycle.silent_since == since_of[cycle.member_id]:
                cycles[cycle.member_id] = cycle
        result["cycles_started"] += len(new_cycles)

    coupons = _claim_coupons(plans, now)
    groups = _home_groups([member_id for member_id, *_rest in plans], now)
    attempts = []
    for member_id, _since, stage, days in plans:
        cycle = cycles.get(member_id)
        if cycle is None:
            continue
        coupon = coupons.get((member_id, stage.pk))
        variant = _variant(member_id, stage)
        attempt = RecallAttempt(
            community_id=policy.community_id,
            policy=policy,
            stage=stage,
            cycle=cycle,
            member_id=member_id,
            channel=stage.channel,
            variant=variant,
            scheduled_at=now,
            send_after=now if stage.channel == Channel.PHONE else after,
            group_id=groups.get(member_id),
            gift_points=stage.gift_points if stage.gift_kind == GiftKind.POINTS else 0,
        )
        if stage.gift_kind == GiftKind.COUPON:
            if coupon is None:
                attempt.gift_note = "coupon pool empty"
            else:
                attempt.gift_value = stage.coupon_pool.value
        elif stage.gift_kind == GiftKind.POINTS:
            attempt.gift_value = stage.gift_points * policy.point_value
        template = stage.template_b if variant == Variant.B else stage.template
        attempt.body = render(
            template,
            {
                "name": members[member_id],
                "community": policy.community.name,
                "days": days,
                "coupon": coupon.code if coupon else "",
                "points": stage.gift_points,
                "privilege": stage.privilege,
                "digest": digests.get(stage.pk, ""),
                "link": link(attempt.token),
            },
        )
        attempts.append(attempt)
    # The unique (member, policy, stage, cycle) constraint is the last word: under the member
    # locks it never fires, and if it ever did, the whole chunk rolls back and nothing is lost.
    RecallAttempt.objects.bulk_create(attempts)
    by_key = {(attempt.member_id, attempt.stage_id): attempt for attempt in attempts}
    given = []
    for key, coupon in coupons.items():
        attempt = by_key.get(key)
        if attempt is not None:
            coupon.attempt, coupon.handed_out_at = attempt, now
            given.append(coupon)
    Coupon.objects.bulk_update(given, ["attempt", "handed_out_at"])
    reached: dict[int, list[int]] = defaultdict(list)  # stage position -> cycles that reached it now
    for attempt in attempts:
        reached[attempt.stage.position].append(attempt.cycle_id)
    for position, cycle_ids in reached.items():
        RecallCycle.objects.filter(pk__in=cycle_ids).update(last_position=position)
    result["planned"] += len(attempts)
    result["coupons"] += len(given)
    result["quiet"] += sum(1 for attempt in attempts if attempt.send_after > now)
    return result


def _claim_coupons(plans, now: datetime) -> dict[tuple[int, int], Coupon]:
    wanted: dict[int, list[int]] = defaultdict(list)
    pools = {}
    for member_id, _since, stage, _days in plans:
        if stage.gift_kind == GiftKind.COUPON and stage.coupon_pool_id:
            wanted[stage.pk].append(member_id)
            pools[stage.pk] = stage.coupon_pool_id
    claimed = {}
    for stage_id, member_ids in wanted.items():
        free = list(
            Coupon.objects.select_for_update(skip_locked=True)
            .filter(pool_id=pools[stage_id], handed_out_at__isnull=True, attempt__isnull=True)
            .order_by("pk")[: len(member_ids)]
        )
        for member_id, coupon in zip(member_ids, free, strict=False):
            claimed[(member_id, stage_id)] = coupon
    return claimed


def _home_groups(member_ids: list[int], now: datetime) -> dict[int, int]:
    """Each member's most recently joined open group: where a recall is counted, and the
    first place a private message is tried."""
    homes: dict[int, int] = {}
    for member_id, group_id in (
        Membership.objects.filter(member_id__in=member_ids, joined_at__lte=now)
        .filter(Q(status=MembershipStatus.ACTIVE) | Q(left_at__gt=now))
        .order_by("member_id", "-joined_at", "-pk")
        .values_list("member_id", "group_id")
    ):
        homes.setdefault(member_id, group_id)
    return homes
