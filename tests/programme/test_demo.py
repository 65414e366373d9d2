"""The programme demo on 60 days of generated activity: a round that nominates the most present
members with one qualified nominee, last month's assessments, and a rotation."""

from __future__ import annotations

import random

import pytest

from analytics.services.metrics import metrics_compute
from analytics.services.synthetic import activity_generate
from members.models import AdminAssessment, Membership, Role
from members.services import people
from programme import selectors
from programme.demo import programme_demo
from programme.models import PeerVote, VotingRound
from subgroups.models import Group

pytestmark = pytest.mark.django_db


@pytest.fixture
def generated(community, design, coders):
    activity_generate(community=community, members=300, days=60, seed=11)
    for group, role in (
        (design, Role.ADMIN),
        (coders, Role.GUIDE),
        (Group.objects.get(pk=community.hub_id), Role.CORE_ADMIN),
    ):
        membership = Membership.objects.filter(group=group, role=Role.MEMBER, status="active").order_by("pk").first()
        people.role_grant(member=membership.member, group=group, role=role)
    metrics_compute(community=community)
    return community


def test_the_demo_builds_a_round_assessments_and_a_rotation(generated):
    community = generated
    hub = Group.objects.get(pk=community.hub_id)
    _weeks, rows = selectors.weekly_online_hours(group=hub)
    summary = programme_demo(community=community, rng=random.Random(4))
    voting_round = VotingRound.objects.get(community=community)
    results = selectors.round_results(voting_round)
    assert len(results) >= 5
    assert sum(result.qualified for result in results) == 1
    # The nominees are exactly the most present members without a role (before the rotation
    # made some of them guides).
    most_present = {row.member.pk for row in rows if not row.is_staff and row.average >= voting_round.threshold_hours}
    assert {result.nomination.member_id for result in results} == most_present
    if voting_round.threshold_hours < 15:
        assert "nobody in the generated activity reaches 15 h" in voting_round.note
    assert PeerVote.objects.filter(round=voting_round).count() >= 6 * 5
    assert AdminAssessment.objects.filter(group__community=community).count() == 3
    assert Membership.objects.filter(group__community=community, role=Role.GUIDE, role_until__isnull=False).exists()
    assert summary.startswith(f"round on {community.name}")


def test_the_demo_is_deterministic(generated):
    first = programme_demo(community=generated, rng=random.Random(4))
    votes = sorted(PeerVote.objects.values_list("nominee__member_id", "voter_id", "approve"))
    VotingRound.objects.all().delete()
    Membership.objects.filter(role=Role.GUIDE, role_until__isnull=False).update(role=Role.MEMBER, role_until=None)
    again = programme_demo(community=generated, rng=random.Random(4))
    assert sorted(PeerVote.objects.values_list("nominee__member_id", "voter_id", "approve")) == votes
    assert first.split(";")[0] == again.split(";")[0]


def test_with_nobody_at_15_hours_the_demo_lowers_the_threshold_and_says_so(community, design):
    from tests.programme.conftest import member_in, online

    for index, hours in enumerate((9, 7, 6, 5, 4, 3, 1)):
        member = member_in(design, f"成员{index}")
        for monday in selectors.complete_weeks(community):
            online(member, design, monday, hours)
    summary = programme_demo(community=community, rng=random.Random(1))
    voting_round = VotingRound.objects.get()
    assert voting_round.threshold_hours == 4.0  # the fifth most present member's 4 h
    assert voting_round.note == (
        "Demo: nobody in the generated activity reaches 15 h a week, so this round nominates from 4 h."
    )
    assert voting_round.nominations.count() == 5
    assert "no daily rollups yet" in summary
