"""Grouping's Celery tasks: the nightly fan-out and the per-community refresh."""

from __future__ import annotations

import pytest
from django.conf import settings

from grouping.models import GroupSuggestion, RecommendationRun, RunStatus
from grouping.services.surveys import survey_update
from grouping.tasks import grouping_all, grouping_refresh
from tests.grouping.conftest import answer, member_in, with_topic

pytestmark = pytest.mark.django_db


def test_beat_runs_it_nightly():
    entry = settings.CELERY_BEAT_SCHEDULE["grouping-nightly"]
    assert entry["task"] == "grouping.tasks.grouping_all"


def test_every_community_with_interest_groups_is_refreshed(community, other_community, eager_tasks):
    # 互联网从业者交流群 has interest groups; 新能源汽车车主群 has only a region group and no survey.
    assert grouping_all.delay().get() == 1
    assert list(RecommendationRun.objects.values_list("community_id", flat=True)) == [community.pk]


def test_a_refresh_trains_then_suggests(community, survey, coders):
    survey_update(survey=survey, min_members=2)
    survey = with_topic(survey, "读书")
    answer(survey, member_in(coders), ["读书"], admin="yes")
    answer(survey, member_in(coders), ["读书"])
    result = grouping_refresh(community.pk)
    assert result["status"] == RunStatus.NOT_ENOUGH_DATA and result["created"] == 1
    assert GroupSuggestion.objects.get().topic == "读书"
    assert grouping_refresh(10**9) == {}
