"""Lifecycle tests: the exam-prep stages (阶段) under the test community's hub, students who
joined on a known local day, and a clock in Shanghai time."""

from __future__ import annotations

import itertools
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from lifecycle.services.rules import rule_save
from members.models import Member, Membership, MembershipSource
from members.services import people
from subgroups.models import Group, GroupKind
from tests.factories import GroupFactory
from tests.personas import (  # noqa: F401 - fixtures
    coders,
    design,
    owner,
    personas,
    photo,
    plain_member,
    sibling_admin,
    subtree_admin,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
_ids = itertools.count(1)


def local(day: date, hour: int = 10, minute: int = 0, second: int = 0) -> datetime:
    """That day at a Shanghai wall-clock time."""
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=SHANGHAI)


@pytest.fixture
def stages(community) -> dict[str, Group]:
    return make_stages(community)


def make_stages(community) -> dict[str, Group]:
    """新手入门群 → 强化复习群 → 冲刺押题群 → 复试调剂群, 50 seats each."""
    groups = {}
    for stage, name in (
        ("newcomer", "新手入门群"),
        ("intensive", "强化复习群"),
        ("sprint", "冲刺押题群"),
        ("alumni", "复试调剂群"),
    ):
        groups[stage] = GroupFactory(
            parent=community.hub,
            name=name,
            kind=GroupKind.LIFECYCLE,
            capacity=50,
            admission_criteria={"stage": stage},
        )
    return groups


def student(
    group: Group, *, joined: datetime, name: str | None = None, platform_id: str | None = "auto", stage: str = ""
) -> Member:
    """A member of the hub and of ``group``, in ``group`` since ``joined``."""
    member = people.member_create(
        community=group.community, display_name=name or f"考生{next(_ids):03d}", lifecycle_stage=stage
    )
    people.membership_add(member=member, group=group.community.hub, source=MembershipSource.MANUAL)
    membership = people.membership_add(member=member, group=group, source=MembershipSource.MANUAL)
    Membership.objects.filter(pk=membership.pk).update(joined_at=joined)
    if platform_id:
        external_id = f"qq-{next(_ids)}" if platform_id == "auto" else platform_id
        people.handle_add(member=member, platform=group.platform, external_id=external_id)
    member.refresh_from_db()
    return member


def make_rule(community, from_group, to_group, trigger, **values):
    values.setdefault("name", f"规则{next(_ids)}")
    return rule_save(community=community, from_group=from_group, to_group=to_group, trigger=trigger, **values)


def in_group(member: Member, group: Group) -> bool:
    return Membership.objects.filter(member=member, group=group, status="active").exists()
