"""Recall tests: a community whose members fell silent on a known day, and a clock to move."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from analytics.models import Event, EventKind
from members.models import Member, Membership
from members.services import people
from recall.services.policies import policy_default
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


def local(day: datetime, hour: int = 10, minute: int = 0) -> datetime:
    """That day at a Shanghai wall-clock time."""
    return day.astimezone(SHANGHAI).replace(hour=hour, minute=minute, second=0, microsecond=0)


@pytest.fixture
def quiet_since() -> datetime:
    """Midday, local, 120 days ago: when the test members were last active."""
    return local(timezone.now() - timedelta(days=120), 12)


def at_day(since: datetime, days: int, hour: int = 10) -> datetime:
    """``days`` local days after ``since``, at ``hour`` o'clock."""
    return local(since + timedelta(days=days), hour)


def silent_member(
    group, since: datetime, *, name: str | None = None, platform_id: str | None = None, **fields
) -> Member:
    """A member of ``group`` whose last engaged event was at ``since``."""
    member = people.member_create(community=group.community, display_name=name or f"沉默{next(_ids):03d}", **fields)
    people.memberships_import(group=group, members=[member])
    Membership.objects.filter(member=member).update(joined_at=since - timedelta(days=200))
    Member.objects.filter(pk=member.pk).update(joined_at=since - timedelta(days=200))
    if platform_id:
        people.handle_add(member=member, platform=group.platform or "wecom", external_id=platform_id)
    act(member, group, since)
    member.refresh_from_db()
    return member


def act(member: Member, group, when: datetime, kind: str = EventKind.MESSAGE) -> Event:
    return Event.objects.create(
        community_id=member.community_id,
        group=group,
        member=member,
        kind=kind,
        occurred_at=when,
        day=when.astimezone(SHANGHAI).date(),
        external_id=f"ev-{next(_ids)}",
    )


@pytest.fixture
def policy(community):
    return policy_default(community=community)
