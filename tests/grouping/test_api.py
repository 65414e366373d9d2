"""The grouping API: the survey, bots' answers, the pivot, suggestions, recommendations."""

from __future__ import annotations

import pytest

from grouping.models import (
    GroupSuggestion,
    MemberRecommendation,
    RecommendationRun,
    RunStatus,
    SuggestionStatus,
    SurveyResponse,
)
from grouping.services.suggestions import suggestions_refresh
from grouping.services.surveys import survey_update
from members.models import Invitation, Role
from tests.factories import staff_user
from tests.grouping.conftest import answer, member_in, with_topic
from tests.personas import api_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def bot(coders):
    """An integration's user: admin of 程序员技术群, so it may speak for its members."""
    return api_client(staff_user("bot", group=coders, role=Role.ADMIN))


@pytest.fixture
def ready(survey, coders):
    survey_update(survey=survey, min_members=3)
    survey = with_topic(survey, "读书")
    for index in range(3):
        answer(survey, member_in(coders, handle=f"wx-r{index}"), ["读书"], admin="yes" if index == 0 else "no")
    suggestions_refresh(community=survey.community)
    return GroupSuggestion.objects.get()


class TestSurvey:
    def test_anyone_who_sees_the_community_reads_it(self, community, owner, subtree_admin, survey):
        for user in (owner, subtree_admin):
            response = api_client(user).get(f"/api/v1/communities/{community.pk}/needs-survey/")
            assert response.status_code == 200
            body = response.json()
            assert [q["key"] for q in body["questions"]] == ["topics", "size", "frequency", "admin"]
            assert body["questions"][1]["choices"][0] == {"value": "lt50", "label": "Fewer than 50"}
            assert body["responses"] == 0 and body["is_open"] is True

    def test_operators_change_it(self, community, owner, survey):
        topics = survey.questions.get(key="topics").choices
        renamed = [{**topics[0], "label": "设计"}, *topics[1:], {"label": "读书"}]
        response = api_client(owner).put(
            f"/api/v1/communities/{community.pk}/needs-survey/",
            {"is_open": False, "min_members": 12, "questions": [{"key": "topics", "choices": renamed}]},
        )
        assert response.status_code == 200, response.json()
        body = response.json()
        assert body["is_open"] is False and body["min_members"] == 12
        assert body["questions"][0]["choices"][0] == {"value": "设计美学", "label": "设计"}
        assert body["questions"][0]["choices"][-1] == {"value": "读书", "label": "读书"}

    def test_a_refused_change_is_a_400_naming_the_question(self, community, owner, survey):
        topics = survey.questions.get(key="topics").choices
        response = api_client(owner).put(
            f"/api/v1/communities/{community.pk}/needs-survey/",
            {"questions": [{"key": "topics", "choices": [*topics, {"label": "高级会员"}]}]},
        )
        assert response.status_code == 400
        assert "高级" in response.json()["extra"]["fields"]["topics"][0]
        bad = api_client(owner).put(f"/api/v1/communities/{community.pk}/needs-survey/", {"min_members": "many"})
        assert bad.status_code == 400 and "min_members" in bad.json()["extra"]["fields"]

    def test_admins_below_the_hub_cannot_change_it(self, community, subtree_admin, outsider, survey):
        url = f"/api/v1/communities/{community.pk}/needs-survey/"
        assert api_client(subtree_admin).put(url, {"is_open": False}).status_code == 403
        assert api_client(outsider).put(url, {"is_open": False}).status_code == 404
        assert api_client(outsider).get(url).status_code == 404


class TestBotAnswers:
    def test_a_bot_answers_for_a_member_by_platform_account_and_again(self, community, coders, bot, survey):
        member = member_in(coders, handle="wx-lin")
        body = {
            "community": community.pk,
            "platform": coders.platform,
            "user_id": "wx-lin",
            "answers": {"topics": ["摄影", "Reading"], "size": "50–150", "frequency": "daily", "admin": "yes"},
        }
        first = bot.post("/api/v1/needs-survey/responses/", body)
        assert first.status_code == 201, first.json()
        assert first.json()["answers"]["topics"] == ["摄影", "reading"] and first.json()["created"] is True
        second = bot.post("/api/v1/needs-survey/responses/", {**body, "answers": {**body["answers"], "admin": "no"}})
        assert second.status_code == 200 and second.json()["created"] is False
        stored = SurveyResponse.objects.get(member=member)
        assert stored.answers["admin"] == "no" and stored.source == "bot"

    def test_by_member_id(self, community, coders, bot, survey):
        member = member_in(coders)
        response = bot.post(
            "/api/v1/needs-survey/responses/",
            {"community": community.pk, "member": member.pk, "answers": {"topics": ["摄影"], "size": "lt50",
                                                                          "frequency": "weekly", "admin": "no"}},
        )  # fmt: skip
        assert response.status_code == 201

    def test_bad_answers_are_a_400_per_question(self, community, coders, bot, survey):
        member = member_in(coders)
        response = bot.post(
            "/api/v1/needs-survey/responses/",
            {"community": community.pk, "member": member.pk, "answers": {"topics": ["潜水"], "size": "lt50"}},
        )
        assert response.status_code == 400
        assert set(response.json()["extra"]["fields"]) == {"topics", "frequency", "admin"}
        assert not SurveyResponse.objects.exists()

    def test_a_bot_speaks_only_for_members_of_its_groups(self, community, design, bot, survey):
        stranger = member_in(design)
        answers = {"topics": ["摄影"], "size": "lt50", "frequency": "weekly", "admin": "no"}
        assert (
            bot.post(
                "/api/v1/needs-survey/responses/",
                {"community": community.pk, "member": stranger.pk, "answers": answers},
            ).status_code
            == 404
        )
        assert (
            bot.post(
                "/api/v1/needs-survey/responses/",
                {"community": community.pk, "platform": "wecom", "user_id": "nobody", "answers": answers},
            ).status_code
            == 404
        )
        assert (
            bot.post("/api/v1/needs-survey/responses/", {"community": community.pk, "answers": answers}).status_code
            == 400
        )


class TestPivotAndSuggestions:
    def test_the_pivot(self, community, owner, ready):
        body = api_client(owner).get(f"/api/v1/communities/{community.pk}/needs-survey/pivot/").json()
        assert body["responses"] == 3 and body["members"] == 4  # and the owner, on the hub
        admin = next(table for table in body["tables"] if table["key"] == "admin")
        rows = {row["topic"]: row["counts"] for row in admin["rows"]}
        assert admin["columns"] == ["Yes", "Maybe", "No", "∑"]
        assert rows["读书"] == [1, 0, 2, 3]
        reading = next(topic for topic in body["topics"] if topic["topic"] == "读书")
        assert reading["state"] == "suggested" and reading["willing_admins"] == 1

    def test_list_accept_and_accept_again(self, community, owner, ready):
        client = api_client(owner)
        listed = client.get(f"/api/v1/group-suggestions/?community={community.pk}&status=pending").json()
        assert [item["id"] for item in listed["results"]] == [ready.pk]
        assert listed["results"][0]["matches"][0]["willing_admin"] is True
        first = client.post(f"/api/v1/group-suggestions/{ready.pk}/accept/", {})
        assert first.status_code == 201, first.json()
        group = first.json()["group"]
        assert first.json()["status"] == "accepted" and first.json()["invited_count"] == 3
        again = client.post(f"/api/v1/group-suggestions/{ready.pk}/accept/", {})
        assert again.status_code == 200 and again.json()["group"] == group
        assert Invitation.objects.filter(group_id=group).count() == 3

    def test_accept_under_another_parent(self, community, owner, ready, design):
        response = api_client(owner).post(f"/api/v1/group-suggestions/{ready.pk}/accept/", {"parent": design.pk})
        assert response.status_code == 201
        ready.refresh_from_db()
        assert ready.group.parent_id == design.pk

    def test_accept_under_a_parent_elsewhere_is_refused(self, community, owner, ready, other_community):
        response = api_client(owner).post(
            f"/api/v1/group-suggestions/{ready.pk}/accept/", {"parent": other_community.hub_id}
        )
        assert response.status_code == 400 and "parent" in response.json()["extra"]["fields"]
        ready.refresh_from_db()
        assert ready.status == SuggestionStatus.PENDING

    def test_dismiss(self, community, owner, ready):
        response = api_client(owner).post(f"/api/v1/group-suggestions/{ready.pk}/dismiss/")
        assert response.status_code == 200 and response.json()["status"] == "dismissed"
        refused = api_client(owner).post(f"/api/v1/group-suggestions/{ready.pk}/accept/", {})
        assert refused.status_code == 400


class TestRecommendations:
    @pytest.fixture
    def picks(self, community, design, photo, coders):
        run = RecommendationRun.objects.create(community=community, status=RunStatus.OK, metrics={"holdout": {"1": []}})
        designer = member_in(design, name="设计师")
        MemberRecommendation.objects.create(run=run, member=designer, group=photo, score=0.9, rank=1)
        MemberRecommendation.objects.create(run=run, member=designer, group=coders, score=0.3, rank=2)
        return designer

    def test_a_members_recommendations(self, owner, picks, photo, coders):
        body = api_client(owner).get(f"/api/v1/members/{picks.pk}/recommendations/").json()
        assert [(item["group"], item["rank"], item["score"]) for item in body["recommendations"]] == [
            (photo.pk, 1, 0.9),
            (coders.pk, 2, 0.3),
        ]
        assert body["recommendations"][0]["group_name"] == "摄影群" and body["run"]

    def test_they_are_scoped_to_the_members_groups(self, subtree_admin, sibling_admin, outsider, picks):
        assert api_client(subtree_admin).get(f"/api/v1/members/{picks.pk}/recommendations/").status_code == 200
        assert api_client(sibling_admin).get(f"/api/v1/members/{picks.pk}/recommendations/").status_code == 404
        assert api_client(outsider).get(f"/api/v1/members/{picks.pk}/recommendations/").status_code == 404

    def test_the_run_leaves_out_the_held_out_members(self, community, owner, picks):
        body = api_client(owner).get(f"/api/v1/communities/{community.pk}/recommendations/").json()
        assert body["status"] == "ok" and "holdout" not in body["metrics"]

    def test_retrain(self, community, owner, survey, eager_tasks, django_capture_on_commit_callbacks):
        assert api_client(owner).get(f"/api/v1/communities/{community.pk}/recommendations/").status_code == 404
        with django_capture_on_commit_callbacks(execute=True):
            response = api_client(owner).post(f"/api/v1/communities/{community.pk}/recommendations/retrain/")
        assert response.status_code == 202
        assert RecommendationRun.objects.get().status == RunStatus.NOT_ENOUGH_DATA
