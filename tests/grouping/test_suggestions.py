"""Demand clusters, the suggestions they make, and accepting or dismissing them."""

from __future__ import annotations

import pytest

from core.errors import ApplicationError
from grouping.models import (
    GroupSuggestion,
    MatchReason,
    MemberRecommendation,
    RecommendationRun,
    RunStatus,
    SuggestionStatus,
)
from grouping.selectors import ClusterState, demand_clusters
from grouping.services.suggestions import suggestion_accept, suggestion_dismiss, suggestions_refresh
from grouping.services.surveys import survey_update
from members.models import Invitation
from outbox.models import MessageKind, OutboundMessage
from subgroups import services as tree
from subgroups.models import Group, GroupKind
from tests.grouping.conftest import answer, member_in, with_topic

pytestmark = pytest.mark.django_db


@pytest.fixture
def survey(survey):
    survey_update(survey=survey, min_members=3)
    survey.refresh_from_db()
    return with_topic(survey, "读书")


def asking(survey, group, topic, count, *, admins=0, size="50_150", handles=False):
    members = []
    for index in range(count):
        member = member_in(group, handle=f"wx-{topic}-{index}-{group.pk}" if handles else None)
        answer(survey, member, [topic], size=size, admin="yes" if index < admins else "no")
        members.append(member)
    return members


def cluster(survey, topic):
    return next(found for found in demand_clusters(survey) if found.topic == topic)


class TestClusters:
    def test_enough_members_and_a_willing_admin_make_a_suggestion(self, survey, coders):
        asking(survey, coders, "读书", 3, admins=1)
        found = cluster(survey, "读书")
        assert (found.asked, found.interested, found.willing_admins) == (3, 3, 1)
        assert found.state == ClusterState.SUGGESTED
        assert found.groups == [] and found.parent.pk == survey.community.hub_id
        assert found.capacity == 150 and found.preferred_size == "50–150"

    def test_too_few_members(self, survey, coders):
        asking(survey, coders, "读书", 2, admins=2)
        assert cluster(survey, "读书").state == ClusterState.FEW_MEMBERS

    def test_no_willing_admin(self, survey, coders):
        asking(survey, coders, "读书", 5, admins=0)
        assert cluster(survey, "读书").state == ClusterState.NO_ADMIN

    def test_an_existing_group_with_room_suppresses_it(self, survey, coders, photo):
        asking(survey, coders, "摄影", 3, admins=1)
        found = cluster(survey, "摄影")
        assert [group.pk for group, _seats in found.groups] == [photo.pk]
        assert found.state == ClusterState.COVERED
        assert suggestions_refresh(community=survey.community)["created"] == 0

    def test_a_full_group_on_the_topic_gets_a_sibling(self, survey, coders, photo, design):
        inside = member_in(photo)
        answer(survey, inside, ["摄影"], admin="yes")  # already there: not a candidate
        asking(survey, coders, "摄影", 3, admins=1)
        tree.group_update(group=photo, capacity=2)  # one seat left for three
        found = cluster(survey, "摄影")
        assert (found.asked, found.in_groups, found.interested, found.free_seats) == (4, 1, 3, 1)
        assert found.state == ClusterState.SUGGESTED
        assert found.parent.pk == design.pk  # beside 摄影群, under 设计美学交流群
        suggestions_refresh(community=survey.community)
        suggestion = GroupSuggestion.objects.get(topic="摄影")
        assert suggestion.parent_id == design.pk
        assert inside.pk not in set(suggestion.matches.values_list("member_id", flat=True))

    def test_the_models_picks_join_as_recommended(self, survey, coders, photo):
        asking(survey, coders, "摄影", 3, admins=1)
        tree.group_update(group=photo, capacity=1)
        fan, lukewarm = member_in(coders), member_in(coders)
        run = RecommendationRun.objects.create(community=survey.community, status=RunStatus.OK)
        MemberRecommendation.objects.create(run=run, member=fan, group=photo, score=0.81, rank=1)
        MemberRecommendation.objects.create(run=run, member=lukewarm, group=photo, score=0.2, rank=1)
        suggestions_refresh(community=survey.community)
        suggestion = GroupSuggestion.objects.get(topic="摄影")
        reasons = dict(suggestion.matches.values_list("member_id", "reason"))
        assert reasons[fan.pk] == MatchReason.RECOMMENDED
        assert lukewarm.pk not in reasons
        assert list(reasons.values()).count(MatchReason.ASKED) == 3
        assert (suggestion.interested, suggestion.recommended) == (3, 1)


class TestRefresh:
    def test_it_is_idempotent(self, survey, coders):
        asking(survey, coders, "读书", 4, admins=2)
        first = suggestions_refresh(community=survey.community)
        assert first["created"] == 1
        suggestion = GroupSuggestion.objects.get()
        matches = list(suggestion.matches.values_list("member_id", "reason", "willing_admin"))
        second = suggestions_refresh(community=survey.community)
        assert second == {"created": 0, "updated": 0, "withdrawn": 0, "unchanged": 1}
        again = GroupSuggestion.objects.get()
        assert again.pk == suggestion.pk and again.updated_at == suggestion.updated_at
        assert list(again.matches.values_list("member_id", "reason", "willing_admin")) == matches
        assert (again.interested, again.willing_admins) == (4, 2)
        # Admins first.
        assert [admin for _member, _reason, admin in matches] == [True, True, False, False]

    def test_new_answers_update_the_pending_suggestion(self, survey, coders):
        asking(survey, coders, "读书", 3, admins=1)
        suggestions_refresh(community=survey.community)
        asking(survey, coders, "读书", 2)
        assert suggestions_refresh(community=survey.community)["updated"] == 1
        assert GroupSuggestion.objects.get().interested == 5

    def test_a_topic_that_no_longer_qualifies_is_withdrawn(self, survey, coders):
        asking(survey, coders, "读书", 3, admins=1)
        suggestions_refresh(community=survey.community)
        survey_update(survey=survey, min_members=10)
        assert suggestions_refresh(community=survey.community)["withdrawn"] == 1
        assert not GroupSuggestion.objects.exists()

    def test_decided_suggestions_are_never_touched(self, survey, coders):
        asking(survey, coders, "读书", 3, admins=1)
        asking(survey, coders, "ai_tools", 3, admins=1)
        suggestions_refresh(community=survey.community)
        reading = GroupSuggestion.objects.get(topic="读书")
        tools = GroupSuggestion.objects.get(topic="ai_tools")
        suggestion_accept(suggestion=reading)
        suggestion_dismiss(suggestion=tools)
        asking(survey, coders, "读书", 3, admins=1)
        asking(survey, coders, "ai_tools", 3, admins=1)
        suggestions_refresh(community=survey.community)
        reading.refresh_from_db()
        assert reading.status == SuggestionStatus.ACCEPTED and reading.interested == 3
        assert GroupSuggestion.objects.get(pk=tools.pk).status == SuggestionStatus.DISMISSED
        # The new group covers 读书 with room; the dismissed topic stays dismissed.
        assert not GroupSuggestion.objects.filter(status=SuggestionStatus.PENDING).exists()
        assert cluster(survey, "ai_tools").state == ClusterState.DISMISSED
        assert cluster(survey, "读书").state == ClusterState.COVERED


class TestAccept:
    @pytest.fixture
    def suggestion(self, survey, coders):
        self.members = asking(survey, coders, "读书", 4, admins=1, handles=True)
        suggestions_refresh(community=survey.community)
        return GroupSuggestion.objects.get()

    def test_it_proposes_the_conventional_name(self, suggestion):
        assert suggestion.proposed_name == "互联网从业者交流群-读书小群01"

    def test_it_creates_the_group_and_invites_the_members(self, suggestion, owner):
        accepted, created = suggestion_accept(suggestion=suggestion, by=owner)
        assert created
        group = accepted.group
        assert group.name == "互联网从业者交流群-读书小群01"
        assert group.parent_id == suggestion.parent_id and group.kind == GroupKind.INTEREST
        assert group.capacity == 150 and group.admission_criteria == {"tags": ["读书"]}
        assert (accepted.status, accepted.invited_count, accepted.decided_by) == ("accepted", 4, owner)
        invitations = list(Invitation.objects.filter(group=group).order_by("pk"))
        assert {invitation.member_id for invitation in invitations} == {member.pk for member in self.members}
        assert invitations[0].member_id == self.members[0].pk  # the willing admin first
        messages = OutboundMessage.objects.filter(group=group, kind=MessageKind.INVITATION).order_by("pk")
        assert messages.count() == 4
        assert "help run it" in messages[0].body and "/invite/" in messages[0].body
        assert "help run it" not in messages[1].body
        assert set(accepted.matches.values_list("invitation_id", flat=True)) == {i.pk for i in invitations}

    def test_the_next_group_on_a_topic_takes_the_next_number(self, suggestion, survey, coders):
        tree.group_create_child(
            parent=Group.objects.get(pk=survey.community.hub_id), name="互联网从业者交流群-读书小群01", kind="interest"
        )
        accepted, _created = suggestion_accept(suggestion=suggestion)
        assert accepted.group.name == "互联网从业者交流群-读书小群02"

    def test_accepting_twice_creates_one_group(self, suggestion):
        first, created = suggestion_accept(suggestion=suggestion)
        second, created_again = suggestion_accept(suggestion=suggestion)
        assert created and not created_again
        assert second.group_id == first.group_id
        assert Group.objects.filter(name=first.group.name).count() == 1
        assert Invitation.objects.filter(group=first.group).count() == 4
        assert OutboundMessage.objects.filter(kind=MessageKind.INVITATION).count() == 4

    def test_invitations_stop_at_the_groups_capacity(self, suggestion):
        GroupSuggestion.objects.filter(pk=suggestion.pk).update(capacity=2)
        accepted, _created = suggestion_accept(suggestion=suggestion)
        assert accepted.group.capacity == 2 and accepted.invited_count == 2
        invited = set(Invitation.objects.filter(group=accepted.group).values_list("member_id", flat=True))
        assert self.members[0].pk in invited  # the admin is never left out

    def test_a_banned_name_refuses_and_creates_nothing(self, suggestion, survey):
        community = survey.community
        community.banned_name_words = ["读书"]
        community.save()
        with pytest.raises(ApplicationError):
            suggestion_accept(suggestion=suggestion)
        suggestion.refresh_from_db()
        assert suggestion.status == SuggestionStatus.PENDING and suggestion.group is None
        assert not Invitation.objects.exists()

    def test_dismissed_and_accepted_do_not_cross(self, suggestion):
        suggestion_dismiss(suggestion=suggestion)
        suggestion_dismiss(suggestion=suggestion)  # twice is harmless
        with pytest.raises(ApplicationError, match="dismissed"):
            suggestion_accept(suggestion=suggestion)
        GroupSuggestion.objects.filter(pk=suggestion.pk).update(status=SuggestionStatus.PENDING, decided_at=None)
        suggestion_accept(suggestion=suggestion)
        with pytest.raises(ApplicationError, match="accepted"):
            suggestion_dismiss(suggestion=suggestion)


def test_the_admin_counts_a_suggestion_s_matches_and_lists_them_paged(survey, coders, client, superuser):
    """Thousands of matches would make an inline of thousands of rows: the change page counts
    them and links to the matches' own list, filtered to this suggestion."""
    import re

    asking(survey, coders, "读书", 4, admins=2)
    asking(survey, coders, "摄影", 3, admins=1)
    suggestions_refresh(community=survey.community)
    reading = GroupSuggestion.objects.get(topic="读书")
    client.force_login(superuser)

    page = client.get(f"/admin/grouping/groupsuggestion/{reading.pk}/change/").content.decode()

    assert "4 matched, 2 willing to be admins" in page
    link = re.search(r'href="(/admin/grouping/suggestedmember/\?suggestion__id__exact=\d+)"', page).group(1)
    listed = client.get(link)
    assert listed.status_code == 200
    assert {match.suggestion_id for match in listed.context["cl"].result_list} == {reading.pk}
    assert listed.context["cl"].result_count == 4
