"""Voting rounds: nominations on online hours, the vote's rules, recognition, appointment."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import ApplicationError
from members.models import Membership, MembershipEvent, Role
from members.services import people
from programme import selectors, services
from programme.models import Nomination, PeerVote, RoundStatus, VotingRound
from tests.factories import CommunityFactory
from tests.programme.conftest import member_in, online

pytestmark = pytest.mark.django_db


def weeks_online(member, group, per_week: list[int]) -> None:
    """Online hours in each of the last four complete weeks (oldest first)."""
    for monday, hours in zip(selectors.complete_weeks(group.community), per_week, strict=True):
        if hours:
            online(member, group, monday, hours)


def voters(group, count: int) -> list:
    return [member_in(group, f"投票人{index:02d}") for index in range(count)]


def vote(voting_round, nominee, voter, approve=True, **kwargs):
    nomination = Nomination.objects.get(round=voting_round, member=nominee)
    return services.vote_cast(voting_round=voting_round, nominee=nomination, voter=voter, approve=approve, **kwargs)


class TestNominations:
    def test_members_at_the_threshold_are_nominated_and_those_below_are_not(self, community, design, photo, coders):
        exactly = member_in(design, "刚好十五")
        below = member_in(design, "差一点")
        deeper = member_in(photo, "摄影达人")
        sibling = member_in(coders, "隔壁的")
        weeks_online(exactly, design, [15, 15, 15, 15])  # 15.0
        weeks_online(below, design, [20, 20, 19, 0])  # 14.75: one quiet week pulls it down
        weeks_online(deeper, photo, [16, 16, 16, 16])
        weeks_online(sibling, coders, [30, 30, 30, 30])
        voting_round = services.round_create(group=design)
        nominated = dict(voting_round.nominations.values_list("member__display_name", "online_hours"))
        assert nominated == {"刚好十五": 15.0, "摄影达人": 16.0}

    def test_those_who_already_serve_the_group_are_not_nominated(self, community, design, photo):
        admin, guide_below, owner_above, core_elsewhere = (member_in(design) for _ in range(4))
        people.role_grant(member=admin, group=design, role=Role.ADMIN)
        people.role_grant(member=guide_below, group=photo, role=Role.GUIDE)
        people.role_grant(member=owner_above, group=community.hub, role=Role.OWNER)
        for member in (admin, guide_below, owner_above, core_elsewhere):
            weeks_online(member, design, [20, 20, 20, 20])
        voting_round = services.round_create(group=design)
        assert list(voting_round.nominations.values_list("member", flat=True)) == [core_elsewhere.pk]

    def test_the_round_keeps_its_own_thresholds(self, community, design):
        member = member_in(design)
        weeks_online(member, design, [4, 4, 4, 4])
        voting_round = services.round_create(
            group=design, threshold_hours=3.5, threshold_recognition=0.6, min_votes=3, days=3, note="试点"
        )
        assert voting_round.nominations.get().member == member
        assert (voting_round.threshold_hours, voting_round.threshold_recognition, voting_round.min_votes) == (
            3.5,
            0.6,
            3,
        )
        assert voting_round.closes_at - voting_round.opens_at == timedelta(days=3)

    @pytest.mark.parametrize(
        ("field", "values"),
        [
            ("threshold_hours", {"threshold_hours": 0}),
            ("threshold_hours", {"threshold_hours": 200}),
            ("threshold_recognition", {"threshold_recognition": 1.5}),
            ("min_votes", {"min_votes": 0}),
            ("days", {"days": 90}),
        ],
    )
    def test_bad_settings_are_refused_by_field(self, design, field, values):
        with pytest.raises(ApplicationError) as refused:
            services.round_create(group=design, **values)
        assert refused.value.field == field
        assert not VotingRound.objects.exists()

    def test_one_open_round_per_group(self, design, coders):
        first = services.round_create(group=design)
        with pytest.raises(ApplicationError) as refused:
            services.round_create(group=design)
        assert "already has an open round" in refused.value.message
        services.round_create(group=coders)  # another group may
        services.round_close(voting_round=first)
        assert services.round_create(group=design).status == RoundStatus.OPEN


@pytest.fixture
def nominee(design):
    member = member_in(design, "候选人")
    weeks_online(member, design, [18, 18, 18, 18])
    return member


@pytest.fixture
def voting_round(design, nominee):
    return services.round_create(group=design, min_votes=5, threshold_recognition=0.8)


class TestVotes:
    def test_members_of_the_subtree_vote(self, voting_round, nominee, design, photo):
        here, below = member_in(design), member_in(photo)
        vote(voting_round, nominee, here)
        vote(voting_round, nominee, below, approve=False)
        assert sorted(PeerVote.objects.values_list("voter_id", "approve")) == sorted(
            [(here.pk, True), (below.pk, False)]
        )

    def test_nobody_votes_for_themselves(self, voting_round, nominee):
        with pytest.raises(ApplicationError) as refused:
            vote(voting_round, nominee, nominee)
        assert refused.value.field == "voter" and not PeerVote.objects.exists()

    def test_members_outside_the_subtree_do_not_vote(self, voting_round, nominee, coders, community):
        sibling = member_in(coders)
        with pytest.raises(ApplicationError) as refused:
            vote(voting_round, nominee, sibling)
        assert "设计美学交流群" in refused.value.message
        stranger = member_in(CommunityFactory(slug="elsewhere").hub)
        with pytest.raises(ApplicationError):
            vote(voting_round, nominee, stranger)
        assert not PeerVote.objects.exists()

    def test_members_who_left_do_not_vote(self, voting_round, nominee, design):
        leaver = member_in(design)
        people.membership_end(membership=Membership.objects.get(member=leaver, group=design))
        with pytest.raises(ApplicationError):
            vote(voting_round, nominee, leaver)

    def test_a_voter_changes_their_vote_while_the_round_is_open(self, voting_round, nominee, design):
        voter = member_in(design)
        vote(voting_round, nominee, voter, approve=True)
        later = timezone.now() + timedelta(hours=1)
        vote(voting_round, nominee, voter, approve=False, now=later)
        assert list(PeerVote.objects.values_list("voter_id", "approve", "at")) == [(voter.pk, False, later)]

    def test_a_closed_round_takes_no_votes(self, voting_round, nominee, design):
        voter = member_in(design)
        vote(voting_round, nominee, voter)
        services.round_close(voting_round=voting_round)
        with pytest.raises(ApplicationError) as refused:
            vote(voting_round, nominee, voter, approve=False)
        assert "closed" in refused.value.message
        assert PeerVote.objects.get().approve is True

    def test_a_round_past_its_closing_time_takes_no_votes_and_beat_closes_it(self, voting_round, nominee, design):
        voter = member_in(design)
        after = voting_round.closes_at + timedelta(seconds=1)
        with pytest.raises(ApplicationError):
            vote(voting_round, nominee, voter, now=after)
        assert services.rounds_close_due(now=after) == 1
        voting_round.refresh_from_db()
        assert voting_round.status == RoundStatus.CLOSED and voting_round.closed_at == after
        assert services.rounds_close_due(now=after) == 0

    def test_a_nominee_of_another_round_is_refused(self, voting_round, nominee, coders, design):
        other_member = member_in(coders)
        weeks_online(other_member, coders, [20, 20, 20, 20])
        other = services.round_create(group=coders)
        with pytest.raises(ApplicationError) as refused:
            services.vote_cast(
                voting_round=voting_round, nominee=other.nominations.get(), voter=member_in(design), approve=True
            )
        assert refused.value.field == "nominee"


class TestRecognition:
    def cast(self, voting_round, nominee, design, approvals: int, against: int) -> None:
        for voter in voters(design, approvals):
            vote(voting_round, nominee, voter, approve=True)
        for voter in (member_in(design) for _ in range(against)):
            vote(voting_round, nominee, voter, approve=False)

    def result(self, voting_round):
        (result,) = selectors.round_results(voting_round)
        return result

    def test_four_of_five_is_80_percent_and_qualifies(self, voting_round, nominee, design):
        self.cast(voting_round, nominee, design, approvals=4, against=1)
        result = self.result(voting_round)
        assert (result.votes, result.approvals, result.recognition, result.qualified) == (5, 4, 0.8, True)

    def test_too_few_votes_do_not_qualify_however_unanimous(self, voting_round, nominee, design):
        self.cast(voting_round, nominee, design, approvals=4, against=0)
        result = self.result(voting_round)
        assert result.recognition == 1.0 and not result.qualified
        assert result.why_not == "4 of the 5 votes needed."

    def test_three_of_five_is_not_enough(self, voting_round, nominee, design):
        self.cast(voting_round, nominee, design, approvals=3, against=2)
        result = self.result(voting_round)
        assert not result.qualified and result.why_not == "Recognition 60% is below the 80% needed."

    def test_no_votes_no_recognition(self, voting_round):
        assert self.result(voting_round).recognition is None


class TestAppointment:
    def test_a_qualified_nominee_becomes_admin_of_the_group(self, voting_round, nominee, design, owner):
        for voter in voters(design, 5):
            vote(voting_round, nominee, voter)
        membership = services.nominee_appoint(nomination=voting_round.nominations.get(), by=owner)
        assert (membership.group, membership.role) == (design, Role.ADMIN)
        nomination = voting_round.nominations.get()
        assert nomination.appointed_at is not None and nomination.appointed_by == owner
        event = MembershipEvent.objects.filter(membership=membership, action="role").get()
        assert event.by == owner and "Peer recognition 100% of 5 votes" in event.reason
        # Again: nothing changes.
        again = services.nominee_appoint(nomination=nomination, by=owner)
        assert again.pk == membership.pk and MembershipEvent.objects.filter(action="role").count() == 1

    def test_an_unqualified_nominee_is_refused_with_the_reason(self, voting_round, nominee, design):
        for voter in voters(design, 2):
            vote(voting_round, nominee, voter)
        with pytest.raises(ApplicationError) as refused:
            services.nominee_appoint(nomination=voting_round.nominations.get())
        assert refused.value.message == "候选人 is not qualified: 2 of the 5 votes needed."
        assert Membership.objects.get(member=nominee, group=design).role == Role.MEMBER
        assert voting_round.nominations.get().appointed_at is None

    def test_a_nominee_in_a_sub_group_joins_the_group_as_admin(self, community, design, photo):
        deeper = member_in(photo, "摄影达人")
        weeks_online(deeper, photo, [20, 20, 20, 20])
        voting_round = services.round_create(group=design, min_votes=1)
        vote(voting_round, deeper, member_in(design))
        services.nominee_appoint(nomination=voting_round.nominations.get())
        assert Membership.objects.get(member=deeper, group=design, status="active").role == Role.ADMIN
