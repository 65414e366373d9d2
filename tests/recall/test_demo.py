"""The recall demo: the default policy replayed over 60 days of generated activity gives a
funnel that holds together, from events that really happened."""

from __future__ import annotations

import zoneinfo
from copy import deepcopy
from datetime import timedelta

import pytest
from django.db.models import Count, F, Min, Q
from django.utils import timezone

from analytics.models import Event
from analytics.services.synthetic import activity_generate
from members.models import Member
from outbox.models import MessageKind, MessageStatus, OutboundMessage
from recall.demo import recall_replay
from recall.models import (
    AttemptStatus,
    CallOutcome,
    Channel,
    Coupon,
    CycleStatus,
    ExitReason,
    ExitSurvey,
    RecallAttempt,
    RecallCycle,
    Variant,
)
from recall.selectors import STEPS
from tests.conftest import make_community, settled
from tests.personas import make_owner

pytestmark = pytest.mark.django_db

MEMBERS, DAYS = 300, 60


@pytest.fixture(scope="module")
def built(module_db):
    """The community of tests/conftest.py and its owner, 60 days of activity and the replay,
    built once for the module: each test runs in a savepoint rolled back after it."""
    community = make_community()
    owner = make_owner(community)
    activity_generate(community=community, members=MEMBERS, days=DAYS, seed=5)
    members = Member.objects.filter(community=community).count()
    report = recall_replay(community=community, days=DAYS, seed=3)
    return settled((community, owner, report, members))


@pytest.fixture
def replayed(built):
    community, _owner, report, members = deepcopy(built)
    return community, report, members


@pytest.fixture
def owner(built):
    return deepcopy(built[1])


def test_the_funnel_holds_together(replayed):
    community, report, _members = replayed
    attempts = RecallAttempt.objects.filter(community=community)
    counts = {step: attempts.filter(**{f"{step}_at__isnull": False}).count() for step in STEPS}
    assert {step: report[step] for step in STEPS} == counts
    assert counts["recovered"] > 0 and counts["responded"] > 0
    assert all(counts[step] <= counts["sent"] for step in STEPS)
    # Nothing happens to an attempt that was never sent, and nothing before it was.
    for step in STEPS[1:]:
        assert not attempts.filter(**{f"{step}_at__isnull": False, "sent_at__isnull": True}).exists(), step
        assert not attempts.filter(**{f"{step}_at__lt": F("sent_at")}).exists(), step
    assert set(attempts.values_list("channel", flat=True)) == {Channel.IN_APP, Channel.PLATFORM, Channel.PHONE}
    # Whatever was due went out (the last run may fall in quiet hours and leave some for 08:00).
    due = attempts.filter(status__in=[AttemptStatus.SCHEDULED, AttemptStatus.SENDING], send_after__lte=timezone.now())
    assert not due.exists()


def test_each_stage_reaches_a_member_once_per_silence(replayed):
    community, _report, _members = replayed
    repeated = (
        RecallAttempt.objects.filter(community=community)
        .values("member", "stage", "cycle")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    )
    assert not repeated.exists()
    open_twice = (
        RecallCycle.objects.filter(community=community, status=CycleStatus.OPEN)
        .values("member", "policy")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    )
    assert not open_twice.exists()
    # The stages of one cycle come in order, each after the one before.
    for cycle in RecallCycle.objects.filter(community=community):
        planned = list(cycle.attempts.order_by("scheduled_at").values_list("stage__position", flat=True))
        assert planned == sorted(planned)


def test_each_coupon_goes_to_one_attempt(replayed):
    community, _report, _members = replayed
    given = Coupon.objects.filter(pool__community=community, handed_out_at__isnull=False)
    assert given.exists()
    rows = list(given.values_list("code", "attempt_id", "attempt__body"))
    assert len({code for code, _a, _b in rows}) == len({attempt for _c, attempt, _b in rows}) == len(rows)
    assert all(code in body for code, _a, body in rows)
    assert not Coupon.objects.filter(pool__community=community, handed_out_at__isnull=True, attempt__isnull=False)


def test_members_reactions_are_real_events_and_none_in_the_future(replayed):
    community, report, members = replayed
    now = timezone.now()
    reactions = Event.objects.filter(community=community, external_id__startswith="recall-demo-")
    assert reactions.count() == report["events"] > 0
    assert not Event.objects.filter(community=community, occurred_at__gt=now).exists()
    assert {"open", "click"} <= set(reactions.values_list("kind", flat=True))
    # Ingestion found every member by their platform account: nobody new was created.
    assert Member.objects.filter(community=community).count() == members
    # Every recall message was acknowledged by the bot (or reported undeliverable).
    assert not OutboundMessage.objects.filter(
        community=community, kind=MessageKind.RECALL, status=MessageStatus.PENDING
    ).exists()


def test_the_replay_starts_once_the_history_can_show_a_silence(replayed):
    community, _report, _members = replayed
    zone = zoneinfo.ZoneInfo(community.time_zone)
    begins = Event.objects.filter(community=community).aggregate(first=Min("occurred_at"))["first"]
    first = RecallAttempt.objects.filter(community=community).aggregate(first=Min("scheduled_at"))["first"]
    assert (first.astimezone(zone).date() - begins.astimezone(zone).date()).days >= 29
    assert first.astimezone(zone).hour == 10


def test_calls_are_recorded_by_an_owner_and_some_wait_on_the_list(replayed, owner):
    community, report, _members = replayed
    calls = RecallAttempt.objects.filter(community=community, channel=Channel.PHONE)
    made = calls.exclude(call_outcome="")
    assert made.count() == report["calls"] > 0
    assert set(made.values_list("called_by", flat=True)) == {owner.pk}
    assert set(made.values_list("call_outcome", flat=True)) <= set(CallOutcome.values)
    assert not made.filter(call_outcome=CallOutcome.NO_ANSWER, responded_at__isnull=False).exists()
    assert calls.filter(Q(call_outcome="") | Q(call_outcome=CallOutcome.NO_ANSWER)).exists()


def test_variant_b_is_tested_and_leavers_are_asked_why(replayed):
    community, report, _members = replayed
    assert set(RecallAttempt.objects.filter(stage__position=1).values_list("variant", flat=True)) == {
        Variant.A,
        Variant.B,
    }
    surveys = ExitSurvey.objects.filter(community=community)
    assert surveys.count() == report["exit_surveys"] >= report["left"] >= 3
    answered = surveys.filter(answered_at__isnull=False)
    assert answered.count() == report["surveys_answered"] > 0
    for reasons, text in answered.values_list("reasons", "other_text"):
        assert reasons and set(reasons) <= set(ExitReason.values)
        assert bool(text) == (ExitReason.OTHER in reasons)
    # The members made to leave have no open cycle left: the last run closed it.
    assert not RecallCycle.objects.filter(
        community=community,
        status=CycleStatus.OPEN,
        member__memberships__left_at__gte=timezone.now() - timedelta(hours=1),
    ).exists()
