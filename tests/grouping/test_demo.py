"""The grouping demo on a smaller copy of the demo's 互联网从业者交流群: members with interest
tags, the interest groups that screened them, 60 days of generated activity and its numbers."""

from __future__ import annotations

import random
import re
from dataclasses import replace

import pytest

from analytics.services.metrics import metrics_compute
from analytics.services.synthetic import activity_generate
from community import demo as community_demo
from grouping.demo import grouping_demo
from grouping.models import GroupSuggestion, RecommendationRun, RunStatus, SuggestionStatus, SurveyResponse
from grouping.services.suggestions import suggestion_accept
from members.models import Invitation
from subgroups import services

pytestmark = pytest.mark.django_db

SCALE = 0.3


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
        events_target=(spec.members - 1) * 25,
    )  # fmt: skip
    metrics_compute(community=community)
    return community


@pytest.fixture
def demo():
    community = small_internet_pros()
    summary = grouping_demo(community=community, rng=random.Random("grouping-demo"))
    return community, summary


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
