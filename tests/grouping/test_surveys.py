"""The needs survey: its default questions, answers and their validation, and editing it."""

from __future__ import annotations

import pytest
from django.utils import translation

from core.errors import ApplicationError
from grouping.models import NeedsSurvey, SurveyResponse
from grouping.services.surveys import response_submit, survey_for, survey_update
from tests.factories import GroupFactory
from tests.grouping.conftest import answer, hub_of, member_in, with_topic

pytestmark = pytest.mark.django_db


class TestDefaultSurvey:
    def test_it_asks_the_articles_four_questions(self, survey):
        questions = list(survey.questions.order_by("position"))
        assert [(q.key, q.kind) for q in questions] == [
            ("topics", "multiple"),
            ("size", "single"),
            ("frequency", "single"),
            ("admin", "single"),
        ]
        assert all(q.required for q in questions)
        assert [c["value"] for c in questions[1].choices] == ["lt50", "50_150", "150_300", "300_plus"]
        assert [c["value"] for c in questions[2].choices] == ["several_daily", "daily", "few_weekly", "weekly"]
        assert [c["value"] for c in questions[3].choices] == ["yes", "maybe", "no"]
        assert survey.is_open and survey.min_members == 30

    def test_topics_are_the_interest_groups_then_common_topics(self, survey):
        topics = survey.questions.get(key="topics").choices
        values = [choice["value"] for choice in topics]
        # 设计美学交流群 without its suffix, 摄影群 → 摄影, 程序员技术群 → 程序员技术 (no tags on them).
        assert values[:3] == ["设计美学", "摄影", "程序员技术"]
        assert values[3:] == ["career", "ai_tools", "side_projects", "reading"]
        assert topics[3]["label"] == "Career development"

    def test_a_groups_admission_tag_names_its_topic(self, community):
        GroupFactory(parent=hub_of(community), name="产品经理研讨群", admission_criteria={"tags": ["产品"]})
        values = [c["value"] for c in survey_for(community=community).questions.get(key="topics").choices]
        assert "产品" in values and "产品经理研讨群" not in values

    def test_it_is_made_once_in_the_language_active_then(self, community):
        with translation.override("zh-hans"):
            survey = survey_for(community=community)
            expected = translation.gettext("How many people would you rather talk with?")
            no = translation.gettext("No")
        assert no != "No"  # the catalogue has it: the stored label shows the language at creation
        question = survey.questions.get(key="size")
        assert question.text == expected and isinstance(question.text, str)
        assert survey.questions.get(key="admin").choices[2] == {"value": "no", "label": no}
        # Asking again in English returns the same survey, as it was made.
        with translation.override("en"):
            assert survey_for(community=community).pk == survey.pk
            assert survey_for(community=community).questions.get(key="admin").choices[2]["label"] == no
        assert NeedsSurvey.objects.count() == 1


class TestAnswers:
    def test_an_answer_is_stored_as_choice_values(self, survey, design):
        member = member_in(design)
        response, created = response_submit(
            survey=survey,
            member=member,
            answers={"topics": ["摄影", "AI tools"], "size": "50–150", "frequency": "daily", "admin": "Yes"},
        )
        assert created
        # Labels are understood as well as values (a bot relays what people type).
        assert response.answers == {
            "topics": ["摄影", "ai_tools"],
            "size": "50_150",
            "frequency": "daily",
            "admin": "yes",
        }

    def test_answering_again_updates_the_one_response(self, survey, design):
        member = member_in(design)
        first = answer(survey, member, ["摄影"], admin="no")
        second, created = response_submit(
            survey=survey,
            member=member,
            answers={"topics": ["reading"], "size": "lt50", "frequency": "weekly", "admin": "yes"},
        )
        assert not created and second.pk == first.pk
        assert SurveyResponse.objects.count() == 1
        assert second.answers["topics"] == ["reading"] and second.answers["admin"] == "yes"
        assert second.updated_at >= first.updated_at and second.submitted_at == first.submitted_at

    @pytest.mark.parametrize(
        ("answers", "field", "message"),
        [
            ({"topics": ["潜水"], "size": "lt50", "frequency": "daily", "admin": "no"}, "topics", "Not a choice"),
            ({"topics": [], "size": "lt50", "frequency": "daily", "admin": "no"}, "topics", "at least one"),
            ({"topics": ["摄影"], "size": "1000", "frequency": "daily", "admin": "no"}, "size", "not a choice"),
            ({"topics": ["摄影"], "frequency": "daily", "admin": "no"}, "size", "Choose one"),
            ({"topics": ["摄影"], "size": "lt50", "frequency": "daily", "admin": "no", "age": 3}, "age", "no question"),
            ({"topics": ["摄影"], "size": ["lt50"], "frequency": "daily", "admin": "no"}, "size", "not a choice"),
        ],
    )
    def test_bad_answers_are_refused_with_the_question_named(self, survey, design, answers, field, message):
        member = member_in(design)
        with pytest.raises(ApplicationError) as caught:
            response_submit(survey=survey, member=member, answers=answers)
        assert field in caught.value.extra["fields"]
        assert message in caught.value.extra["fields"][field][0]
        assert not SurveyResponse.objects.exists()

    def test_every_problem_is_reported_at_once(self, survey, design):
        with pytest.raises(ApplicationError) as caught:
            response_submit(survey=survey, member=member_in(design), answers={"topics": "nope"})
        assert set(caught.value.extra["fields"]) == {"topics", "size", "frequency", "admin"}

    def test_answers_must_be_an_object(self, survey, design):
        with pytest.raises(ApplicationError):
            response_submit(survey=survey, member=member_in(design), answers=["摄影"])

    def test_a_closed_survey_takes_no_answers(self, survey, design):
        survey_update(survey=survey, is_open=False)
        survey.refresh_from_db()
        with pytest.raises(ApplicationError, match="closed"):
            answer(survey, member_in(design), ["摄影"])

    def test_a_member_of_another_community_cannot_answer(self, survey, other_community):
        stranger = member_in(hub_of(other_community))
        with pytest.raises(ApplicationError):
            answer(survey, stranger, ["摄影"])


class TestEditing:
    def test_adding_and_renaming_choices_keeps_values(self, survey, design):
        member = member_in(design)
        answer(survey, member, ["摄影"])
        question = survey.questions.get(key="topics")
        choices = [dict(choice) for choice in question.choices]
        choices[1]["label"] = "摄影与修图"
        survey_update(survey=survey, questions={"topics": {"choices": [*choices, {"label": "读书会"}]}})
        question.refresh_from_db()
        assert question.choices[1] == {"value": "摄影", "label": "摄影与修图"}
        assert question.choices[-1] == {"value": "读书会", "label": "读书会"}
        # The stored answer still means the same choice.
        assert SurveyResponse.objects.get().answers["topics"] == ["摄影"]

    def test_a_chosen_choice_cannot_be_removed(self, survey, design):
        answer(survey, member_in(design), ["摄影"])
        question = survey.questions.get(key="topics")
        kept = [choice for choice in question.choices if choice["value"] != "摄影"]
        with pytest.raises(ApplicationError, match="rename it"):
            survey_update(survey=survey, questions={"topics": {"choices": kept}})
        unchosen = [choice for choice in question.choices if choice["value"] != "reading"]
        survey_update(survey=survey, questions={"topics": {"choices": unchosen}})
        question.refresh_from_db()
        assert "reading" not in question.labels

    def test_a_topic_with_a_banned_word_is_refused(self, survey):
        with pytest.raises(ApplicationError, match="精英"):
            with_topic(survey, "精英投资")

    @pytest.mark.parametrize(
        "change",
        [
            {"topics": {"choices": [{"label": "摄影"}, {"label": " 摄影 "}]}},
            {"topics": {"choices": [{"label": ""}, {"label": "x"}]}},
            {"topics": {"choices": [{"label": "只有一个"}]}},
            {"topics": {"choices": [{"value": "made-up", "label": "x"}, {"label": "y"}]}},
            {"size": {"text": ""}},
            {"nope": {"text": "?"}},
            {"topics": "x"},
        ],
    )
    def test_bad_edits_are_refused_and_nothing_changes(self, survey, change):
        before = list(survey.questions.values_list("text", "choices"))
        with pytest.raises(ApplicationError):
            survey_update(survey=survey, questions=change)
        assert list(survey.questions.values_list("text", "choices")) == before

    def test_title_threshold_and_opening(self, survey):
        survey_update(survey=survey, title="  2026 需求调研 ", is_open=False, min_members=12)
        survey.refresh_from_db()
        assert (survey.title, survey.is_open, survey.min_members) == ("2026 需求调研", False, 12)
        for bad in (0, -1, "3", True):
            with pytest.raises(ApplicationError):
                survey_update(survey=survey, min_members=bad)
