"""The lifecycle engine: one run per community moves every member whose rule has fired. Beat
starts a run daily; operators may start one at any time; runs may overlap safely.

Exactly once, by construction:
- a run holds the community's advisory lock, so normally one run works at a time;
- even without it, each chunk of moves locks the memberships being left (in id order), re-reads
  them, and looks for the rule's earlier moves of them; the move row is unique per (rule, member,
  membership left), so the database refuses a second one if anything ever slipped past;
- the notice's outbox dedupe key is that same triple, so a member hears of a move once.

Days are the community's local days: a rule "90 days before 2026-12-20" fires on the first run
of 2026-09-21 in the community's time zone. Only plain members move: owners, admins and guides
run the groups and stay where they are. A member moved by one rule waits for the next run before
another rule moves them on, so nobody skips a stage in one go.
"""

from __future__ import annotations

import logging
import zoneinfo
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta

from django.db import IntegrityError, transaction
from django.db.models import DateField, Exists, F, IntegerField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from analytics.models import MemberDay
from analytics.services.metrics import local_today
from core.errors import ApplicationError
from core.locks import advisory_unlock, try_advisory_lock
from lifecycle.models import LifecycleMove, LifecycleRule, MemberDate, MoveStatus, TriggerKind
from lifecycle.services.rules import notice_render
from members.models import Member, Membership, MembershipSource, MembershipStatus, PlatformHandle, PointsEntry, Role
from members.services.people import GroupFull, membership_add, membership_end
from outbox.models import MessageKind
from outbox.services import message_enqueue
from subgroups.locale import member_locale
from subgroups.models import Community, Group, LifecycleStage

logger = logging.getLogger(__name__)

_LOCK_KEY = 0x4C494645  # "LIFE"
PREVIEW_LIMIT = 500
CHUNK = 200


@dataclass(frozen=True)
class Candidate:
    """A member the rule moves (or would): the membership they leave and the day it fired."""

    rule_id: int
    membership_id: int
    member_id: int
    member_name: str
    from_group_id: int
    to_group_id: int
    due: date
    date: date  # what {date} reads: the date the trigger counts from, or the day it fired
    fits: bool = True


def _zone(community: Community) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(community.time_zone)


def _start_of(day: date, tz: zoneinfo.ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz)


def _movable(rule: LifecycleRule) -> QuerySet[Membership]:
    """The plain members of the rule's group whom it has not moved on from this stay."""
    moved = LifecycleMove.objects.filter(rule=rule, from_membership=OuterRef("pk"), status=MoveStatus.MOVED)
    return Membership.objects.filter(
        group_id=rule.from_group_id, status=MembershipStatus.ACTIVE, role=Role.MEMBER
    ).exclude(Exists(moved))


def _with_dates(rule: LifecycleRule, memberships: QuerySet[Membership], tz: zoneinfo.ZoneInfo) -> QuerySet[Membership]:
    """Annotate what the trigger reads: ``on``, the date of a date trigger; ``joined_day``, the
    local day a check-in trigger counts from."""
    if rule.trigger == TriggerKind.FIXED_DATE:
        return memberships.annotate(on=Value(rule.anchor_date, DateField()))
    if rule.trigger == TriggerKind.MEMBER_DATE:
        own = MemberDate.objects.filter(member_id=OuterRef("member_id"), label=rule.date_label).values("date")[:1]
        return memberships.annotate(on=Subquery(own, output_field=DateField())).filter(on__isnull=False)
    if rule.trigger == TriggerKind.CHECK_INS:
        return memberships.annotate(joined_day=TruncDate("joined_at", tzinfo=tz))
    return memberships


def rule_due(rule: LifecycleRule, *, now: datetime) -> QuerySet[Membership]:
    """The memberships the rule moves at ``now``, in one query."""
    community = rule.community
    tz = _zone(community)
    today = local_today(community, now)
    memberships = _with_dates(rule, _movable(rule), tz)
    if rule.trigger == TriggerKind.FIXED_DATE:
        if today < rule.anchor_date - timedelta(days=rule.offset_days):
            return memberships.none()
        return memberships
    if rule.trigger == TriggerKind.MEMBER_DATE:
        # date − offset ≤ today
        return memberships.filter(on__lte=today + timedelta(days=rule.offset_days))
    if rule.trigger == TriggerKind.DAYS_IN_GROUP:
        # Whole local days since the day they joined: joined on day d, due on day d + N.
        return memberships.filter(joined_at__lt=_start_of(today - timedelta(days=rule.threshold - 1), tz))
    if rule.trigger == TriggerKind.CHECK_INS:
        check_ins = (
            MemberDay.objects.filter(
                community_id=community.pk,
                member_id=OuterRef("member_id"),
                day__gte=OuterRef("joined_day"),
                day__lte=today,
            )
            .order_by()
            .values("member_id")
            .annotate(total=Sum("check_ins"))
            .values("total")
        )
        return memberships.annotate(progress=Coalesce(Subquery(check_ins, output_field=IntegerField()), 0)).filter(
            progress__gte=rule.threshold
        )
    if rule.trigger == TriggerKind.POINTS:
        earned = (
            PointsEntry.objects.filter(member_id=OuterRef("member_id"), amount__gt=0, created_at__lte=now)
            .order_by()
            .values("member_id")
            .annotate(total=Sum("amount"))
            .values("total")
        )
        return memberships.annotate(progress=Coalesce(Subquery(earned, output_field=IntegerField()), 0)).filter(
            progress__gte=rule.threshold
        )
    return memberships.none()


def rule_upcoming(rule: LifecycleRule, *, today: date, days: int = 30) -> QuerySet[Membership]:
    """The memberships the rule will move in the next ``days`` local days (after today), for the
    triggers whose day is known ahead (dates and days in the group), annotated with ``due``."""
    tz = _zone(rule.community)
    memberships = _with_dates(rule, _movable(rule), tz)
    last = today + timedelta(days=days)
    if rule.trigger == TriggerKind.FIXED_DATE:
        due = rule.anchor_date - timedelta(days=rule.offset_days)
        return memberships if today < due <= last else memberships.none()
    if rule.trigger == TriggerKind.MEMBER_DATE:
        offset = timedelta(days=rule.offset_days)
        return memberships.filter(on__gt=today + offset, on__lte=last + offset).order_by("on", "pk")
    if rule.trigger == TriggerKind.DAYS_IN_GROUP:
        return memberships.filter(
            joined_at__gte=_start_of(today - timedelta(days=rule.threshold - 1), tz),
            joined_at__lt=_start_of(last - timedelta(days=rule.threshold - 1), tz),
        ).order_by("joined_at", "pk")
    return memberships.none()


def _candidates(
    rule: LifecycleRule, memberships: QuerySet[Membership], *, today: date, limit: int | None = None
) -> list[Candidate]:
    if not memberships.query.order_by:
        memberships = memberships.order_by("pk")
    if limit is not None:
        memberships = memberships[:limit]
    rows = memberships.values_list("pk", "member_id", "member__display_name", "joined_at", *_date_fields(rule))
    tz = _zone(rule.community)
    found = []
    for membership_id, member_id, name, joined_at, *dates in rows:
        due, on = _due_and_on(rule, joined_at, dates, today, tz)
        found.append(
            Candidate(
                rule_id=rule.pk,
                membership_id=membership_id,
                member_id=member_id,
                member_name=name,
                from_group_id=rule.from_group_id,
                to_group_id=rule.to_group_id,
                due=due,
                date=on,
            )
        )
    return found


def _date_fields(rule: LifecycleRule) -> tuple[str, ...]:
    return ("on",) if rule.trigger in (TriggerKind.FIXED_DATE, TriggerKind.MEMBER_DATE) else ()


def _due_and_on(rule: LifecycleRule, joined_at: datetime, dates: list, today: date, tz) -> tuple[date, date]:
    if rule.trigger in (TriggerKind.FIXED_DATE, TriggerKind.MEMBER_DATE):
        on = dates[0]
        return max(on - timedelta(days=rule.offset_days), today), on
    if rule.trigger == TriggerKind.DAYS_IN_GROUP:
        due = joined_at.astimezone(tz).date() + timedelta(days=rule.threshold)
        return max(due, today), max(due, today)
    return today, today


def rule_preview(
    rule: LifecycleRule, *, now: datetime | None = None, days: int = 30, limit: int = PREVIEW_LIMIT
) -> dict:
    """Who the rule moves at its next run, and who follows in the next ``days`` days (for the
    triggers whose day is known ahead). ``fits`` is False for those the target has no room for
    now. Lists stop at ``limit``; the counts are whole."""
    now = now or timezone.now()
    today = local_today(rule.community, now)
    due = rule_due(rule, now=now)
    upcoming = rule_upcoming(rule, today=today, days=days)
    due_rows = _candidates(rule, due, today=today, limit=limit)
    room = Group.objects.filter(pk=rule.to_group_id).values_list("capacity", "member_count").first() or (0, 0)
    free = max(room[0] - room[1], 0)
    due_rows = [Candidate(**{**asdict(row), "fits": index < free}) for index, row in enumerate(due_rows)]
    upcoming_rows = _candidates(rule, upcoming, today=today, limit=limit)
    return {
        "due_count": due.count(),
        "due": due_rows,
        "upcoming_count": upcoming.count(),
        "upcoming": upcoming_rows,
        "room": free,
        "today": today,
        "days": days,
    }


# --- Running --------------------------------------------------------------------------------


def lifecycle_run(*, community: Community, now: datetime | None = None, dry_run: bool = False) -> dict:
    """Move every member whose rule has fired, rule by rule (by name). Returns counts, and with
    ``dry_run`` also ``preview``: who would move (nothing is written). ``{"skipped": 1}`` when
    another run holds the community."""
    now = now or timezone.now()
    rules = list(
        LifecycleRule.objects.filter(community=community, is_active=True)
        .select_related("community", "from_group", "to_group")
        .order_by("name", "pk")
    )
    if dry_run:
        return _dry_run(community, rules, now)
    if not try_advisory_lock(_LOCK_KEY, community.pk):
        return {"skipped": 1}
    try:
        result: Counter = Counter()
        moved_now: set[int] = set()
        for rule in rules:
            result["rules"] += 1
            result.update(rule_run(rule=rule, now=now, skip_members=moved_now))
        return dict(result)
    finally:
        advisory_unlock(_LOCK_KEY, community.pk)


def _dry_run(community: Community, rules: list[LifecycleRule], now: datetime) -> dict:
    today = local_today(community, now)
    groups = Group.objects.filter(community=community).values_list("pk", "capacity", "member_count")
    free = {pk: max(capacity - count, 0) for pk, capacity, count in groups}
    seen: set[int] = set()
    preview: list[dict] = []
    result: Counter = Counter()
    for rule in rules:
        result["rules"] += 1
        if rule.from_group.is_archived or rule.to_group.is_archived:
            result["rules_skipped"] += 1
            continue
        for row in _candidates(rule, rule_due(rule, now=now), today=today):
            if row.member_id in seen:
                continue
            seen.add(row.member_id)
            fits = free.get(row.to_group_id, 0) > 0
            if fits:
                free[row.to_group_id] -= 1
                if not rule.keep_previous:
                    free[row.from_group_id] = free.get(row.from_group_id, 0) + 1
            result["would_move" if fits else "would_fail"] += 1
            preview.append({**asdict(row), "fits": fits})
    return {**dict(result), "moved": 0, "preview": preview}


def rule_run(*, rule: LifecycleRule, now: datetime | None = None, skip_members: set[int] | None = None) -> Counter:
    """Move the members the rule has fired for, a chunk at a time. Safe to run twice at once (see
    the module's docstring). ``skip_members`` are left for the next run and gain those moved now."""
    now = now or timezone.now()
    skip = skip_members if skip_members is not None else set()
    result: Counter = Counter()
    rule = LifecycleRule.objects.select_related("community", "from_group", "to_group").get(pk=rule.pk)
    if not rule.is_active:
        return result
    if rule.from_group.is_archived or rule.to_group.is_archived:
        result["rules_skipped"] += 1
        return result
    today = local_today(rule.community, now)
    candidates = [
        candidate
        for candidate in _candidates(rule, rule_due(rule, now=now), today=today)
        if candidate.member_id not in skip
    ]
    for offset in range(0, len(candidates), CHUNK):
        for candidate, (outcome, noticed) in _move_chunk(rule, candidates[offset : offset + CHUNK], now):
            result[outcome] += 1
            result["notices"] += noticed
            if outcome == "moved":
                skip.add(candidate.member_id)
    return result


@transaction.atomic
def _move_chunk(rule: LifecycleRule, chunk: list[Candidate], now: datetime) -> list[tuple[Candidate, tuple[str, bool]]]:
    # The memberships being left are the lock, taken in id order: a second run waits here, then
    # finds them ended (or, with keep_previous, finds the moves below).
    left = {
        membership.pk: membership
        for membership in Membership.objects.select_for_update()
        .filter(
            pk__in=[candidate.membership_id for candidate in chunk],
            group_id=rule.from_group_id,
            status=MembershipStatus.ACTIVE,
            role=Role.MEMBER,
        )
        .order_by("pk")
    }
    earlier = {
        move.from_membership_id: move for move in LifecycleMove.objects.filter(rule=rule, from_membership_id__in=left)
    }
    members = Member.objects.in_bulk([membership.member_id for membership in left.values()])
    handles: dict[int, list[tuple[str, str]]] = {}
    for member_id, platform, external_id in (
        PlatformHandle.objects.filter(member_id__in=members)
        .order_by("pk")
        .values_list("member_id", "platform", "external_id")
    ):
        handles.setdefault(member_id, []).append((platform, external_id))
    outcomes = []
    for candidate in chunk:
        membership = left.get(candidate.membership_id)
        move = earlier.get(candidate.membership_id)
        if membership is None:
            outcomes.append((candidate, ("gone", False)))
        elif move is not None and move.status == MoveStatus.MOVED:
            outcomes.append((candidate, ("already", False)))
        else:
            member = members[membership.member_id]
            try:
                with transaction.atomic():
                    outcome = _move(rule, candidate, membership, member, move, handles.get(member.pk, []), now)
            except IntegrityError:
                # The unique move row is the last word: under the membership lock it never fires;
                # if it ever did, this member's move rolled back whole and the other one stands.
                logger.warning("lifecycle rule %s: member %s moved by another run", rule.pk, member.pk)
                outcome = ("already", False)
            outcomes.append((candidate, outcome))
    return outcomes


def _recipient(handles: list[tuple[str, str]], group: Group) -> tuple[str, str] | None:
    for platform, external_id in handles:
        if platform == group.platform:
            return platform, external_id
    return handles[0] if handles else None


def _move(
    rule: LifecycleRule,
    candidate: Candidate,
    left: Membership,
    member: Member,
    earlier: LifecycleMove | None,
    handles: list[tuple[str, str]],
    now: datetime,
) -> tuple[str, bool]:
    try:
        with transaction.atomic():
            joined = membership_add(member=member, group=rule.to_group, source=MembershipSource.LIFECYCLE)
    except (GroupFull, ApplicationError) as error:
        reason = str(error.message)[:300]
        if earlier is not None:
            LifecycleMove.objects.filter(pk=earlier.pk).update(reason=reason, attempts=F("attempts") + 1, at=now)
        else:
            _record(rule, left, status=MoveStatus.FAILED, reason=reason, membership=None, notice=None, now=now)
        return "failed", False
    if not rule.keep_previous:
        membership_end(membership=left, reason=f"lifecycle: {rule.name}")
    stage = (rule.to_group.admission_criteria or {}).get("stage")
    if stage in LifecycleStage.values and member.lifecycle_stage != stage:
        Member.objects.filter(pk=member.pk).update(lifecycle_stage=stage)
    notice = None
    recipient = _recipient(handles, rule.to_group)
    if recipient is not None:
        with member_locale(rule.community, member):  # the default notice, in the member's language
            body = notice_render(
                rule.notice_template,
                {
                    "name": member.display_name,
                    "from_group": rule.from_group.name,
                    "to_group": rule.to_group.name,
                    "date": candidate.date.isoformat(),
                },
            )
        notice = message_enqueue(
            group=rule.to_group,
            kind=MessageKind.INVITATION,
            body=body,
            recipient_platform=recipient[0],
            recipient_external_id=recipient[1],
            recipient_name=member.display_name,
            dedupe_key=f"lifecycle:{rule.pk}:{left.pk}",
        )
    if earlier is not None:
        LifecycleMove.objects.filter(pk=earlier.pk).update(
            status=MoveStatus.MOVED, reason="", membership=joined, notice=notice, at=now, attempts=F("attempts") + 1
        )
    else:
        _record(rule, left, status=MoveStatus.MOVED, reason="", membership=joined, notice=notice, now=now)
    return "moved", notice is not None


def _record(rule, left: Membership, *, status: str, reason: str, membership, notice, now: datetime) -> None:
    LifecycleMove.objects.create(
        community_id=rule.community_id,
        rule=rule,
        member_id=left.member_id,
        from_group_id=rule.from_group_id,
        to_group_id=rule.to_group_id,
        from_membership=left,
        membership=membership,
        notice=notice,
        status=status,
        reason=reason,
        at=now,
        first_tried_at=now,
    )
