"""Recall in the demo: the default policy replayed over a community's generated history.

The engine and the dispatcher run once a day at 10:00 local time with ``now`` in the past, as
beat would have run them. Between runs the demo stands in for the world outside: the bot
acknowledges the private messages, members open, click and come back (events that go in
through ingestion, as an integration reports them), and an owner records calls. Everything
the recall pages show is what the engine and its outcome passes computed from that.
"""

from __future__ import annotations

import zoneinfo
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import numpy as np
from django.db.models import Min, QuerySet
from django.utils import timezone

from analytics.models import Event, EventKind
from analytics.services.ingest import MAX_BATCH, events_ingest
from members.models import Member, Membership, MembershipStatus, PlatformHandle, Role
from members.services import people
from outbox.models import MessageKind, MessageStatus, OutboundMessage
from recall.models import (
    AttemptStatus,
    CallOutcome,
    Channel,
    CycleStatus,
    ExitReason,
    ExitSurvey,
    OptOutSource,
    RecallAttempt,
    RecallCycle,
    Variant,
)
from recall.selectors import STEPS
from recall.services import dispatch, engine, exits, outcomes, policies
from subgroups.models import Community, Group


@dataclass(frozen=True)
class Reaction:
    """Shares of the members reached on a channel who open, act on it, and come back."""

    opened: float
    responded: float
    back: float


REACTIONS = {
    Channel.IN_APP: Reaction(0.35, 0.12, 0.10),
    Channel.PLATFORM: Reaction(0.55, 0.20, 0.14),
    Channel.EMAIL: Reaction(0.25, 0.06, 0.05),
}
VARIANT_B_LIFT = 1.3  # the B text does a little better, so the A/B table has something to show
UNDELIVERED = 0.04  # private messages the bot could not deliver (blocked, left the platform)
CALLS_MADE = 0.75  # of each day's calls; the rest wait on the call list
CALL_OUTCOMES = {
    CallOutcome.REACHED: 0.50,
    CallOutcome.NO_ANSWER: 0.30,
    CallOutcome.REFUSED: 0.08,
    CallOutcome.WRONG_NUMBER: 0.12,
}
BACK_AFTER_CALL = 0.5  # of the members reached: a quarter of all calls
REFUSED_OPT_OUT = 0.5  # of those who refused also ask to be left alone
COUPONS = 500
LEAVERS_PER_MEMBERS = 400  # one silent member in this many leaves at the end, at least three
SURVEYS_ANSWERED = 0.45
RUN_AT = time(10, 0)
FULL_RUN_EVERY = 14  # days between full engine runs (outcomes, exit surveys); planning runs daily
_CALL_NOTES = ("最近工作太忙，忙完回来", "换了城市，问了本地群", "说群里广告太多", "已加回群", "")
_OTHER_REASONS = ("换工作了，用不上了", "群太多，消息看不过来", "考试结束了")


def recall_replay(*, community: Community, days: int = 60, seed: int = 0) -> dict[str, int]:
    """Run the default policy over the last ``days`` days and act out what members make of it.
    Returns the funnel (sent … recovered) and what the demo did along the way."""
    real_now = timezone.now()
    rng = np.random.default_rng(seed)
    policy = policies.policy_default(community=community)
    pool = policy.stages.get(position=1).coupon_pool
    policies.coupons_add(pool=pool, text="\n".join(_codes(rng, COUPONS)))
    first_stage = min(policy.stages.values_list("days_silent", flat=True))
    world = _World(community, rng, real_now)
    result: Counter = Counter()

    previous = None
    moments = _moments(community, days=days, first_stage=first_stage, now=real_now)
    for index, moment in enumerate(moments):
        if index % FULL_RUN_EVERY == 0 or index == len(moments) - 1:
            engine.recall_run(community=community, now=moment)
        else:
            # Planning must happen on the day. The outcome passes date what they find by its
            # events, so an occasional pass gives the same outcomes in a fraction of the time.
            engine.policy_plan(policy=policy, now=moment)
        dispatch.attempts_dispatch(community_id=community.pk, now=moment)
        undelivered = world.acknowledge(moment)
        sent = RecallAttempt.objects.filter(community=community, sent_at__lte=moment)
        if previous is not None:
            sent = sent.filter(sent_at__gt=previous)
        world.react(sent.exclude(message_id__in=undelivered))
        result["days"] += 1
        previous = moment

    result["left"] = world.leave()
    # The beat's run at the real now (after the leaves): every reaction so far counted, the
    # leavers asked why.
    now = timezone.now()
    engine.recall_run(community=community, now=now)
    dispatch.attempts_dispatch(community_id=community.pk, now=now)
    world.acknowledge(now)
    result["surveys_answered"] = world.answer_surveys()
    return _report(community, result, world)


def _codes(rng: np.random.Generator, count: int) -> list[str]:
    """Coupon codes as a shop would issue them: eight characters nobody misreads."""
    alphabet = np.array(list("ABCDEFGHJKLMNPQRSTUVWXYZ23456789"))
    return ["HG" + "".join(row) for row in alphabet[rng.integers(len(alphabet), size=(count, 8))]]


def _moments(community: Community, *, days: int, first_stage: int, now: datetime) -> list[datetime]:
    """10:00 local on each of the last ``days`` days, oldest first and none in the future.

    The engine counts silence in whole local days. Days on which the community's events do
    not yet cover the first stage's look-back (its first day at least in part) are left out:
    there, a silent member cannot be told from one whose activity came before the history
    began, and would be "recalled" and "recovered" by activity that was there all along."""
    zone = zoneinfo.ZoneInfo(community.time_zone)
    today = now.astimezone(zone).date()
    begins = Event.objects.filter(community=community).aggregate(first=Min("occurred_at"))["first"]
    if begins is None:
        return []
    first_day = max(begins.astimezone(zone).date() + timedelta(days=first_stage - 1), today - timedelta(days=days - 1))
    moments = []
    while first_day <= today:
        moment = datetime.combine(first_day, RUN_AT, tzinfo=zone)
        if moment <= now:
            moments.append(moment)
        first_day += timedelta(days=1)
    return moments


class _World:
    """What happens between two runs of the engine, drawn from one seeded generator."""

    def __init__(self, community: Community, rng: np.random.Generator, now: datetime):
        self.community, self.rng, self.now = community, rng, now
        self.groups = list(Group.objects.filter(community=community))
        self.handles: dict[int, tuple[str, str]] = {}
        for member_id, platform, external_id in (
            PlatformHandle.objects.filter(community=community)
            .order_by("member_id", "pk")
            .values_list("member_id", "platform", "external_id")
        ):
            self.handles.setdefault(member_id, (platform, external_id))
        owner = (
            Member.objects.filter(
                community=community,
                user__isnull=False,
                memberships__group=community.hub,
                memberships__role=Role.OWNER,
                memberships__status=MembershipStatus.ACTIVE,
            )
            .select_related("user")
            .order_by("pk")
            .first()
        )
        self.caller = owner.user if owner else None
        self.counts: Counter = Counter()

    def acknowledge(self, moment: datetime) -> set[int]:
        """The bot's delivery receipts for the recall messages queued so far. A direct update
        rather than ``message_ack``: the demo stands in for the bot, and a receipt carries the
        replayed day's time, not the real one. Returns the messages it could not deliver."""
        pending = list(
            OutboundMessage.objects.filter(
                community=self.community, kind=MessageKind.RECALL, status=MessageStatus.PENDING
            )
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not pending:
            return set()
        lost = self.rng.random(len(pending)) < UNDELIVERED
        failed = {pk for pk, no in zip(pending, lost, strict=True) if no}
        OutboundMessage.objects.filter(pk__in=[pk for pk in pending if pk not in failed]).update(
            status=MessageStatus.DELIVERED, delivered_at=min(moment + timedelta(minutes=3), self.now)
        )
        OutboundMessage.objects.filter(pk__in=failed).update(
            status=MessageStatus.FAILED, last_error="The member cannot receive messages from the bot."
        )
        self.counts["undelivered"] += len(failed)
        return failed

    def react(self, attempts: QuerySet[RecallAttempt]) -> None:
        """Members' answers to these attempts: events for messages, call outcomes for phone
        tasks."""
        events: list[dict] = []
        rows = attempts.filter(status=AttemptStatus.SENT).order_by("pk")
        for attempt in rows.values("pk", "member_id", "channel", "variant", "group_id", "sent_at"):
            if attempt["channel"] == Channel.PHONE:
                events += self._call(attempt)
            else:
                events += self._message(attempt)
        self._ingest(events)

    def _message(self, attempt: dict) -> list[dict]:
        odds = REACTIONS[attempt["channel"]]
        lift = VARIANT_B_LIFT if attempt["variant"] == Variant.B else 1.0
        draw = self.rng.random(3)
        if draw[0] >= odds.opened * lift:
            return []
        sent = attempt["sent_at"]
        opened = sent + timedelta(minutes=2 + float(self.rng.exponential(360)))
        events = [self._event(attempt, EventKind.OPEN, opened)]
        # Given an open, the shares that act on it and that come back.
        if draw[1] < odds.responded / odds.opened:
            clicked = opened + timedelta(minutes=1 + float(self.rng.exponential(10)))
            events.append(self._event(attempt, EventKind.CLICK, clicked))
        if draw[2] < odds.back / odds.opened:
            events.append(self._event(attempt, self._back_kind(), opened + self._back_after()))
        return events

    def _call(self, attempt: dict) -> list[dict]:
        if self.rng.random() >= CALLS_MADE:
            return []
        outcome = str(self.rng.choice(list(CALL_OUTCOMES), p=list(CALL_OUTCOMES.values())))
        note = str(self.rng.choice(_CALL_NOTES)) if outcome == CallOutcome.REACHED else ""
        call = RecallAttempt.objects.get(pk=attempt["pk"])
        outcomes.call_record(
            attempt=call, outcome=outcome, note=note, by=self.caller, at=attempt["sent_at"] + timedelta(hours=3)
        )
        self.counts["calls"] += 1
        if outcome == CallOutcome.REFUSED and self.rng.random() < REFUSED_OPT_OUT:
            policies.opt_out(member=call.member, source=OptOutSource.ADMIN)
            self.counts["opted_out"] += 1
        if outcome == CallOutcome.REACHED and self.rng.random() < BACK_AFTER_CALL:
            return [self._event(attempt, self._back_kind(), attempt["sent_at"] + self._back_after())]
        return []

    def _back_kind(self) -> str:
        return EventKind.CHECK_IN if self.rng.random() < 0.4 else EventKind.MESSAGE

    def _back_after(self) -> timedelta:
        """A few hours to about ten days."""
        return timedelta(hours=min(3 + float(self.rng.exponential(60)), 240))

    def _event(self, attempt: dict, kind: str, at: datetime) -> dict:
        platform, external_id = self.handles.get(attempt["member_id"], ("", ""))
        return {
            "type": kind,
            "group": attempt["group_id"],
            "platform": platform,
            "user_id": external_id,
            "occurred_at": at,
            "event_id": f"recall-demo-{attempt['pk']}-{kind}",
        }

    def _ingest(self, events: list[dict]) -> None:
        # Only what has happened by now, by members the integration knows, in the group they
        # were reached in (where they are members, so ingestion opens no new membership).
        ready = [
            {**event, "occurred_at": event["occurred_at"].replace(microsecond=0).isoformat()}
            for event in events
            if event["user_id"] and event["group"] and event["occurred_at"] < self.now
        ]
        for start in range(0, len(ready), MAX_BATCH):
            batch = events_ingest(raw_events=ready[start : start + MAX_BATCH], groups=self.groups, now=self.now)
            self.counts["events"] += batch.accepted

    def leave(self) -> int:
        """A few members still in an open recall cycle leave every group of the community."""
        silent = list(
            RecallCycle.objects.filter(community=self.community, status=CycleStatus.OPEN)
            .exclude(member__memberships__role__in=[role for role in Role.values if role != Role.MEMBER])
            .order_by("member_id")
            .values_list("member_id", flat=True)
            .distinct()
        )
        if not silent:
            return 0
        count = min(len(silent), max(3, Member.objects.filter(community=self.community).count() // LEAVERS_PER_MEMBERS))
        chosen = self.rng.choice(silent, size=count, replace=False)
        for membership in Membership.objects.filter(member_id__in=chosen.tolist(), status=MembershipStatus.ACTIVE):
            people.membership_end(membership=membership)
        return count

    def answer_surveys(self) -> int:
        """Some of those asked why they left answer, with a mix of reasons."""
        reasons = [ExitReason.FEW_INTERACTIONS, ExitReason.CONTENT_OUTDATED, ExitReason.FEW_BENEFITS, ExitReason.OTHER]
        weights = np.array([0.38, 0.30, 0.20, 0.12])
        answered = 0
        for survey in ExitSurvey.objects.filter(community=self.community, answered_at__isnull=True).order_by("pk"):
            if self.rng.random() >= SURVEYS_ANSWERED:
                continue
            given = self.rng.choice(len(reasons), size=1 + int(self.rng.random() < 0.3), replace=False, p=weights)
            chosen = [reasons[index] for index in sorted(given)]
            text = str(self.rng.choice(_OTHER_REASONS)) if ExitReason.OTHER in chosen else ""
            exits.survey_answer(survey=survey, reasons=chosen, other_text=text)
            answered += 1
        return answered


def _report(community: Community, result: Counter, world: _World) -> dict[str, int]:
    attempts = RecallAttempt.objects.filter(community=community)
    report = {step: attempts.filter(**{f"{step}_at__isnull": False}).count() for step in STEPS}
    report.update(
        attempts=attempts.count(),
        days=result["days"],
        calls=world.counts["calls"],
        events=world.counts["events"],
        undelivered=world.counts["undelivered"],
        opted_out=world.counts["opted_out"],
        left=result["left"],
        exit_surveys=ExitSurvey.objects.filter(community=community).count(),
        surveys_answered=result["surveys_answered"],
    )
    return report
