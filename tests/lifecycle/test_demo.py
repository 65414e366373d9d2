"""The lifecycle demo: an exam-prep community gets its two rules, exam dates and two replayed
daily runs, so the history and the preview have something to show; other communities are left
alone."""

from __future__ import annotations

import random

import pytest
from django.utils import timezone

from lifecycle.demo import lifecycle_demo
from lifecycle.models import LifecycleMove, LifecycleRule, MemberDate, MoveStatus
from lifecycle.services.engine import lifecycle_run
from members.models import Membership, MembershipStatus, Role
from members.services import people
from outbox.models import MessageKind, MessageStatus, OutboundMessage
from subgroups.models import GroupKind, Platform
from tests.factories import CommunityFactory, GroupFactory

pytestmark = pytest.mark.django_db

STAGES = (
    ("newcomer", "新手入门群", 90),
    ("intensive", "强化复习群", 80),
    ("sprint", "冲刺押题群", 60),
    ("alumni", "复试调剂群", 20),
)


def exam_prep(slug: str):
    community = CommunityFactory(name=f"考研备考交流群{slug}", slug=slug, platform=Platform.QQ, capacity=2000)
    for stage, name, size in STAGES:
        group = GroupFactory(
            parent=community.hub, name=name, kind=GroupKind.LIFECYCLE, admission_criteria={"stage": stage}
        )
        members = [
            people.member_create(
                community=community, display_name=f"{name}{n:03d}", handles=[(Platform.QQ, f"{slug}-{stage}-{n}")]
            )
            for n in range(size)
        ]
        people.memberships_import(group=community.hub, members=members)
        people.memberships_import(group=group, members=members)
        people.role_grant(member=members[0], group=group, role=Role.GUIDE)
    return community


def test_the_demo_populates_the_history_and_the_preview():
    community = exam_prep("exam-a")
    summary = lifecycle_demo(community=community, rng=random.Random("canopy-demo-exam-prep"))
    assert summary.startswith("lifecycle: 2 rules")
    assert set(LifecycleRule.objects.filter(community=community).values_list("trigger", flat=True)) == {
        "days_in_group",
        "member_date",
    }
    moves = LifecycleMove.objects.filter(community=community, status=MoveStatus.MOVED)
    assert moves.filter(rule__trigger="days_in_group").exists() and moves.filter(rule__trigger="member_date").exists()
    assert MemberDate.objects.filter(community=community, label="exam").count() > 20
    # The moves happened on two days in the past, and the memberships say so.
    assert len({move.at.date() for move in moves}) == 2 and all(move.at < timezone.now() for move in moves)
    for move in moves.select_related("membership", "from_membership")[:20]:
        assert move.membership.joined_at == move.at == move.from_membership.left_at
        assert move.from_membership.status == MembershipStatus.LEFT
    notices = OutboundMessage.objects.filter(community=community, kind=MessageKind.INVITATION)
    assert notices.count() == moves.count() and not notices.exclude(status=MessageStatus.DELIVERED).exists()
    assert "还有三个月" in notices.filter(body__contains="冲刺").first().body
    # Staff stayed; and what the preview promises is what a run would do.
    assert not moves.filter(from_membership__role=Role.GUIDE).exists()
    dry = lifecycle_run(community=community, dry_run=True)
    assert dry.get("would_move", 0) > 0 or "0 due" in summary
    assert "more in the next 30 days" in summary and not summary.endswith(" 0 more in the next 30 days")


def test_the_demo_is_deterministic():
    first = lifecycle_demo(community=exam_prep("exam-b"), rng=random.Random(7))
    second = lifecycle_demo(community=exam_prep("exam-c"), rng=random.Random(7))
    assert first.replace("exam-b", "") == second.replace("exam-c", "")


def test_a_community_without_lifecycle_groups_is_left_alone(community):
    assert lifecycle_demo(community=community, rng=random.Random(1)) == "lifecycle: no lifecycle groups"
    assert not LifecycleRule.objects.exists() and not Membership.objects.filter(source="lifecycle").exists()
