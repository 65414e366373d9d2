"""Real concurrent connections on PostgreSQL against the lifecycle engine: whole runs racing for
one community, rule runs racing past the community lock (the membership locks and the unique
move are what keep them right), with and without keeping the previous group, and racing for the
last seats of a target group."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from lifecycle.models import LifecycleMove, MoveStatus, TriggerKind
from lifecycle.services.engine import lifecycle_run, rule_run
from members.models import Membership, MembershipStatus
from outbox.models import MessageKind, OutboundMessage
from subgroups.models import Group
from subgroups.services import group_update
from tests.concurrency.test_tree_concurrency import run_at_once
from tests.lifecycle.conftest import make_rule, stages, student  # noqa: F401 - stages is a fixture

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

STUDENTS = 24


@pytest.fixture
def newcomers(stages):  # noqa: F811 - the fixture imported above
    joined = timezone.now() - timedelta(days=40)
    return [student(stages["newcomer"], joined=joined, platform_id=f"qq-{n}") for n in range(STUDENTS)]


def assert_moved_once(rule, members, *, keep_previous: bool = False) -> None:
    moves = LifecycleMove.objects.filter(rule=rule, status=MoveStatus.MOVED)
    assert moves.count() == len(members)
    assert Counter(moves.values_list("member_id", flat=True)).most_common(1)[0][1] == 1
    notices = OutboundMessage.objects.filter(kind=MessageKind.INVITATION)
    assert notices.count() == len(members)
    assert Counter(notices.values_list("recipient_external_id", flat=True)).most_common(1)[0][1] == 1
    to_group = Group.objects.get(pk=rule.to_group_id)
    arrived = Membership.objects.filter(group=to_group, status=MembershipStatus.ACTIVE)
    assert arrived.count() == len(members) == to_group.member_count
    from_group = Group.objects.get(pk=rule.from_group_id)
    still = Membership.objects.filter(group=from_group, status=MembershipStatus.ACTIVE).count()
    assert still == (len(members) if keep_previous else 0) == from_group.member_count


def test_eight_whole_runs_at_once_move_each_member_once(community, stages, newcomers):  # noqa: F811
    rule = make_rule(community, stages["newcomer"], stages["intensive"], TriggerKind.DAYS_IN_GROUP, threshold=30)
    results = []
    errors = run_at_once(lambda _index: results.append(lifecycle_run(community=community)))
    assert errors == []
    assert sum(result.get("moved", 0) for result in results) == STUDENTS
    assert sum(result.get("notices", 0) for result in results) == STUDENTS
    assert_moved_once(rule, newcomers)


@pytest.mark.parametrize("keep_previous", [False, True])
def test_rule_runs_racing_past_the_community_lock_move_each_member_once(
    community,
    stages,  # noqa: F811
    newcomers,
    keep_previous,
):
    rule = make_rule(
        community,
        stages["newcomer"],
        stages["intensive"],
        TriggerKind.DAYS_IN_GROUP,
        threshold=30,
        keep_previous=keep_previous,
    )
    results = []
    errors = run_at_once(lambda _index: results.append(rule_run(rule=rule)))
    assert errors == []
    assert sum(result["moved"] for result in results) == STUDENTS
    assert_moved_once(rule, newcomers, keep_previous=keep_previous)
    # And once more, all at once: nothing left to do.
    again = []
    assert run_at_once(lambda _index: again.append(rule_run(rule=rule))) == []
    assert sum(result["moved"] for result in again) == 0
    assert LifecycleMove.objects.count() == STUDENTS


def test_racing_for_the_last_seats_fills_the_target_exactly(community, stages, newcomers):  # noqa: F811
    group_update(group=stages["intensive"], capacity=5)
    rule = make_rule(community, stages["newcomer"], stages["intensive"], TriggerKind.DAYS_IN_GROUP, threshold=30)
    errors = run_at_once(lambda _index: rule_run(rule=rule))
    assert errors == []
    intensive = Group.objects.get(pk=stages["intensive"].pk)
    assert intensive.member_count == intensive.capacity == 5
    assert LifecycleMove.objects.filter(status=MoveStatus.MOVED).count() == 5
    failed = LifecycleMove.objects.filter(status=MoveStatus.FAILED)
    assert failed.count() == STUDENTS - 5, "one failure row per member waiting, however many runs tried"
    assert OutboundMessage.objects.filter(kind=MessageKind.INVITATION).count() == 5
