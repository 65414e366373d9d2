"""Check-ins (签到): one per member per local day, points for it, and a bonus at every
``streak_days`` days in a row.

Two ways in, one record. A bot (``POST /api/v1/check-ins/``) or the member's own page calls
``checkin_record``, which also writes the analytics event, so the numbers count it like any
other activity. A bot that only speaks the events API sends ``check_in`` events; the sweep
``checkins_from_events`` turns those into check-ins, in bulk, so they earn points too. Each
side skips what the other already made: the check-in is unique per (member, day), the event
per (community, event id), and every ledger entry per key."""

from __future__ import annotations

import zoneinfo
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Exists, Min, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics.models import DirtyDay, Event, EventKind
from analytics.sql import upsert
from core.errors import ApplicationError
from engagement.models import CheckIn, CheckInSource, PointsRules
from engagement.services import streaks
from engagement.services.points import points_award, points_grant_many, points_rules
from members.models import Member, Membership, MembershipStatus, PointsEntry
from subgroups.locale import member_locale
from subgroups.models import Community, Group

_FUTURE_SLACK = timedelta(minutes=10)  # a bot's clock a little ahead is not an error


@dataclass(frozen=True)
class CheckInResult:
    check_in: CheckIn
    created: bool
    points: int
    streak: streaks.Streak
    streak_bonus: int

    @property
    def already_checked_in(self) -> bool:
        return not self.created


def local_day(community: Community, at: datetime) -> date:
    return at.astimezone(zoneinfo.ZoneInfo(community.time_zone)).date()


def checkin_key(member_id: int, day: date) -> str:
    return f"checkin:{member_id}:{day.isoformat()}"


def streak_key(member_id: int, day: date) -> str:
    return f"streak:{member_id}:{day.isoformat()}"


def home_group(member: Member) -> Group | None:
    """Where a check-in that names no group counts: the member's most recently joined open
    group, else the hub."""
    membership = (
        Membership.objects.filter(member=member, status=MembershipStatus.ACTIVE)
        .select_related("group")
        .order_by("-joined_at", "-pk")
        .first()
    )
    if membership is not None:
        return membership.group
    return Group.objects.filter(pk=member.community.hub_id).first()


def checkin_record(
    *, member: Member, group: Group | None = None, source: str, at: datetime | None = None
) -> CheckInResult:
    """Check ``member`` in on the community's local day of ``at`` (now by default). A second
    check-in that day, however it arrives and however many arrive at once, returns the first
    and awards nothing."""
    if source not in CheckInSource.values:
        raise ValueError(f"unknown check-in source {source!r}")
    if group is not None and group.community_id != member.community_id:
        raise ApplicationError(_("This group is in another community."), field="group")
    community = member.community
    now = timezone.now()
    at = at or now
    if at > now + _FUTURE_SLACK:
        raise ApplicationError(_("A check-in can't be in the future."), field="at")
    day = local_day(community, at)
    existing = CheckIn.objects.filter(member=member, day=day).first()
    created, points, bonus = False, 0, 0
    if existing is None:
        group = group or home_group(member)
        with transaction.atomic():
            try:
                with transaction.atomic():
                    existing = CheckIn.objects.create(
                        community=community, member=member, group=group, day=day, source=source, created_at=at
                    )
                created = True
            except IntegrityError:  # another request checked them in a moment ago
                existing = None
            if created:
                rules = points_rules(community=community)
                points = points_award(
                    member=member, rule="check_in", key=checkin_key(member.pk, day), rules=rules, at=at
                )
                bonus = _member_bonuses(member, rules, at=at).get(day, 0)
                # Last: the day's dirty mark is one row every check-in of the day updates.
                if source != CheckInSource.EVENT and group is not None:
                    _event_write(existing, group)
        if existing is None:
            existing = CheckIn.objects.get(member=member, day=day)
    streak = streaks.member_streak(member, today=local_day(community, now))
    return CheckInResult(check_in=existing, created=created, points=points, streak=streak, streak_bonus=bonus)


def _event_write(check_in: CheckIn, group: Group) -> None:
    """The analytics event of a check-in made here, the way ingestion stores one: the row, and
    its local day marked dirty in the same transaction so the next metric run counts it."""
    event = Event(
        community_id=check_in.community_id,
        group=group,
        member_id=check_in.member_id,
        kind=EventKind.CHECK_IN,
        occurred_at=check_in.created_at,
        day=check_in.day,
        external_id=checkin_key(check_in.member_id, check_in.day),
    )
    Event.objects.bulk_create([event], ignore_conflicts=True)
    upsert(
        DirtyDay._meta.db_table,
        ("community_id", "day", "seq"),
        [(check_in.community_id, check_in.day, 1)],
        conflict=("community_id", "day"),
        update=(),
        extra_set=f"seq = {DirtyDay._meta.db_table}.seq + 1",
    )


def _member_bonuses(member: Member, rules: PointsRules, *, at: datetime) -> dict[date, int]:
    """Pay the member's unpaid streak milestones; returns {day: points} of those paid now."""
    if not (rules.streak_days and rules.streak_bonus):
        return {}
    due = {
        day: (day - run.first).days + 1
        for run in streaks.runs_of(streaks.member_days(member))
        for day in streaks.milestones([run], rules.streak_days)
    }
    keys = {streak_key(member.pk, day): day for day in due}
    for key in PointsEntry.objects.filter(key__in=list(keys)).values_list("key", flat=True):
        keys.pop(key, None)
    paid = {}
    for key, day in keys.items():
        with member_locale(member.community, member):  # the member reads it in their ledger
            note = _("%(days)d days in a row") % {"days": due[day]}
        amount = points_award(member=member, rule="streak_bonus", key=key, note=note, rules=rules, at=at)
        if amount:
            paid[day] = amount
    return paid


# --- The sweep: check-ins from events ------------------------------------------------------------


@dataclass(frozen=True)
class SweepResult:
    check_ins: int = 0
    points: int = 0
    bonuses: int = 0


def checkins_from_events(community: Community, *, since: datetime | None = None) -> SweepResult:
    """Turn the community's ``check_in`` events (received since ``since``, or all) that have
    no check-in yet into check-ins, pay their points and any streak milestones they complete.
    Set-based and idempotent: a second run finds nothing to do."""
    events = Event.objects.filter(community=community, kind=EventKind.CHECK_IN)
    if since is not None:
        events = events.filter(received_at__gte=since)
    missing = list(
        events.filter(~Exists(CheckIn.objects.filter(member_id=OuterRef("member_id"), day=OuterRef("day"))))
        .order_by()
        .values("member_id", "day")
        .annotate(first=Min("occurred_at"), group_id=Min("group_id"))
    )
    if not missing:
        return SweepResult()
    CheckIn.objects.bulk_create(
        [
            CheckIn(
                community=community,
                member_id=row["member_id"],
                group_id=row["group_id"],
                day=row["day"],
                source=CheckInSource.EVENT,
                created_at=row["first"],
            )
            for row in missing
        ],
        ignore_conflicts=True,
        batch_size=2000,
    )
    rules = points_rules(community=community)
    points = 0
    if rules.check_in:
        points = points_grant_many(
            community=community,
            reason="check_in",
            rows=[
                (row["member_id"], rules.check_in, checkin_key(row["member_id"], row["day"]), row["first"], "")
                for row in missing
            ],
        )
    bonuses = streak_bonuses_pay(community, member_ids={row["member_id"] for row in missing}, rules=rules)
    return SweepResult(check_ins=len(missing), points=points, bonuses=bonuses)


def streak_bonuses_pay(community: Community, *, member_ids: set[int], rules: PointsRules | None = None) -> int:
    """Pay every unpaid streak milestone of these members, in bulk. Returns how many."""
    rules = rules or points_rules(community=community)
    if not (rules.streak_days and rules.streak_bonus and member_ids):
        return 0
    days: dict[int, list[date]] = defaultdict(list)
    times: dict[tuple[int, date], datetime] = {}
    ids = sorted(member_ids)
    for start in range(0, len(ids), 2000):
        for member_id, day, created_at in CheckIn.objects.filter(
            community=community, member_id__in=ids[start : start + 2000]
        ).values_list("member_id", "day", "created_at"):
            days[member_id].append(day)
            times[(member_id, day)] = created_at
    rows = []
    with member_locale(community):  # members read these notes in their ledgers
        in_a_row = _("%(days)d days in a row")
    for member_id, member_days in days.items():
        for run in streaks.runs_of(member_days):
            for day in streaks.milestones([run], rules.streak_days):
                length = (day - run.first).days + 1
                note = in_a_row % {"days": length}
                rows.append((member_id, rules.streak_bonus, streak_key(member_id, day), times[(member_id, day)], note))
    return points_grant_many(community=community, reason="streak_bonus", rows=rows)
