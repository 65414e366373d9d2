"""Engagement tests: members in the test community, points to spend, and days in the past."""

from __future__ import annotations

import itertools
import secrets
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from content.models import Post, PostKind, PostStatus
from engagement.services.checkins import checkin_record
from members.models import Member
from members.services import people
from members.services.points import points_grant
from subgroups.models import Group
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


def member_in(group, name: str | None = None, *, platform_id: str | None = None) -> Member:
    member = people.member_create(community=group.community, display_name=name or f"成员{next(_ids):03d}")
    people.memberships_import(group=group, members=[member])
    if platform_id:
        people.handle_add(member=member, platform=group.platform or "wecom", external_id=platform_id)
    return member


def grant(member: Member, amount: int, reason: str = "post") -> None:
    points_grant(member=member, amount=amount, reason=reason, key=f"test:{next(_ids)}")


def days_ago(days: int, hour: int = 10) -> datetime:
    """``days`` Shanghai days before today, at ``hour`` o'clock local."""
    now = timezone.now().astimezone(SHANGHAI)
    at = (now - timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)
    return min(at, now)  # today at 10:00 may still be ahead


def check_in_days(member: Member, *days_back: int) -> None:
    for days in days_back:
        checkin_record(member=member, source="api", at=days_ago(days))


def published_post(group, author: Member | None, *, featured: bool = False, title: str = "一篇好文") -> Post:
    return Post.objects.create(
        community_id=group.community_id,
        group=group,
        author=author,
        kind=PostKind.KNOWLEDGE,
        title=title,
        body="正文",
        body_html="<p>正文</p>",
        status=PostStatus.PUBLISHED,
        featured=featured,
        status_token=secrets.token_urlsafe(24),
        published_at=timezone.now() - timedelta(hours=1),
    )


@pytest.fixture
def alice(community) -> Member:
    """In 摄影群, under 设计美学交流群."""
    return member_in(Group.objects.get(community=community, name="摄影群"), "小爱", platform_id="wx-alice")


@pytest.fixture
def bob(community) -> Member:
    """In 程序员技术群, the sibling."""
    return member_in(Group.objects.get(community=community, name="程序员技术群"), "小波", platform_id="wx-bob")
