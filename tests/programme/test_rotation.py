"""The rotation on real activity: plain members ranked by the month's messages and replies."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from analytics.models import EventKind
from analytics.services.metrics import local_today, metrics_compute
from core.errors import ApplicationError
from members.models import Membership, Role
from members.services import people
from programme import selectors, services
from tests.programme.conftest import at, event, member_in, posting

pytestmark = pytest.mark.django_db

MARCH = date(2026, 3, 1)


def ranking(rows) -> list[tuple[str, int]]:
    return [(row.member.display_name, row.total) for row in rows]


def test_the_preview_ranks_plain_members_on_the_month_in_the_subtree(community, design, photo, coders):
    first, second, tied_a, tied_b, quiet = (member_in(design, name) for name in ("甲", "乙", "丙", "丁", "戊"))
    admin = member_in(design, "管理员")
    people.role_grant(member=admin, group=design, role=Role.ADMIN)
    only_below = member_in(photo, "只在摄影群")
    posting(first, design, date(2026, 3, 2), messages=40, replies=20)
    posting(first, photo, date(2026, 3, 20), messages=10)  # below the group: counts
    posting(first, coders, date(2026, 3, 20), messages=500)  # a sibling: does not
    posting(second, design, date(2026, 3, 31), messages=50)
    posting(second, design, date(2026, 4, 1), messages=500)  # April
    posting(tied_a, design, date(2026, 3, 5), replies=30)
    posting(tied_b, design, date(2026, 3, 5), messages=30)
    posting(admin, design, date(2026, 3, 5), messages=900)  # staff are not rotated
    posting(only_below, photo, date(2026, 3, 5), messages=900)  # not a member of the group itself
    assert quiet  # posted nothing: not listed
    rows = selectors.rotation_preview(group=design, month=MARCH)
    assert ranking(rows) == [("甲", 70), ("乙", 50), ("丁", 30), ("丙", 30)]
    assert (rows[0].messages, rows[0].replies) == (50, 20)


def test_a_finished_month_names_guides_for_the_next_month(community, design):
    members = [member_in(design, name) for name in ("甲", "乙", "丙", "丁")]
    for member, count in zip(members, (40, 90, 10, 70), strict=True):
        posting(member, design, date(2026, 3, 10), messages=count)
    guides = services.rotation_run(group=design, month=MARCH, top=3)
    assert [guide.member.display_name for guide in guides] == ["乙", "丁", "甲"]
    assert {guide.role for guide in guides} == {Role.GUIDE}
    assert guides[0].role_until == datetime(2026, 4, 30, 23, 59, 59, tzinfo=UTC)
    assert Membership.objects.get(member=members[2], group=design).role == Role.MEMBER


def test_rotation_counts_what_members_really_said(community, design):
    """Events in, the metric engine's rollups, then the rotation: no typed-in counts."""
    today = local_today(community)
    talker, lurker, reader = member_in(design, "话多"), member_in(design, "偶尔"), member_in(design, "只看")
    for minute in range(6):
        event(talker, design, at(today.year, today.month, today.day, 0, minute), kind=EventKind.MESSAGE)
    event(lurker, design, at(today.year, today.month, today.day, 0, 10), kind=EventKind.REPLY)
    event(reader, design, at(today.year, today.month, today.day, 0, 20), kind=EventKind.VISIT)
    metrics_compute(community=community, full=True)
    this_month = today.replace(day=1)
    assert ranking(selectors.rotation_preview(group=design, month=this_month)) == [("话多", 6), ("偶尔", 1)]
    guides = services.rotation_run(group=design, month=this_month, top=3)
    assert [guide.member for guide in guides] == [talker, lurker]
    last_day = selectors.month_last_day(this_month)
    assert guides[0].role_until == datetime(last_day.year, last_day.month, last_day.day, 23, 59, 59, tzinfo=UTC)


def test_a_month_that_has_not_started_is_refused(design):
    with pytest.raises(ApplicationError) as refused:
        services.rotation_run(group=design, month=date(2099, 1, 1))
    assert refused.value.field == "month"


def test_a_month_nobody_posted_in_is_refused_with_a_reason(design):
    member_in(design)
    with pytest.raises(ApplicationError) as refused:
        services.rotation_run(group=design, month=MARCH)
    assert "nobody to rotate in" in refused.value.message


@pytest.mark.parametrize("top", [0, 21, True])
def test_top_is_1_to_20(design, top):
    with pytest.raises(ApplicationError) as refused:
        services.rotation_run(group=design, month=MARCH, top=top)
    assert refused.value.field == "top"
