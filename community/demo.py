"""The demo: the four communities of the source article (seeds/000), and logins to explore them.

``seed_demo`` is idempotent: what exists is left alone, so a second run changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from members.services import operator_add
from subgroups import services
from subgroups.locks import lock_all_trees
from subgroups.models import Community, Group, GroupKind, Platform
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
    capacity: int
    description: str
    groups: tuple[DemoGroup, ...]
    rules: str = "1. 禁止广告\n2. 文明交流\n3. 修改群昵称"


COMMUNITIES = (
    DemoCommunity(
        slug="internet-pros",
        hub="互联网从业者交流群",
        members=2000,
        capacity=2000,
        description="大群话题多元、成员兴趣分散：按兴趣分出小群。",
        groups=(
            DemoGroup("产品经理研讨群", GroupKind.INTEREST, 150, criteria={"tags": ["产品", "PM"]}),
            DemoGroup("程序员技术群", GroupKind.INTEREST, 180, criteria={"tags": ["技术", "编程"]}),
            DemoGroup("运营增长实战群", GroupKind.INTEREST, 120, criteria={"tags": ["运营", "增长"]}),
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
        capacity=3000,
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
        capacity=5000,
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
        capacity=4000,
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


def _ensure_group(parent: Group, spec: DemoGroup) -> tuple[Group, int]:
    created = 0
    # By slug, which renames leave alone: a renamed demo group is not seeded a second time.
    slug = slug_from_name(spec.name)
    group = Group.objects.filter(community_id=parent.community_id, slug=slug).first()
    if group is None:
        group = services.group_create_child(
            parent=parent,
            slug=slug,
            name=spec.name,
            kind=spec.kind,
            platform=spec.platform,
            capacity=spec.capacity,
            description=spec.description,
            admission_criteria=spec.criteria,
        )
        group = services.group_record_member_count(group=group, member_count=spec.members)
        created += 1
    for child in spec.children:
        created += _ensure_group(group, child)[1]
    return group, created


def _ensure_user(username: str, password: str, *, superuser: bool) -> tuple[Any, bool]:
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    if user is not None:
        return user, False
    if superuser:
        return User.objects.create_superuser(username=username, password=password, email=""), True
    return User.objects.create_user(username=username, password=password), True


@transaction.atomic
def seed_demo(*, with_logins: bool) -> dict[str, int]:
    """Create whatever part of the demo is missing. Returns what it created."""
    # Creating a community needs the exclusive forest lock; take it first rather than upgrading
    # from the shared one that adding groups takes.
    lock_all_trees()
    report = {"communities": 0, "groups": 0, "users": 0}
    communities = []
    for spec in COMMUNITIES:
        community = Community.objects.filter(slug=spec.slug).select_related("hub").first()
        if community is None:
            community = services.community_create(
                name=spec.hub,
                slug=spec.slug,
                platform=Platform.WECOM,
                capacity=spec.capacity,
                description=spec.description,
                rules_text=spec.rules,
            )
            services.group_record_member_count(group=community.hub, member_count=spec.members)
            report["communities"] += 1
        for group_spec in spec.groups:
            report["groups"] += _ensure_group(community.hub, group_spec)[1]
        communities.append(community)

    if with_logins:
        operator, created = _ensure_user(*DEMO_OPERATOR, superuser=False)
        report["users"] += created
        for community in communities:
            operator_add(community=community, user=operator)
        report["users"] += _ensure_user(*DEMO_SUPERUSER, superuser=True)[1]
    return report
