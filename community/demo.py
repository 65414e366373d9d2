"""The demo: the four communities of the source article (seeds/000), their members and team,
a questionnaire, a few applications waiting for review, a live code, and logins to explore.

``seed_demo`` is idempotent: what exists is left alone, so a second run changes nothing.
Everything is generated from a fixed seed, so every machine gets the same demo.
"""

from __future__ import annotations

import random
import zoneinfo
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone, translation

from analytics.services.metrics import metrics_compute
from analytics.services.reports import health_report_generate
from analytics.services.synthetic import activity_generate
from members import services as people
from members.models import Application, Member, PlatformHandle, Role
from members.services.questionnaire import questionnaire_add_article_questions
from recall.demo import recall_replay
from subgroups import services
from subgroups.locks import lock_all_trees
from subgroups.models import Community, Group, GroupKind, LifecycleStage, Platform
from subgroups.rules import slug_from_name

DEMO_OPERATOR = ("demo", "canopy-demo")
DEMO_SUPERUSER = ("admin", "canopy-admin")


@dataclass(frozen=True)
class DemoGroup:
    name: str
    kind: str
    members: int
    platform: str = Platform.WECHAT
    capacity: int | None = None
    criteria: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    children: tuple[DemoGroup, ...] = ()


@dataclass(frozen=True)
class DemoCommunity:
    slug: str
    hub: str
    members: int
    description: str
    groups: tuple[DemoGroup, ...]
    rules: str = "1. 禁止广告\n2. 文明交流\n3. 修改群昵称"


COMMUNITIES = (
    DemoCommunity(
        slug="internet-pros",
        hub="互联网从业者交流群",
        members=2000,
        description="大群话题多元、成员兴趣分散：按兴趣分出小群。",
        groups=(
            DemoGroup("产品经理研讨群", GroupKind.INTEREST, 150, criteria={"tags": ["产品"]}),
            DemoGroup("程序员技术群", GroupKind.INTEREST, 180, criteria={"tags": ["技术"]}),
            DemoGroup("运营增长实战群", GroupKind.INTEREST, 120, criteria={"tags": ["运营"]}),
            DemoGroup(
                "设计美学交流群",
                GroupKind.INTEREST,
                100,
                criteria={"tags": ["设计"]},
                children=(
                    DemoGroup("互联网从业者交流群-摄影小群01", GroupKind.INTEREST, 48, criteria={"tags": ["摄影"]}),
                ),
            ),
        ),
    ),
    DemoCommunity(
        slug="learners",
        hub="知识付费学员群",
        members=3000,
        description="区分普通用户与核心用户：按购买等级分群。",
        groups=(
            DemoGroup(
                "青铜学员群",
                GroupKind.TIER,
                1800,
                platform=Platform.WECOM,
                capacity=2000,
                criteria={"min_purchases": 0},
                description="全员",
            ),
            DemoGroup("白银会员群", GroupKind.TIER, 420, criteria={"min_purchases": 1}, description="购买1门课程"),
            DemoGroup("黄金VIP群", GroupKind.TIER, 150, criteria={"min_purchases": 3}, description="购买3门课程"),
            DemoGroup(
                "钻石服务群", GroupKind.TIER, 60, capacity=200, criteria={"annual_member": True}, description="年度会员"
            ),
        ),
    ),
    DemoCommunity(
        slug="ev-owners",
        hub="新能源汽车车主群",
        members=5000,
        description="全国性大群需要本地化服务：按城市分群。",
        groups=(
            DemoGroup("北京车友群", GroupKind.REGION, 200, criteria={"cities": ["北京"]}),
            DemoGroup("上海车友群", GroupKind.REGION, 180, criteria={"cities": ["上海"]}),
            DemoGroup("广州车友群", GroupKind.REGION, 150, criteria={"cities": ["广州"]}),
            DemoGroup("成都车友群", GroupKind.REGION, 120, criteria={"cities": ["成都"]}),
        ),
    ),
    DemoCommunity(
        slug="exam-prep",
        hub="考研备考交流群",
        members=4000,
        description="用户成长路径明确：按备考阶段分群。",
        groups=(
            DemoGroup(
                "新手入门群",
                GroupKind.LIFECYCLE,
                460,
                platform=Platform.QQ,
                criteria={"stage": "newcomer"},
                description="刚决定考研",
            ),
            DemoGroup(
                "强化复习群",
                GroupKind.LIFECYCLE,
                380,
                platform=Platform.QQ,
                criteria={"stage": "intensive"},
                description="已备考3个月",
            ),
            DemoGroup(
                "冲刺押题群",
                GroupKind.LIFECYCLE,
                310,
                platform=Platform.QQ,
                criteria={"stage": "sprint"},
                description="临考3个月",
            ),
            DemoGroup(
                "复试调剂群",
                GroupKind.LIFECYCLE,
                120,
                platform=Platform.QQ,
                criteria={"stage": "alumni"},
                description="初试后",
            ),
        ),
    ),
)

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾萧田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
_GIVEN = "伟芳娜秀敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍建红志鹏宇晨欣怡浩然子轩雨桐思远嘉琪一诺梓涵"
_CITIES = (
    ["北京"] * 20
    + ["上海"] * 18
    + ["广州"] * 12
    + ["成都"] * 10
    + ["深圳"] * 12
    + ["杭州"] * 10
    + ["武汉", "西安", "南京", "重庆", "长沙", "苏州", "天津", "郑州", "青岛", "厦门"] * 2
    + ["沈阳"] * 6
)
_INTERESTS = ["产品", "技术", "运营", "设计", "摄影", "职业发展"]
_STAGES = (
    [LifecycleStage.NEWCOMER] * 35
    + [LifecycleStage.INTENSIVE] * 30
    + [LifecycleStage.SPRINT] * 25
    + [LifecycleStage.ALUMNI] * 10
)


def _person(rng: random.Random, index: int) -> dict[str, Any]:
    name = rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2))))
    purchases = rng.choices((0, 1, 2, 3, 4, 6), weights=(50, 18, 12, 10, 6, 4))[0]
    return {
        "display_name": name,
        "phone": f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}" if rng.random() < 0.8 else "",
        "city": rng.choice(_CITIES),
        "purchase_count": purchases,
        "annual_member": rng.random() < 0.05 + 0.05 * (purchases >= 3),
        "lifecycle_stage": rng.choice(_STAGES),
        "tags": rng.sample(_INTERESTS, k=rng.choice((1, 1, 2, 3))),
    }


def _fits(member: Member, group: DemoGroup) -> bool:
    criteria = group.criteria
    if "tags" in criteria:
        return any(tag in member.tags for tag in criteria["tags"])
    if "min_purchases" in criteria:
        return member.purchase_count >= criteria["min_purchases"]
    if criteria.get("annual_member"):
        return member.annual_member
    if "cities" in criteria:
        return member.city in criteria["cities"]
    if "stage" in criteria:
        return member.lifecycle_stage == criteria["stage"]
    return True


def _create_members(community: Community, spec: DemoCommunity, rng: random.Random) -> list[Member]:
    members = Member.objects.bulk_create(
        Member(community=community, **_person(rng, index)) for index in range(spec.members - 1)
    )
    PlatformHandle.objects.bulk_create(
        PlatformHandle(
            community=community,
            member=member,
            platform=Platform.WECHAT if community.hub.platform != Platform.QQ else Platform.QQ,
            external_id=f"{spec.slug}-{index:05d}",
        )
        for index, member in enumerate(members)
    )
    people.memberships_import(group=community.hub, members=members)
    return members


def _create_group(parent: Group, spec: DemoGroup, pool: list[Member], rng: random.Random) -> int:
    group = services.group_create_child(
        parent=parent,
        slug=slug_from_name(spec.name),
        name=spec.name,
        kind=spec.kind,
        platform=spec.platform,
        capacity=spec.capacity,
        description=spec.description,
        rules_text="1. 围绕主题交流\n2. 禁止广告\n3. 互相尊重",
        admission_criteria=spec.criteria,
    )
    candidates = [member for member in pool if _fits(member, spec)]
    chosen = rng.sample(candidates, k=min(spec.members, len(candidates)))
    people.memberships_import(group=group, members=chosen)
    # A small team: an admin and a guide from the group's own members.
    for member, role in zip(chosen[:2], (Role.ADMIN, Role.GUIDE), strict=False):
        people.role_grant(member=member, group=group, role=role)
    created = 1
    for child in spec.children:
        created += _create_group(group, child, chosen, rng)
    return created


def _create_funnel(community: Community, members: list[Member], rng: random.Random) -> None:
    """The article's questionnaire on the interest groups, applications waiting in the queue,
    and a live code for the photography groups."""
    from members.models import KnockoutAction, KnockoutOperator, QuestionKind
    from members.services.questionnaire import question_create, rule_create

    groups = {group.name: group for group in Group.objects.filter(community=community)}
    for group in groups.values():
        if group.kind != GroupKind.INTEREST:
            continue
        questions = questionnaire_add_article_questions(group=group)
        willing = questions[3]
        question_create(
            group=group,
            text="您有哪些社群管理经验？",
            kind=QuestionKind.TEXT,
            show_if_question=willing,
            show_if_answers=["愿意", "看情况"],
        )
        rule_create(
            question=willing,
            operator=KnockoutOperator.ANY_OF,
            value=["愿意"],
            action=KnockoutAction.APPROVE,
            reason="愿意担任管理员，直接通过",
        )
    applicants = [
        ("陈思远", "产品经理研讨群", ["产品", "职业发展"], "50-150人", "看情况", "做过两年读书会群主"),
        ("林嘉琪", "产品经理研讨群", ["产品"], "50人以内", "不愿意", ""),
        ("周一诺", "程序员技术群", ["技术"], "150-500人", "不愿意", ""),
        ("许梓涵", "运营增长实战群", ["运营", "产品"], "50-150人", "看情况", "负责过公司用户群"),
        ("宋浩然", "设计美学交流群", ["设计", "摄影"], "50人以内", "不愿意", ""),
        ("何雨桐", "程序员技术群", ["技术", "职业发展"], "50-150人", "不愿意", ""),
        ("赵子轩", "产品经理研讨群", ["产品", "运营"], "50-150人", "愿意", "管理过 200 人的校友群"),
    ]
    for index, (name, group_name, topics, size, willing, experience) in enumerate(applicants):
        group = groups[group_name]
        questions = list(group.questions.order_by("position"))
        answers = {
            f"q_{questions[0].pk}": topics,
            f"q_{questions[1].pk}": size,
            f"q_{questions[2].pk}": "每天几十条",
            f"q_{questions[3].pk}": willing,
        }
        if experience:
            answers[f"q_{questions[4].pk}"] = experience
        application = people.application_submit(
            group=group,
            display_name=name,
            phone=f"139{rng.randrange(10**8):08d}",
            city=rng.choice(_CITIES),
            platform=Platform.WECHAT,
            external_user_id=f"demo-applicant-{index}",
            answers=answers,
        )
        # Spread the demo's applications over the last few days, so the queue shows its ages.
        Application.objects.filter(pk=application.pk).update(
            submitted_at=timezone.now() - timedelta(hours=6 + 17 * (len(applicants) - index))
        )
    design = groups["设计美学交流群"]
    code = people.livecode_create(
        community=community,
        name="摄影小群活码",
        parent=design,
        attribute="摄影",
        groups=[groups["互联网从业者交流群-摄影小群01"]],
        max_groups=5,
    )
    for index in range(12):
        people.livecode_scan(code=code)
        if index % 3:
            people.livecode_join(
                code=code,
                display_name=rng.choice(_SURNAMES) + rng.choice(_GIVEN),
                platform=Platform.WECHAT,
                external_user_id=f"demo-livecode-{index}",
                verified=True,  # as the demo's bot would report them
            )


_DEMO_POSTS = (
    # group, kind, title, body, what happens to it
    (
        "程序员技术群",
        "knowledge",
        "用 Django 做 Celery 定时任务的三个坑",
        "1. 时区\n2. 幂等\n3. 重试与退避",
        "featured",
    ),
    ("产品经理研讨群", "knowledge", "需求评审清单（附模板）", "评审前先对齐**目标**、**指标**和**边界**。", "featured"),
    ("运营增长实战群", "news", "本周行业动态速递", "- 某平台上线社群分层功能\n- 私域运营报告发布", "published"),
    ("设计美学交流群", "topic", "话题：你最喜欢的一个 App 图标", "说说理由，附截图更好。", "featured"),
    (
        "程序员技术群",
        "fun",
        "周五摸鱼：程序员冷笑话",
        "为什么程序员分不清万圣节和圣诞节？因为 Oct 31 = Dec 25。",
        "published",
    ),
    ("产品经理研讨群", "emotional", "转行做产品一年的感受", "累，但值得。谢谢群里各位的帮助。", "published"),
    ("运营增长实战群", "knowledge", "社群活跃度怎么算", "发言人数 ÷ 群成员数，按周看趋势。", "final"),
    ("程序员技术群", "news", "新人福利", "加微信领取内推资料包", "first"),
    ("设计美学交流群", "topic", "配色讨论", "这配色也太脑残了吧，大家怎么看？", "first"),
    ("产品经理研讨群", "knowledge", "原型工具对比", "Figma、Axure 和墨刀各有所长。", "first"),
    ("运营增长实战群", "fun", "副业推荐", "代开发票，量大从优", "submit"),
)


def _create_content(community: Community, reviewer) -> None:
    """Posts at every stage of review, featured posts and last week's digest, the content
    calendar, auto-replies, a few flagged chat messages and a polling integration."""
    from content.models import PostKind, PostStatus, ReviewDecision, WordCategory
    from content.services import autoreply, calendar, digests, lexicon, moderation, posts
    from outbox.services import integration_create

    groups = {group.name: group for group in Group.objects.filter(community=community)}
    hub = community.hub
    lexicon.word_add(community=community, word="竞品社群宝", category=WordCategory.COMPETITOR)
    lexicon.allowed_add(community=community, term="脑残粉")
    now = timezone.now()
    zone = zoneinfo.ZoneInfo(community.time_zone)
    local_today = timezone.localdate(now, timezone=zone)
    last_monday = local_today - timedelta(days=local_today.weekday() + 7)
    for index, (group_name, kind, title, body, fate) in enumerate(_DEMO_POSTS):
        group = groups[group_name]
        author = Member.objects.filter(memberships__group=group, memberships__role=Role.MEMBER).order_by("pk")[index]
        post = posts.post_submit(group=group, author=author, kind=kind, title=title, body=body)
        if post.status == PostStatus.FIRST_REVIEW and fate in ("final", "published", "featured"):
            post = posts.post_first_review(post=post, by=reviewer, approve=True, note="内容扎实")
        if post.status == PostStatus.FINAL_REVIEW and fate in ("published", "featured"):
            decision = ReviewDecision.FEATURED if fate == "featured" else ReviewDecision.PUBLISHED
            post = posts.post_final_review(post=post, by=reviewer, decision=decision)
        # Published posts fall in last week (which gets its digest); the queues show their ages.
        if post.published_at:
            when = datetime.combine(last_monday + timedelta(days=index % 7), time(10 + index), zone)
            type(post).objects.filter(pk=post.pk).update(created_at=when - timedelta(hours=5), published_at=when)
        else:
            type(post).objects.filter(pk=post.pk).update(created_at=now - timedelta(hours=3 + 19 * index))
    posts.post_submit(
        group=hub,
        author=None,
        kind=PostKind.ANNOUNCEMENT,
        title="群规更新",
        body="本周起，广告一律移出；欢迎大家去兴趣小群深入交流。",
        source="staff",
        by=reviewer,
    )
    digests.digest_draft(community=community, period_start=last_monday, period_end=last_monday + timedelta(days=7))

    calendar.schedule_create(
        group=hub,
        kind=PostKind.KNOWLEDGE,
        title="干货分享",
        body="本期干货：见群公告。",
        weekdays=[1, 3],
        at=time(20, 0),
    )
    calendar.schedule_create(
        group=hub, kind=PostKind.TOPIC, title="话题日", body="今天聊聊：你的职业规划。", weekdays=[2], at=time(20, 0)
    )
    calendar.schedule_create(
        group=groups["程序员技术群"],
        kind=PostKind.FUN,
        title="周五轻松一刻",
        body="分享一个让你笑出声的 bug。",
        weekdays=[4],
        at=time(21, 0),
    )
    autoreply.auto_reply_create(group=hub, keyword="群规", reply=community.hub.rules, match="contains", priority=10)
    autoreply.auto_reply_create(group=hub, keyword="资料", reply="资料合集见群公告第 3 条。", match="contains")
    autoreply.auto_reply_create(
        group=groups["程序员技术群"], keyword="内推", reply="内推请私信管理员，附简历。", match="contains", priority=5
    )
    for index, (group_name, text) in enumerate(
        (
            ("程序员技术群", "有需要代开发票的私聊我"),
            ("产品经理研讨群", "你是不是脑残啊"),
            ("运营增长实战群", "试试竞品社群宝，比这好用"),
        )
    ):
        moderation.message_scan(
            group=groups[group_name],
            platform=groups[group_name].platform,
            external_message_id=f"demo-message-{index}",
            text=text,
            author_external_id=f"{community.slug}-{index + 10:05d}",
        )
    integration_create(community=community, name="演示机器人（轮询）")


def _ensure_user(username: str, password: str, *, superuser: bool) -> tuple[Any, bool]:
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    if user is not None:
        return user, False
    if superuser:
        return User.objects.create_superuser(username=username, password=password, email=""), True
    return User.objects.create_user(username=username, password=password, first_name="演示运营"), True


DEMO_ACTIVITY_DAYS = 60


@transaction.atomic
def seed_demo(*, with_logins: bool, reset: bool = False, activity: bool = True) -> dict[str, Any]:
    """Create whatever part of the demo is missing. Returns what it created, and under
    ``recall`` the recall funnel replayed over the generated activity, summed."""
    # Creating a community needs the exclusive forest lock; take it first rather than upgrading
    # from the shared one that adding groups takes.
    lock_all_trees()
    if reset:
        for community in Community.objects.filter(slug__in=[spec.slug for spec in COMMUNITIES]):
            community.delete()
    report: dict[str, Any] = {"communities": 0, "groups": 0, "members": 0, "users": 0}
    report.update({"recall": Counter(), "growth": []})
    operator = None
    if with_logins:
        operator, created = _ensure_user(*DEMO_OPERATOR, superuser=False)
        report["users"] += created
        report["users"] += _ensure_user(*DEMO_SUPERUSER, superuser=True)[1]
    for spec in COMMUNITIES:
        if Community.objects.filter(slug=spec.slug).exists():
            continue
        rng = random.Random(f"canopy-demo-{spec.slug}")
        community = services.community_create(
            name=spec.hub,
            slug=spec.slug,
            platform=Platform.QQ if spec.slug == "exam-prep" else Platform.WECOM,
            capacity=spec.members,
            description=spec.description,
            rules_text=spec.rules,
            language="zh-hans",  # the demo communities are Chinese: so is everything their members get
        )
        if operator is not None:
            people.owner_add(community=community, user=operator)
        members = _create_members(community, spec, rng)
        hub_team = rng.sample(members, k=3)
        for member in hub_team:
            people.role_grant(member=member, group=community.hub, role=Role.CORE_ADMIN)
        for group_spec in spec.groups:
            report["groups"] += _create_group(community.hub, group_spec, members, rng)
        if spec.slug == "internet-pros":
            _create_funnel(community, members, rng)
            with translation.override("zh-hans"):  # the digest and mirrored announcements read Chinese
                _create_content(community, operator)
        if activity:
            report["recall"].update(_create_activity(community, spec))
            report["growth"].extend(f"{spec.slug}: {line}" for line in _create_growth(community, spec))
        report["communities"] += 1
        report["members"] += Member.objects.filter(community=community).count()
    return report


def _create_activity(community: Community, spec: DemoCommunity) -> dict[str, int]:
    """60 days of synthetic activity acted out by the demo's own members, recall replayed over
    it, then the numbers, so the analytics and recall pages open with populated charts.
    Returns the recall funnel."""
    seed = sum(map(ord, spec.slug))
    activity_generate(
        community=community,
        members=spec.members - 1,
        days=DEMO_ACTIVITY_DAYS,
        seed=seed,
        use_existing=True,
        events_target=(spec.members - 1) * 25,
    )
    # Before the metrics: members' answers to recall are events too, and count like any other.
    funnel = recall_replay(community=community, days=DEMO_ACTIVITY_DAYS, seed=seed)
    metrics_compute(community=community)
    health_report_generate(community=community)
    return funnel


def _create_growth(community: Community, spec: DemoCommunity) -> list[str]:
    """The growth levers on top of the activity: referrals through members' invitation links,
    check-ins, points and the shop, the admin programme, the needs survey with its suggestions
    and recommendations, and lifecycle moves. Each returns a line for the summary. The demo
    communities are Chinese, so the survey's questions and topics and the level names read so."""
    with translation.override("zh-hans"):
        lines = list(_grow(community, spec))
    # The friends who joined and the check-ins written since get their numbers too.
    metrics_compute(community=community)
    return lines


def _grow(community: Community, spec: DemoCommunity):
    from engagement.demo import engagement_demo
    from fission.demo import fission_demo
    from grouping.demo import grouping_demo
    from lifecycle.demo import lifecycle_demo
    from programme.demo import programme_demo

    for name, build in (
        ("fission", fission_demo),
        ("engagement", engagement_demo),
        ("programme", programme_demo),
        ("grouping", grouping_demo),
        ("lifecycle", lifecycle_demo),
    ):
        rng = random.Random(f"canopy-growth-{spec.slug}-{name}")
        yield build(community=community, rng=rng)
