"""Programme tests: members and hand-made events at known local times in Asia/Shanghai."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from analytics.models import Event, EventKind, MemberDay
from members.models import Member
from members.services import people
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


def at(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """A Shanghai wall-clock moment."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def member_in(group, name: str | None = None, **fields) -> Member:
    member = people.member_create(community=group.community, display_name=name or f"成员{next(_ids):04d}", **fields)
    people.memberships_import(group=group, members=[member])
    return member


def event(member: Member, group, when: datetime, kind: str = EventKind.VISIT, **fields) -> Event:
    return Event.objects.create(
        community_id=member.community_id,
        group=group,
        member=member,
        kind=kind,
        occurred_at=when,
        day=when.astimezone(SHANGHAI).date(),
        external_id=fields.pop("external_id", None) or f"ev-{next(_ids)}",
        **fields,
    )


def online(member: Member, group, monday: date, hours: int, *, start_hour: int = 8) -> None:
    """``hours`` distinct local clock hours in the week of ``monday``, spread over its days."""
    for index in range(hours):
        offset, hour = divmod(index, 14)
        day = monday + timedelta(days=offset)
        event(member, group, at(day.year, day.month, day.day, start_hour + hour, 5))


def posting(member: Member, group, day: date, *, messages: int = 0, replies: int = 0) -> MemberDay:
    """A daily rollup row as the metric engine would write it."""
    return MemberDay.objects.create(
        community_id=member.community_id,
        member=member,
        group=group,
        day=day,
        messages=messages,
        replies=replies,
        events=messages + replies,
        last_at=datetime(day.year, day.month, day.day, 12, tzinfo=SHANGHAI),
    )


@pytest.fixture
def hub(community):
    """The hub as the database has it now (``community.hub`` predates its children)."""
    from subgroups.models import Group

    return Group.objects.get(pk=community.hub_id)
