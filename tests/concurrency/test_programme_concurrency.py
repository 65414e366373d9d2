"""Real concurrent connections on PostgreSQL against the admin programme: one voter clicking
eight times at once, and two operators opening a round on the same group at once."""

from __future__ import annotations

import pytest

from core.errors import ApplicationError
from members.services import people
from programme import selectors, services
from programme.models import Nomination, PeerVote, VotingRound
from subgroups.models import Group
from tests.concurrency.test_tree_concurrency import THREADS, run_at_once
from tests.programme.conftest import online

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def design(community):
    return Group.objects.get(community=community, name="设计美学交流群")


def _member(group, name):
    member = people.member_create(community=group.community, display_name=name)
    people.memberships_import(group=group, members=[member])
    return member


@pytest.fixture
def voting_round(design):
    nominee = _member(design, "候选人")
    for monday in selectors.complete_weeks(design.community):
        online(nominee, design, monday, 16)
    return services.round_create(group=design, min_votes=1)


def test_one_voter_voting_eight_times_at_once_has_one_vote(voting_round, design):
    voter = _member(design, "投票人")
    nomination = Nomination.objects.get(round=voting_round)
    # Half approve, half say not yet: whichever lands last counts, and there is one row.
    errors = run_at_once(
        lambda index: services.vote_cast(
            voting_round=voting_round, nominee=nomination, voter=voter, approve=index % 2 == 0
        )
    )
    assert errors == []
    assert PeerVote.objects.filter(nominee=nomination, voter=voter).count() == 1
    (result,) = selectors.round_results(voting_round)
    assert result.votes == 1


def test_two_operators_opening_a_round_at_once_open_one(design):
    nominee = _member(design, "候选人")
    for monday in selectors.complete_weeks(design.community):
        online(nominee, design, monday, 16)
    refused: list[ApplicationError] = []

    def open_round(_index: int) -> None:
        try:
            services.round_create(group=design)
        except ApplicationError as error:
            refused.append(error)

    assert run_at_once(open_round) == []
    assert VotingRound.objects.filter(group=design).count() == 1
    assert len(refused) == THREADS - 1
    assert Nomination.objects.count() == 1
