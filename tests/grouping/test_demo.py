"""The grouping demo on a smaller copy of the demo's 互联网从业者交流群: members with interest
tags, the interest groups that screened them, 60 days of generated activity and its numbers."""

from __future__ import annotations

import random
import re
from copy import deepcopy
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from analytics.services.metrics import metrics_compute
from analytics.services.synthetic import activity_generate
from community import demo as community_demo
from grouping.demo import grouping_demo
from grouping.models import GroupSuggestion, RecommendationRun, RunStatus, SuggestionStatus, SurveyResponse
from grouping.services.suggestions import suggestion_accept
from members.models import Invitation
from subgroups import services
from tests.conftest import settled

pytestmark = pytest.mark.django_db

SCALE = 0.3


def start_of_week() -> datetime:
    """This week's Monday, 00:00 in Shanghai. The generated activity ends there rather than now:
    it then falls on the same weekdays and hours whenever the test runs, so the model's held-out
    figures are the same on every run (ending at ``now``, they moved with the time of day and
    hit@3 fell below the baseline at some hours)."""
    today = timezone.now().astimezone(ZoneInfo("Asia/Shanghai")).date()
    monday = today - timedelta(days=today.weekday())
    return datetime(monday.year, monday.month, monday.day, tzinfo=ZoneInfo("Asia/Shanghai"))


def small_internet_pros(seed: str = "canopy-demo-internet-pros", *, index: int = 0, scale: float | None = None):
    spec = community_demo.COMMUNITIES[index]
    factor = SCALE if scale is None else scale

    def scaled(group):
        return replace(group, members=max(8, int(group.members * factor)), children=tuple(map(scaled, group.children)))

    spec = replace(spec, members=int(spec.members * factor), groups=tuple(map(scaled, spec.groups)))
    rng = random.Random(seed)
    community = services.community_create(name=spec.hub, slug=spec.slug, platform="wecom", capacity=spec.members)
    members = community_demo._create_members(community, spec, rng)
    for group in spec.groups:
        community_demo._create_group(community.hub, group, members, rng)
    activity_generate(
        community=community, members=spec.members - 1, days=60, seed=7, use_existing=True,
        events_target=(spec.members - 1) * 25, now=start_of_week(),
    )  # fmt: skip
    metrics_compute(community=community)
    return community


@pytest.fixture(scope="module")
def built_demo(module_db):
    """Built once for the module: each test runs in a savepoint rolled back after it."""
    community = small_internet_pros()
    summary = grouping_demo(community=community, rng=random.Random("grouping-demo"))
    return settled((community, summary))


@pytest.fixture
def demo(built_demo):
    return deepcopy(built_demo)


def test_it_answers_suggests_and_trains(demo):
    community, summary = demo
    responses = SurveyResponse.objects.filter(survey__community=community)
    members = community_demo.Member.objects.filter(community=community).count()
    assert 0.6 * members < responses.count() < 0.9 * members
    run = RecommendationRun.objects.get(community=community)
    assert run.status == RunStatus.OK and run.n_test > 20
    metrics = run.metrics
    assert metrics["precision_at_1"] > metrics["baseline"]["precision_at_1"]
    assert metrics["hit_rate_at_3"] >= metrics["baseline"]["hit_rate_at_3"]
    assert metrics["precision_at_1"] < 1
    found = re.search(r"hit@3 (\d\.\d\d) vs baseline (\d\.\d\d).* on (\d+) held-out members", summary)
    assert found and float(found.group(1)) == round(metrics["hit_rate_at_3"], 2) and int(found.group(3)) == run.n_test


def test_career_waits_as_a_suggestion_ready_to_accept(demo):
    community, summary = demo
    suggestion = GroupSuggestion.objects.get(community=community, status=SuggestionStatus.PENDING, topic="career")
    assert suggestion.proposed_name == "互联网从业者交流群-职业发展小群01"
    assert suggestion.interested >= 30 and suggestion.willing_admins >= 1
    assert suggestion.proposed_name in summary
    accepted, created = suggestion_accept(suggestion=suggestion)
    assert created and Invitation.objects.filter(group=accepted.group).count() == accepted.invited_count > 0


def test_it_is_deterministic(demo):
    community, summary = demo
    answers = list(
        SurveyResponse.objects.filter(survey__community=community)
        .order_by("member__display_name", "member__phone")
        .values_list("member__display_name", "answers")[:50]
    )
    community.delete()
    again = small_internet_pros()
    assert grouping_demo(community=again, rng=random.Random("grouping-demo")) == summary
    assert (
        list(
            SurveyResponse.objects.filter(survey__community=again)
            .order_by("member__display_name", "member__phone")
            .values_list("member__display_name", "answers")[:50]
        )
        == answers
    )


def test_a_community_without_interest_groups_says_there_is_not_enough_data():
    learners = small_internet_pros("canopy-demo-learners", index=1, scale=0.1)
    summary = grouping_demo(community=learners, rng=random.Random("grouping-demo"))
    assert RecommendationRun.objects.get(community=learners).status == RunStatus.NOT_ENOUGH_DATA
    assert "recommendations: not enough data" in summary
    assert SurveyResponse.objects.filter(survey__community=learners).exists()
