"""The sub-group recommender on a synthetic community whose survey answers and hub messages say
something about each member's interests, noisily: the model must beat the popularity baseline
on members it never saw, and its figures must come from a real split."""

from __future__ import annotations

import itertools
import math
import random
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics.models import Event, EventKind, MemberDay
from grouping.models import MemberRecommendation, RecommendationRun, RunStatus
from grouping.services.recommend import member_features, recommendations_train
from members.models import Member, Membership, MembershipStatus
from members.services import people
from tests.factories import GroupFactory
from tests.grouping.conftest import answer, hub_of, member_in, with_topic

pytestmark = pytest.mark.django_db
_events = itertools.count(1)

WORDS = {
    "设计美学": ["配色", "排版", "字体", "设计稿", "视觉"],
    "摄影": ["镜头", "光圈", "构图", "后期修图", "快门"],
    "程序员技术": ["代码", "接口", "数据库", "部署", "重构"],
    "产品": ["需求", "原型", "用户调研", "迭代", "产品路线"],
}
SMALL_TALK = ["大家好", "早上好", "哈哈", "收到", "谢谢分享", "周末愉快"]


def say(member, group, text: str, when=None) -> Event:
    when = when or timezone.now() - timedelta(days=3)
    return Event.objects.create(
        community_id=member.community_id, group=group, member=member, kind=EventKind.MESSAGE, occurred_at=when,
        day=when.date(), external_id=f"g-{next(_events)}", text=text,
    )  # fmt: skip


def build(community, survey, *, members: int, seed: int = 7) -> dict[str, object]:
    """``members`` members, each with a home interest (uneven popularity) and sometimes a
    second; in those groups; answering the survey and chatting in the hub, both noisily."""
    rng = random.Random(seed)
    hub = hub_of(community)
    groups = {
        "设计美学": community.groups.get(name="设计美学交流群"),
        "摄影": community.groups.get(name="摄影群"),
        "程序员技术": community.groups.get(name="程序员技术群"),
    }
    groups["产品"] = community.groups.filter(name="产品经理研讨群").first() or GroupFactory(
        parent=hub, name="产品经理研讨群", admission_criteria={"tags": ["产品"]}
    )
    if "产品" not in survey.questions.get(key="topics").labels:
        with_topic(survey, "产品")
    topics = list(WORDS)
    weights = [0.45, 0.15, 0.25, 0.15]  # 设计美学 is the popular one: a baseline that is not silly
    seated = {topic: [] for topic in topics}
    start = Member.objects.filter(community=community).count()
    for index in range(members):
        member = people.member_create(community=community, display_name=f"合成{start + index:04d}")
        people.memberships_import(group=hub, members=[member])
        home = rng.choices(topics, weights)[0]
        mine = {home}
        if rng.random() < 0.2:
            mine.add(rng.choice(topics))
        for topic in mine:
            seated[topic].append(member)
        if rng.random() < 0.85:  # most answer; topics are right 75% of the time
            said = [home if rng.random() < 0.75 else rng.choice(topics)]
            if rng.random() < 0.3:
                said.append(rng.choice(topics))
            answer(survey, member, list(dict.fromkeys(said)), admin=rng.choice(["yes", "no", "maybe"]))
        for _message in range(rng.randint(0, 4)):
            topic = home if rng.random() < 0.7 else rng.choice(topics)
            text = rng.choice(SMALL_TALK) + "，" + "、".join(rng.sample(WORDS[topic], 2))
            say(member, hub, text)
        # Chat inside their own groups too: the model must not get to read it.
        say(member, groups[home], f"{home}群里的话")
    for topic, group_members in seated.items():
        people.memberships_import(group=groups[topic], members=group_members)
    return {"groups": groups}


@pytest.fixture
def trained(community, survey):
    world = build(community, survey, members=200)
    return recommendations_train(community=community), world


def truth(member_ids, learned):
    found = {}
    for member_id, group_id in Membership.objects.filter(
        member_id__in=member_ids, group_id__in=learned, status=MembershipStatus.ACTIVE
    ).values_list("member_id", "group_id"):
        found.setdefault(member_id, set()).add(group_id)
    return found


class TestQuality:
    def test_the_model_beats_the_baseline_on_held_out_members(self, trained):
        run, _world = trained
        assert run.status == RunStatus.OK, run.error
        metrics = run.metrics
        assert run.n_test > 0 and run.n_train > run.n_test
        assert run.n_train + run.n_test == run.n_labelled == 200
        assert run.n_labels == 4
        assert metrics["precision_at_1"] > metrics["baseline"]["precision_at_1"] + 0.15
        assert metrics["hit_rate_at_3"] >= metrics["baseline"]["hit_rate_at_3"]
        assert metrics["recall_at_3"] > metrics["baseline"]["recall_at_3"]
        assert metrics["precision_at_1"] < 1.0  # noisy answers: good, not perfect

    def test_the_figures_are_recomputed_from_the_stored_split(self, trained):
        run, _world = trained
        holdout = {int(member_id): ranked for member_id, ranked in run.metrics["holdout"].items()}
        assert len(holdout) == run.n_test
        learned = [int(group_id) for group_id in run.metrics["groups"]]
        actual = truth(list(holdout), learned)
        assert set(actual) == set(holdout)  # every held-out member is labelled
        first = sum(ranked[0] in actual[member_id] for member_id, ranked in holdout.items()) / len(holdout)
        hits = sum(bool(set(ranked[:3]) & actual[member_id]) for member_id, ranked in holdout.items()) / len(holdout)
        baseline = run.metrics["baseline_top"]
        base_first = sum(baseline[0] in groups for groups in actual.values()) / len(actual)
        assert run.metrics["precision_at_1"] == round(first, 4)
        assert run.metrics["hit_rate_at_3"] == round(hits, 4)
        assert run.metrics["baseline"]["precision_at_1"] == round(base_first, 4)
        # The baseline ranks by popularity among the trained members: 设计美学 first.
        assert baseline[0] == run.community.groups.get(name="设计美学交流群").pk

    def test_a_different_seed_holds_out_different_members(self, community, trained):
        run, _world = trained
        other = recommendations_train(community=community, seed=1)
        assert set(other.metrics["holdout"]) != set(run.metrics["holdout"])


class TestRecommendations:
    def test_top_three_per_member_among_groups_they_are_not_in(self, trained):
        run, _world = trained
        rows = list(MemberRecommendation.objects.filter(run=run).order_by("member_id", "rank"))
        assert rows
        by_member = {}
        for row in rows:
            by_member.setdefault(row.member_id, []).append(row)
        own = truth(list(by_member), [int(group_id) for group_id in run.metrics["groups"]])
        for member_id, found in by_member.items():
            assert [row.rank for row in found] == list(range(1, len(found) + 1))
            assert len(found) <= 3
            assert [row.score for row in found] == sorted((row.score for row in found), reverse=True)
            assert not {row.group_id for row in found} & own.get(member_id, set())
            assert all(0.0 <= row.score <= 1.0 for row in found)

    def test_a_new_run_replaces_the_recommendations_and_keeps_the_history(self, community, trained):
        run, _world = trained
        newer = recommendations_train(community=community)
        assert RecommendationRun.objects.filter(community=community).count() == 2
        assert not MemberRecommendation.objects.filter(run=run).exists()
        assert MemberRecommendation.objects.filter(run=newer).exists()


class TestData:
    def test_not_enough_data_is_a_run_that_says_so(self, community, survey, photo, design):
        for _index in range(6):
            member_in(photo)
        run = recommendations_train(community=community)
        assert run.pk and run.status == RunStatus.NOT_ENOUGH_DATA
        assert "Not enough data" in run.error and run.n_test == 0
        assert not MemberRecommendation.objects.exists()

    def test_training_is_set_based(self, community, survey):
        build(community, survey, members=40, seed=1)
        with CaptureQueriesContext(connection) as small:
            assert recommendations_train(community=community).status == RunStatus.OK
        build(community, survey, members=80, seed=2)
        with CaptureQueriesContext(connection) as large:
            assert recommendations_train(community=community).status == RunStatus.OK
        # Inserts of the recommendations come in batches (SQLite takes 999 parameters a query).
        reads = [
            [query["sql"] for query in captured if 'INSERT INTO "grouping_memberrecommendation"' not in query["sql"]]
            for captured in (small.captured_queries, large.captured_queries)
        ]
        assert len(reads[0]) == len(reads[1]) < 20

    def test_features_leave_out_the_label_groups(self, community, survey, photo):
        hub = hub_of(community)
        member = member_in(photo)
        say(member, hub, "大家好，镜头推荐")
        say(member, photo, "摄影群里才说的话")
        today = timezone.now().date()
        for group, messages in ((hub, 2), (photo, 40)):
            MemberDay.objects.create(
                community=community, member=member, group=group, day=today, messages=messages, events=messages,
                last_at=timezone.now(),
            )  # fmt: skip
        frame = member_features(community, [member.pk], label_groups=[photo.pk])
        row = frame.loc[member.pk]
        assert "镜头" in row["text"] and "摄影群里" not in row["text"]
        assert row["activity:messages"] == pytest.approx(math.log1p(2))
        assert row["activity:hub_share"] == 1.0
