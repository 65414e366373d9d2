"""Real concurrent connections on PostgreSQL against smart grouping: operators accepting the same
suggestion at once, refreshes racing each other and an accept, and one member's answers sent
twice at once."""

from __future__ import annotations

import pytest

from grouping.models import GroupSuggestion, SuggestionStatus, SurveyResponse
from grouping.services.suggestions import suggestion_accept, suggestions_refresh
from grouping.services.surveys import response_submit, survey_for, survey_update
from members.models import Invitation
from outbox.models import MessageKind, OutboundMessage
from subgroups.models import Group
from tests.concurrency.test_tree_concurrency import THREADS, assert_sound, run_at_once
from tests.grouping.conftest import answer, member_in, with_topic

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def coders(community):
    return Group.objects.get(community=community, name="程序员技术群")


@pytest.fixture
def survey(community, coders):
    survey = survey_for(community=community)
    survey_update(survey=survey, min_members=5)
    survey = with_topic(survey, "读书")
    for index in range(6):
        answer(survey, member_in(coders, handle=f"wx-book-{index}"), ["读书"], admin="yes" if index < 2 else "no")
    return survey


def test_eight_operators_accepting_at_once_create_one_group_and_invite_once(community, survey):
    suggestions_refresh(community=community)
    suggestion = GroupSuggestion.objects.get()
    results = []
    errors = run_at_once(lambda _index: results.append(suggestion_accept(suggestion=suggestion)))
    assert errors == []
    assert sum(created for _suggestion, created in results) == 1
    assert len({accepted.group_id for accepted, _created in results}) == 1
    groups = Group.objects.filter(community=community, name__startswith="互联网从业者交流群-读书小群")
    assert groups.count() == 1
    group = groups.get()
    assert Invitation.objects.filter(group=group).count() == 6
    assert OutboundMessage.objects.filter(group=group, kind=MessageKind.INVITATION).count() == 6
    suggestion.refresh_from_db()
    assert suggestion.status == SuggestionStatus.ACCEPTED and suggestion.invited_count == 6
    assert_sound(community)


def test_refreshes_racing_keep_one_pending_suggestion(community, survey):
    errors = run_at_once(lambda _index: suggestions_refresh(community=community))
    assert errors == []
    assert GroupSuggestion.objects.filter(status=SuggestionStatus.PENDING).count() == 1
    assert GroupSuggestion.objects.get().matches.count() == 6


def test_refreshes_racing_an_accept_never_reopen_it(community, survey):
    suggestions_refresh(community=community)
    suggestion = GroupSuggestion.objects.get()

    def work(index: int) -> None:
        if index == 0:
            suggestion_accept(suggestion=suggestion)
        else:
            suggestions_refresh(community=community)

    assert run_at_once(work) == []
    suggestion.refresh_from_db()
    assert suggestion.status == SuggestionStatus.ACCEPTED
    # The new group covers the topic with room: nothing else is suggested for it.
    assert not GroupSuggestion.objects.filter(status=SuggestionStatus.PENDING).exists()
    assert Invitation.objects.filter(group=suggestion.group).count() == 6


def test_one_members_answers_sent_at_once_keep_one_response(community, survey, coders):
    member = member_in(coders)
    sizes = ["lt50", "50_150", "150_300", "300_plus"]

    def work(index: int) -> None:
        answers = {"topics": ["读书"], "size": sizes[index % 4], "frequency": "daily", "admin": "no"}
        response_submit(survey=survey, member=member, answers=answers)

    assert run_at_once(work, threads=THREADS) == []
    assert SurveyResponse.objects.filter(member=member).count() == 1
