"""Every grouping model in the Django admin: lists, search and change pages open; the records
(responses, suggestions, runs, recommendations) are read-only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from grouping.models import (
    GroupSuggestion,
    MemberRecommendation,
    NeedsSurvey,
    RecommendationRun,
    RunStatus,
    SuggestedMember,
    SurveyQuestion,
    SurveyResponse,
)
from grouping.services.suggestions import suggestions_refresh
from grouping.services.surveys import survey_update
from tests.grouping.conftest import answer, member_in, with_topic

pytestmark = pytest.mark.django_db


def test_every_grouping_model_has_working_admin_pages(client, superuser, community, survey, coders, photo):
    survey_update(survey=survey, min_members=1)
    survey = with_topic(survey, "读书")
    member = member_in(coders)
    answer(survey, member, ["读书"], admin="yes")
    suggestions_refresh(community=community)
    run = RecommendationRun.objects.create(community=community, status=RunStatus.OK, metrics={"precision_at_1": 0.5})
    MemberRecommendation.objects.create(run=run, member=member, group=photo, score=0.7, rank=1)
    client.force_login(superuser)
    models = (
        NeedsSurvey, SurveyQuestion, SurveyResponse, GroupSuggestion, SuggestedMember, RecommendationRun,
        MemberRecommendation,
    )  # fmt: skip
    for model in models:
        name = f"admin:grouping_{model._meta.model_name}"
        assert client.get(reverse(f"{name}_changelist")).status_code == 200, model
        assert client.get(reverse(f"{name}_changelist"), {"q": "群"}).status_code == 200, model
        instance = model.objects.first()
        assert instance is not None, model
        assert client.get(reverse(f"{name}_change", args=[instance.pk])).status_code == 200, model
    for model in (SurveyResponse, GroupSuggestion, SuggestedMember, RecommendationRun, MemberRecommendation):
        assert client.get(reverse(f"admin:grouping_{model._meta.model_name}_add")).status_code == 403, model
    assert client.get(reverse("admin:grouping_needssurvey_add")).status_code == 200
