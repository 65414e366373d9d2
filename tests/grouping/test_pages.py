"""The grouping pages: the dashboard and its actions, the survey editor, and the member's
survey page."""

from __future__ import annotations

import io

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from engagement.services.passes import member_pass
from grouping.models import GroupSuggestion, RecommendationRun, RunStatus, SuggestionStatus, SurveyResponse
from grouping.services.suggestions import suggestions_refresh
from grouping.services.surveys import survey_update
from members.models import Invitation
from outbox.models import MessageKind, OutboundMessage
from tests.grouping.conftest import answer, member_in, with_topic
from tests.grouping.test_recommend import build
from tests.personas import page_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def ready(survey, coders):
    """Four members asked for 读书, one will run it: a suggestion waits."""
    survey_update(survey=survey, min_members=4)
    survey = with_topic(survey, "读书")
    members = []
    for index in range(4):
        member = member_in(coders, name=f"书友{index}", handle=f"wx-book-{index}")
        answer(survey, member, ["读书"], admin="yes" if index == 0 else "no")
        members.append(member)
    suggestions_refresh(community=survey.community)
    return GroupSuggestion.objects.get()


def url(name, community, *args):
    return reverse(f"grouping:{name}", args=[community.slug, *args])


class TestOverview:
    def test_it_shows_the_survey_the_tables_and_the_suggestion(self, community, owner, ready):
        response = page_client(owner).get(url("overview", community))
        assert response.status_code == 200
        html = response.content.decode()
        assert 'data-figure="responses">4<' in html
        assert "互联网从业者交流群-读书小群01" in html
        assert url("accept", community, ready.pk) in html
        assert "书友0" in html  # the willing admin, named
        assert 'data-pivot="size"' in html and 'data-pivot="admin"' in html
        assert 'id="grouping-demand"' in html
        assert 'href="/c/internet/growth/grouping/" aria-current="page"' in html  # the growth tabs

    def test_exports(self, community, owner, ready):
        client = page_client(owner)
        csv = client.get(url("overview", community), {"export": "csv"})
        assert csv["Content-Type"].startswith("text/csv")
        text = csv.content.decode("utf-8-sig")
        assert "读书" in text and "∑" in text
        xlsx = client.get(url("overview", community), {"export": "xlsx"})
        book = load_workbook(io.BytesIO(xlsx.content))
        assert book.sheetnames == ["size", "frequency", "admin", "topics"]
        topics = {row[0].value: row[1].value for row in book["topics"].iter_rows(min_row=2)}
        assert topics["读书"] == 4
        assert client.get(url("overview", community), {"export": "pdf"}).status_code == 404

    def test_the_quality_card_and_the_recommendations(
        self, community, owner, survey, eager_tasks, django_capture_on_commit_callbacks
    ):
        build(community, survey, members=60, seed=3)
        client = page_client(owner)
        with django_capture_on_commit_callbacks(execute=True):
            client.post(url("retrain", community))
        run = RecommendationRun.objects.get()
        assert run.status == RunStatus.OK
        html = client.get(url("overview", community)).content.decode()
        assert 'data-metric="precision_at_1"' in html and 'id="recommendation-table"' in html
        member = run.recommendations.select_related("member").first().member
        found = client.get(url("overview", community), {"q": member.display_name}).content.decode()
        assert member.display_name in found
        none = client.get(url("overview", community), {"q": "没有这个人"}).content.decode()
        assert "No member matches." in none

    def test_not_enough_data_is_said_plainly(
        self, community, owner, survey, eager_tasks, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            page_client(owner).post(url("retrain", community))
        run = RecommendationRun.objects.get()
        assert run.status == RunStatus.NOT_ENOUGH_DATA
        html = page_client(owner).get(url("overview", community)).content.decode()
        assert 'data-run-status="not_enough_data"' in html and "Not enough data" in html


class TestActions:
    def test_accepting_creates_the_group_and_says_so(self, community, owner, ready):
        client = page_client(owner)
        response = client.post(url("accept", community, ready.pk), follow=True)
        html = response.content.decode()
        assert "互联网从业者交流群-读书小群01" in html and "4 invitations" in html
        ready.refresh_from_db()
        assert ready.status == SuggestionStatus.ACCEPTED and ready.group.name == "互联网从业者交流群-读书小群01"
        assert Invitation.objects.filter(group=ready.group).count() == 4
        assert OutboundMessage.objects.filter(kind=MessageKind.INVITATION, group=ready.group).count() == 4
        again = client.post(url("accept", community, ready.pk), follow=True).content.decode()
        assert "Already accepted" in again
        assert Invitation.objects.filter(group=ready.group).count() == 4
        # The decided table lists the admins to make guides, with the team page.
        assert reverse("members:team", args=[community.slug, ready.group_id]) in again

    def test_dismissing(self, community, owner, ready):
        response = page_client(owner).post(url("dismiss", community, ready.pk), follow=True)
        assert "not suggested again" in response.content.decode()
        ready.refresh_from_db()
        assert ready.status == SuggestionStatus.DISMISSED and ready.decided_at

    def test_the_threshold_withdraws_and_refreshes(self, community, owner, ready):
        client = page_client(owner)
        client.post(url("threshold", community), {"min_members": "10"})
        assert not GroupSuggestion.objects.exists()
        client.post(url("threshold", community), {"min_members": "4"})
        assert GroupSuggestion.objects.filter(status=SuggestionStatus.PENDING).count() == 1
        response = client.post(url("threshold", community), {"min_members": "zero"}, follow=True)
        assert "whole number" in response.content.decode()

    def test_refresh(self, community, owner, ready):
        GroupSuggestion.objects.all().delete()
        page_client(owner).post(url("refresh", community))
        assert GroupSuggestion.objects.count() == 1


class TestSurveyEditor:
    def test_it_saves_texts_renames_adds_and_closes(self, community, owner, survey):
        client = page_client(owner)
        page = client.get(url("survey_edit", community))
        assert page.status_code == 200 and 'data-question="topics"' in page.content.decode()
        form = page.context["form"]
        data = {name: field.value() for name, field in ((n, form[n]) for n in form.fields) if field.value() is not None}
        data = {name: value for name, value in data.items() if value is not False}
        data.pop("is_open")  # close it
        data["title"] = "2026 需求调研"
        data["topics__label_1"] = "摄影与修图"
        data["topics__new"] = "读书\n健身"
        response = client.post(url("survey_edit", community), data)
        assert response.status_code == 302
        survey.refresh_from_db()
        topics = survey.questions.get(key="topics").choices
        assert survey.title == "2026 需求调研" and not survey.is_open
        assert topics[1] == {"value": "摄影", "label": "摄影与修图"}
        assert [c["label"] for c in topics[-2:]] == ["读书", "健身"]

    def test_a_refused_edit_is_shown_next_to_its_question(self, community, owner, survey):
        client = page_client(owner)
        form = client.get(url("survey_edit", community)).context["form"]
        data = {n: form[n].value() for n in form.fields if form[n].value() not in (None, False)}
        data["topics__new"] = "精英俱乐部"
        response = client.post(url("survey_edit", community), data)
        assert response.status_code == 400
        assert "精英" in response.content.decode()
        assert "精英俱乐部" not in survey.questions.get(key="topics").labels.values()


class TestMemberPage:
    @pytest.fixture
    def member(self, design):
        return member_in(design, name="小林")

    def test_a_member_answers_and_comes_back_to_change_it(self, member, survey):
        link = reverse("grouping:survey", args=[member_pass(member=member).token])
        client = Client(enforce_csrf_checks=True)
        page = client.get(link)
        assert page.status_code == 200
        html = page.content.decode()
        assert "小林" in html and "How many people would you rather talk with?" in html
        token = page.cookies["csrftoken"].value
        answers = {"topics": ["摄影", "reading"], "size": "lt50", "frequency": "daily", "admin": "maybe"}
        response = client.post(link, {**answers, "csrfmiddlewaretoken": token})
        assert response.status_code == 302 and response["Location"].endswith("?saved=1")
        stored = SurveyResponse.objects.get(member=member)
        assert stored.answers == answers
        again = client.get(link)
        assert 'data-saved="1"' not in again.content.decode()  # "saved" shows only right after sending
        assert again.context["form"]["size"].value() == "lt50"  # the form opens on their answers
        assert "Update my answers" in again.content.decode()
        client.post(link, {**answers, "admin": "yes", "csrfmiddlewaretoken": token})
        assert SurveyResponse.objects.get(member=member).answers["admin"] == "yes"
        assert SurveyResponse.objects.count() == 1

    def test_it_needs_the_csrf_token(self, member, survey):
        link = reverse("grouping:survey", args=[member_pass(member=member).token])
        response = Client(enforce_csrf_checks=True).post(link, {"topics": ["摄影"]})
        assert response.status_code == 403
        assert not SurveyResponse.objects.exists()

    def test_missing_and_unknown_answers_are_shown_on_the_form(self, member, survey):
        link = reverse("grouping:survey", args=[member_pass(member=member).token])
        response = Client().post(link, {"topics": ["摄影"], "size": "nope"})
        assert response.status_code == 400
        html = response.content.decode()
        assert "Choose one." in html  # frequency and admin
        assert not SurveyResponse.objects.exists()

    def test_a_closed_survey_says_so(self, member, survey):
        survey_update(survey=survey, is_open=False)
        link = reverse("grouping:survey", args=[member_pass(member=member).token])
        assert 'data-closed="1"' in Client().get(link).content.decode()
        response = Client().post(link, {"topics": ["摄影"], "size": "lt50", "frequency": "daily", "admin": "no"})
        assert response.status_code == 400 and not SurveyResponse.objects.exists()

    def test_a_wrong_token_is_a_404(self, db):
        assert Client().get(reverse("grouping:survey", args=["not-a-token"])).status_code == 404


def test_the_overview_reads_in_a_fixed_number_of_queries(community, owner, ready, coders, survey):
    client = page_client(owner)
    client.get(url("overview", community))
    with CaptureQueriesContext(connection) as few:
        client.get(url("overview", community))
    survey = with_topic(survey, "健身")
    for index in range(6):
        answer(survey, member_in(coders), ["读书", "健身"], admin="yes" if index < 2 else "no")
    survey_update(survey=survey, min_members=4)
    suggestions_refresh(community=community)
    assert GroupSuggestion.objects.count() == 2
    with CaptureQueriesContext(connection) as more:
        client.get(url("overview", community))
    assert len(more.captured_queries) == len(few.captured_queries)
