"""Smart grouping in the demo: the needs survey answered by most members, their words in the hub,
a sub-group suggestion waiting to be accepted, and the recommender trained on it all.

Runs on top of the demo community (members with interest tags, the interest groups that
screened them by those tags, 60 days of generated activity). Each member's interests are their
interest groups' topics and their own tags; the survey answers and the hub messages follow
them, with noise, so the model is good but not perfect. 职业发展 (career) has no group yet: many
ask for it and some would run it, so it becomes the suggestion to accept.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import timedelta

from django.db import transaction
from django.utils import timezone, translation

from analytics.models import AnalyticsSettings, Event, EventKind
from grouping.models import GroupSuggestion, ResponseSource, RunStatus, SuggestionStatus, SurveyResponse
from grouping.selectors import survey_stats
from grouping.services.recommend import recommendations_train
from grouping.services.suggestions import suggestions_refresh
from grouping.services.surveys import ADMIN, FREQUENCY, SIZE, TOPICS, answers_clean, survey_for, survey_update
from grouping.topics import fold, group_attribute
from members.models import Member, Membership, MembershipStatus
from subgroups.models import Community

ANSWERED = 0.75  # of members answer the survey
KEEP_INTEREST = 0.8  # each of their interests makes it into their answer
STRAY_TOPIC = 0.25  # they also tick a topic they do not care about
ON_TOPIC = 0.7  # of a member's hub messages that are about one of their interests
TEXTS_PER_MEMBER = 6
CAREER_LABEL = "职业发展"
# A few members care about the survey's other common topics: too few for a group of their own.
RARE_INTERESTS = {"ai_tools": 0.02, "side_projects": 0.015, "reading": 0.015}

# What people say about each topic in the hub (by the topic's value, or the fold of its label).
VOCABULARY = {
    "产品": ["需求评审", "原型图", "用户调研", "产品路线图", "PRD怎么写", "竞品分析", "MVP"],
    "技术": ["代码评审", "接口设计", "数据库索引", "微服务", "部署上线", "重构", "Python还是Go"],
    "运营": ["拉新", "留存", "活动策划", "私域流量", "裂变海报", "转化率", "社群运营"],
    "设计": ["配色", "排版", "字体搭配", "Figma", "交互稿", "视觉规范", "设计评审"],
    "摄影": ["镜头推荐", "光圈快门", "构图", "后期修图", "胶片", "外拍", "人像"],
    "career": ["跳槽", "面试技巧", "简历修改", "晋升答辩", "职业规划", "薪资谈判", "转行"],
    "ai_tools": ["大模型", "提示词", "AI写作", "自动化脚本", "AI绘图"],
    "side_projects": ["副业", "独立开发", "接私活", "做小程序"],
    "reading": ["读书笔记", "书单推荐", "共读", "读完了"],
}
SMALL_TALK = ["大家好", "早上好", "哈哈哈", "收到", "谢谢分享", "周末愉快", "同意", "学到了", "有道理"]
SIZES = ["lt50"] * 3 + ["50_150"] * 5 + ["150_300"] * 2 + ["300_plus"]
FREQUENCIES = ["several_daily"] * 2 + ["daily"] * 4 + ["few_weekly"] * 3 + ["weekly"]


def _interests(community: Community, topics: dict[str, str]) -> dict[int, set[str]]:
    """Each member's topics: those of the interest groups they are in, and their own tags."""
    by_fold = {fold(label): value for value, label in topics.items()} | {fold(value): value for value in topics}
    hub_name = community.hub.name
    found: dict[int, set[str]] = defaultdict(set)
    for member_id, tags in Member.objects.filter(community=community).values_list("pk", "tags"):
        for tag in tags or []:
            if fold(tag) in by_fold:
                found[member_id].add(by_fold[fold(tag)])
    memberships = Membership.objects.filter(
        group__community=community, status=MembershipStatus.ACTIVE, group__kind="interest"
    ).select_related("group")
    for membership in memberships:
        topic = by_fold.get(fold(group_attribute(membership.group, hub_name=hub_name)))
        if topic:
            found[membership.member_id].add(topic)
    return found


def _answer(rng: random.Random, mine: set[str], strays: list[str]) -> dict:
    said = [topic for topic in sorted(mine) if rng.random() < KEEP_INTEREST]
    if rng.random() < STRAY_TOPIC or not said:
        said.append(rng.choice(strays))  # a group's topic: ticked without meaning it
    career = "career" in mine
    admin = rng.random()
    return {
        TOPICS: list(dict.fromkeys(said)),
        SIZE: "50_150" if career and rng.random() < 0.5 else rng.choice(SIZES),
        FREQUENCY: rng.choice(FREQUENCIES),
        ADMIN: "yes" if admin < 0.07 + 0.05 * career else "maybe" if admin < 0.3 else "no",
    }


def _say(rng: random.Random, mine: set[str], topics: dict[str, str]) -> str:
    words = rng.choice(SMALL_TALK)
    if rng.random() < ON_TOPIC and mine:
        topic = rng.choice(sorted(mine))
    elif rng.random() < 0.5:
        topic = rng.choice(sorted(topics))
    else:
        return words
    vocabulary = VOCABULARY.get(topic) or VOCABULARY.get(fold(topics[topic])) or [topics[topic]]
    return f"{words}，{rng.choice(vocabulary)}"


@transaction.atomic
def _answers_and_words(community: Community, rng: random.Random) -> int:
    with translation.override("zh-hans"):  # the survey reads Chinese once its strings are translated
        survey = survey_for(community=community)
    question = survey.questions.get(key=TOPICS)
    choices = [dict(choice) for choice in question.choices]
    for choice in choices:
        if choice["value"] == "career":
            choice["label"] = CAREER_LABEL  # the operator words it as members would
    survey = survey_update(survey=survey, questions={TOPICS: {"choices": choices}})
    questions = list(survey.questions.all())
    topics = {choice["value"]: choice["label"] for choice in questions[0].choices}
    interests = _interests(community, topics)
    strays = sorted(value for value in topics if value not in {"career", *RARE_INTERESTS}) or sorted(topics)

    member_ids = list(
        Member.objects.filter(community=community, user__isnull=True).order_by("pk").values_list("pk", flat=True)
    )
    now = timezone.now()
    responses = []
    for member_id in member_ids:
        for topic, share in RARE_INTERESTS.items():
            if topic in topics and rng.random() < share:
                interests[member_id].add(topic)
        if rng.random() >= ANSWERED:
            continue
        answered_at = now - timedelta(days=rng.randrange(0, 14), minutes=rng.randrange(0, 1440))
        responses.append(
            SurveyResponse(
                survey=survey,
                member_id=member_id,
                answers=answers_clean(questions, _answer(rng, interests[member_id], strays)),
                source=ResponseSource.PAGE if rng.random() < 0.7 else ResponseSource.BOT,
                submitted_at=answered_at,
                updated_at=answered_at,
            )
        )
    SurveyResponse.objects.bulk_create(responses, batch_size=1000, ignore_conflicts=True)

    # Their words: the hub's generated messages get texts, and the community now keeps texts.
    AnalyticsSettings.objects.update_or_create(community=community, defaults={"keep_message_text": True})
    events = Event.objects.filter(
        community=community, group_id=community.hub_id, kind__in=[EventKind.MESSAGE, EventKind.REPLY]
    ).order_by("member_id", "-occurred_at")
    by_text: dict[str, list[int]] = defaultdict(list)
    count: dict[int, int] = defaultdict(int)
    for pk, member_id in events.values_list("pk", "member_id"):
        if count[member_id] < TEXTS_PER_MEMBER:
            count[member_id] += 1
            by_text[_say(rng, interests.get(member_id, set()), topics)].append(pk)
    # One UPDATE per distinct text (a few hundred), not one per message.
    for text, pks in by_text.items():
        Event.objects.filter(pk__in=pks).update(text=text, text_length=len(text))
    chosen = [pk for pks in by_text.values() for pk in pks]
    return len(chosen)


def grouping_demo(*, community: Community, rng: random.Random) -> str:
    """Build the demo's survey, answers and hub texts, train the recommender, refresh the
    suggestions; return a one-line summary with the model's held-out quality."""
    community = Community.objects.select_related("hub").get(pk=community.pk)
    texts = _answers_and_words(community, rng)
    run = recommendations_train(community=community, seed=rng.randrange(1000))
    suggestions_refresh(community=community)
    stats = survey_stats(community.needs_survey)
    pending = list(GroupSuggestion.objects.filter(community=community, status=SuggestionStatus.PENDING))
    parts = [
        f"needs survey: {stats['responses']} of {stats['members']} members answered "
        f"({stats['response_rate'] or 0:.0%}), {texts} hub messages with text",
        f"{len(pending)} sub-group suggestion(s) ready"
        + (
            ": "
            + "; ".join(f"{s.proposed_name} ({s.interested} asked, {s.willing_admins} willing admins)" for s in pending)
            if pending
            else ""
        ),
    ]
    if run.status == RunStatus.OK:
        metrics, baseline = run.metrics, run.metrics["baseline"]
        parts.append(
            f"recommendations hit@3 {metrics['hit_rate_at_3']:.2f} vs baseline {baseline['hit_rate_at_3']:.2f}, "
            f"precision@1 {metrics['precision_at_1']:.2f} vs {baseline['precision_at_1']:.2f} "
            f"on {run.n_test} held-out members"
        )
    else:
        parts.append(f"recommendations: {run.get_status_display().lower()}")
    return "; ".join(parts)
