"""What came of each attempt: delivered, opened, responded, recovered; and the cycles that stop
because the member came back, opted out or left.

- **delivered**: the integration acknowledged the private message (or its webhook answered
  2xx); an in-app notice is delivered when it is created, an e-mail when the mail server took
  it, a call when the member was reached;
- **opened**: the member read the notice or followed the message's link, or the integration
  reported an ``open`` or ``click`` event from them;
- **responded**: they acted on it: claimed the gift or said they are back, a ``click`` event,
  or a call that reached them and was not refused;
- **recovered**: they were active (an engaged event) within the policy's recovery window of
  the attempt. A return is credited to the last attempt before it (last touch), and a points
  bonus is credited then, once (the ledger key is the attempt).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Case, DateTimeField, Exists, OuterRef, Q, Subquery, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics.models import ENGAGED_KINDS, Event, EventKind
from core.errors import ApplicationError
from members.models import Member, Membership, MembershipStatus
from members.services.points import points_grant
from outbox.models import MessageStatus, OutboundMessage
from recall.models import (
    AttemptStatus,
    CallOutcome,
    Channel,
    CycleStatus,
    Notice,
    OptOut,
    RecallAttempt,
    RecallCycle,
)
from subgroups.models import Community

OPEN_KINDS = (EventKind.OPEN, EventKind.CLICK)
ATTRIBUTION_DAYS = 90  # how far back outcome passes look for attempts still open to credit


def active_members(community: Community, now: datetime):
    """Members with a membership open at ``now``."""
    open_then = Membership.objects.filter(member=OuterRef("pk"), joined_at__lte=now).filter(
        Q(status=MembershipStatus.ACTIVE) | Q(left_at__gt=now)
    )
    return Member.objects.filter(community=community).filter(Exists(open_then))


def outcomes_refresh(*, community: Community, now: datetime) -> Counter:
    result: Counter = Counter()
    result["delivered"] += _delivered_from_outbox(community)
    result.update(_opens_from_events(community, now))
    result.update(_returns(community, now))
    result.update(_stops(community, now))
    return result


def _delivered_from_outbox(community: Community) -> int:
    attempts = RecallAttempt.objects.filter(community=community, channel=Channel.PLATFORM, status=AttemptStatus.SENT)
    delivered = attempts.filter(delivered_at__isnull=True, message__status=MessageStatus.DELIVERED).update(
        delivered_at=Subquery(OutboundMessage.objects.filter(pk=OuterRef("message_id")).values("delivered_at")[:1])
    )
    attempts.filter(message__status__in=[MessageStatus.FAILED, MessageStatus.CANCELLED]).update(
        status=AttemptStatus.FAILED, last_error="the integration could not deliver it"
    )
    return delivered


def _opens_from_events(community: Community, now: datetime) -> Counter:
    """Credit each open or click event to the last attempt sent to that member before it."""
    result: Counter = Counter()
    horizon = now - timedelta(days=ATTRIBUTION_DAYS)
    waiting = list(
        RecallAttempt.objects.filter(
            community=community, status=AttemptStatus.SENT, sent_at__gte=horizon, sent_at__lte=now
        )
        .exclude(channel=Channel.PHONE)
        .filter(Q(opened_at__isnull=True) | Q(responded_at__isnull=True))
        .values_list("pk", "member_id", "sent_at", "opened_at", "responded_at")
    )
    if not waiting:
        return result
    earliest = min(row[2] for row in waiting)
    # Every attempt of those members in the window, so "the last attempt before the event" is right
    # even when that attempt was already opened.
    members = {row[1] for row in waiting}
    sent = sorted(
        RecallAttempt.objects.filter(
            community=community, member_id__in=members, sent_at__gte=earliest, sent_at__lte=now
        ).values_list("member_id", "sent_at", "pk")
    )
    by_member: dict[int, list[tuple[datetime, int]]] = {}
    for member_id, sent_at, pk in sent:
        by_member.setdefault(member_id, []).append((sent_at, pk))
    state = {pk: [opened, responded] for pk, _m, _s, opened, responded in waiting}
    events = (
        Event.objects.filter(
            community=community, member_id__in=members, kind__in=OPEN_KINDS, occurred_at__gte=earliest,
            occurred_at__lte=now,
        )
        .order_by("occurred_at")
        .values_list("member_id", "kind", "occurred_at")
    )  # fmt: skip
    for member_id, kind, at in events.iterator(chunk_size=5000):
        touched = [pk for sent_at, pk in by_member.get(member_id, []) if sent_at <= at]
        if not touched or touched[-1] not in state:
            continue
        opened_responded = state[touched[-1]]
        if opened_responded[0] is None:
            opened_responded[0] = at
        if kind == EventKind.CLICK and opened_responded[1] is None:
            opened_responded[1] = at
    was = {pk: (opened, responded) for pk, _m, _s, opened, responded in waiting}
    opened = {pk: values[0] for pk, values in state.items() if values[0] is not None and was[pk][0] is None}
    responded = {pk: values[1] for pk, values in state.items() if values[1] is not None and was[pk][1] is None}
    result["opened"] += _fill_blanks("opened_at", opened)
    result["responded"] += _fill_blanks("responded_at", responded)
    return result


def _fill_blanks(field: str, values: dict[int, datetime], chunk: int = 500) -> int:
    """Set ``field`` to each attempt's value where it is still blank, a statement for a few
    hundred attempts rather than one each: a page visit recorded meanwhile keeps its (earlier)
    time. Returns how many were filled."""
    filled = 0
    pks = sorted(values)
    for offset in range(0, len(pks), chunk):
        part = pks[offset : offset + chunk]
        filled += RecallAttempt.objects.filter(pk__in=part, **{f"{field}__isnull": True}).update(
            **{field: Case(*(When(pk=pk, then=Value(values[pk])) for pk in part), output_field=DateTimeField())}
        )
    return filled


def _returns(community: Community, now: datetime) -> Counter:
    """Open cycles whose member was active after the silence began: recovered."""
    result: Counter = Counter()
    first_back = (
        Event.objects.filter(
            member_id=OuterRef("member_id"),
            kind__in=ENGAGED_KINDS,
            occurred_at__gt=OuterRef("silent_since"),
            occurred_at__lte=now,
        )
        .order_by("occurred_at")
        .values("occurred_at")[:1]
    )
    back = (
        RecallCycle.objects.filter(community=community, status=CycleStatus.OPEN)
        .annotate(back=Subquery(first_back))
        .filter(back__isnull=False)
        .select_related("policy", "member")
    )
    for cycle in back:
        result.update(cycle_recover(cycle=cycle, at=cycle.back))
    return result


@transaction.atomic
def cycle_recover(*, cycle: RecallCycle, at: datetime) -> Counter:
    result: Counter = Counter()
    if not RecallCycle.objects.filter(pk=cycle.pk, status=CycleStatus.OPEN).update(
        status=CycleStatus.RECOVERED, ended_at=at
    ):
        return result  # another run closed it
    result["cycles_recovered"] += 1
    result["cancelled"] += RecallAttempt.objects.filter(
        cycle=cycle, status__in=[AttemptStatus.SCHEDULED, AttemptStatus.SENDING]
    ).update(status=AttemptStatus.CANCELLED, last_error="the member was active again")
    touch = (
        RecallAttempt.objects.filter(cycle=cycle, status=AttemptStatus.SENT, sent_at__lte=at)
        .order_by("-sent_at", "-pk")
        .first()
    )
    if touch is None or at > touch.sent_at + timedelta(days=cycle.policy.recovery_days):
        return result
    RecallAttempt.objects.filter(pk=touch.pk, recovered_at__isnull=True).update(recovered_at=at)
    result["recovered"] += 1
    if touch.gift_points:
        points_grant(
            member=cycle.member,
            amount=touch.gift_points,
            reason="recall_bonus",
            note=str(touch.stage),
            key=f"recall:{touch.pk}",
        )
    return result


def _stops(community: Community, now: datetime) -> Counter:
    result: Counter = Counter()
    open_cycles = RecallCycle.objects.filter(community=community, status=CycleStatus.OPEN)
    opted = list(
        open_cycles.filter(Exists(OptOut.objects.filter(member=OuterRef("member_id")))).values_list("pk", flat=True)
    )
    gone = list(
        open_cycles.exclude(pk__in=opted)
        .exclude(member_id__in=active_members(community, now).values("pk"))
        .values_list("pk", flat=True)
    )
    for ids, status, key in ((opted, CycleStatus.OPTED_OUT, "opted_out"), (gone, CycleStatus.LEFT, "left")):
        if not ids:
            continue
        with transaction.atomic():
            result[key] += RecallCycle.objects.filter(pk__in=ids, status=CycleStatus.OPEN).update(
                status=status, ended_at=now
            )
            result["cancelled"] += RecallAttempt.objects.filter(
                cycle_id__in=ids, status__in=[AttemptStatus.SCHEDULED, AttemptStatus.SENDING]
            ).update(status=AttemptStatus.CANCELLED, last_error=str(CycleStatus(status).label))
    return result


# --- What members and callers do ------------------------------------------------------------


def attempt_opened(*, attempt: RecallAttempt, at: datetime | None = None) -> None:
    at = at or timezone.now()
    RecallAttempt.objects.filter(pk=attempt.pk, opened_at__isnull=True).update(opened_at=at)


def attempt_responded(*, attempt: RecallAttempt, at: datetime | None = None) -> None:
    """The member claimed the gift or said they are back (opening it on the way)."""
    at = at or timezone.now()
    attempt_opened(attempt=attempt, at=at)
    RecallAttempt.objects.filter(pk=attempt.pk, responded_at__isnull=True).update(responded_at=at)


def notice_read(*, notice: Notice) -> None:
    now = timezone.now()
    if Notice.objects.filter(pk=notice.pk, read_at__isnull=True).update(read_at=now) and notice.attempt_id:
        RecallAttempt.objects.filter(pk=notice.attempt_id, opened_at__isnull=True).update(opened_at=now)


def notices_read_all(*, member_id: int) -> int:
    now = timezone.now()
    unread = Notice.objects.filter(member_id=member_id, read_at__isnull=True)
    attempt_ids = list(unread.exclude(attempt=None).values_list("attempt_id", flat=True))
    count = unread.update(read_at=now)
    RecallAttempt.objects.filter(pk__in=attempt_ids, opened_at__isnull=True).update(opened_at=now)
    return count


@transaction.atomic
def call_record(
    *, attempt: RecallAttempt, outcome: str, note: str = "", by=None, at: datetime | None = None
) -> RecallAttempt:
    """An admin's call: reached and refused both mean the member picked up; only a reached
    member who did not refuse has responded. No answer leaves the call on the list."""
    if outcome not in CallOutcome.values:
        raise ApplicationError(_("Choose what happened on the call."), field="outcome")
    attempt = RecallAttempt.objects.select_for_update().get(pk=attempt.pk)
    if attempt.channel != Channel.PHONE:
        raise ApplicationError(_("Only phone tasks take a call outcome."), field="outcome")
    if attempt.status != AttemptStatus.SENT or attempt.call_outcome not in ("", CallOutcome.NO_ANSWER):
        raise ApplicationError(_("This call is no longer on the list."), field="outcome")
    now = min(at, timezone.now()) if at else timezone.now()  # a call logged afterwards keeps its time
    attempt.call_outcome = outcome
    attempt.call_note = (note or "").strip()[:500]
    attempt.called_at = now
    attempt.called_by = by if getattr(by, "is_authenticated", False) else None
    if outcome in (CallOutcome.REACHED, CallOutcome.REFUSED):
        attempt.delivered_at = attempt.delivered_at or now
        attempt.opened_at = attempt.opened_at or now
    if outcome == CallOutcome.REACHED:
        attempt.responded_at = attempt.responded_at or now
    attempt.save(
        update_fields=[
            "call_outcome",
            "call_note",
            "called_at",
            "called_by",
            "delivered_at",
            "opened_at",
            "responded_at",
        ]
    )
    return attempt
