"""Online hours: distinct local clock hours with any event, per member and ISO week."""

from __future__ import annotations

from datetime import UTC, date

import pytest

from analytics.models import EventKind
from programme import selectors
from tests.programme.conftest import at, event, member_in, online

pytestmark = pytest.mark.django_db

WEEK = date(2026, 3, 2)  # a Monday
NEXT_WEEK = date(2026, 3, 9)


def hours_of(community, member, start=date(2026, 2, 1), end=date(2026, 4, 1)):
    return selectors.online_hours_by_week(community=community, start=start, end=end, members=[member.pk]).get(
        member.pk, {}
    )


def test_events_within_one_clock_hour_count_once(community, design):
    member = member_in(design)
    event(member, design, at(2026, 3, 3, 10, 5))
    event(member, design, at(2026, 3, 3, 10, 55), kind=EventKind.MESSAGE)
    event(member, design, at(2026, 3, 3, 10, 59), kind=EventKind.REACTION)
    assert hours_of(community, member) == {WEEK: 1}


def test_the_next_minute_past_the_hour_is_another_hour(community, design):
    member = member_in(design)
    event(member, design, at(2026, 3, 3, 10, 59))
    event(member, design, at(2026, 3, 3, 11, 0))
    assert hours_of(community, member) == {WEEK: 2}


def test_the_same_hour_on_two_days_is_two_hours(community, design):
    member = member_in(design)
    event(member, design, at(2026, 3, 3, 23, 30))
    event(member, design, at(2026, 3, 4, 23, 30))
    assert hours_of(community, member) == {WEEK: 2}


def test_weeks_end_at_local_midnight_on_sunday(community, design):
    """Sunday 23:30 and Monday 00:10 in Shanghai are both Sunday in UTC (15:30 and 16:10):
    the local week decides, so they fall in two weeks."""
    member = member_in(design)
    sunday_night = at(2026, 3, 8, 23, 30)
    monday_morning = at(2026, 3, 9, 0, 10)
    assert sunday_night.astimezone(UTC).weekday() == monday_morning.astimezone(UTC).weekday() == 6
    event(member, design, sunday_night)
    event(member, design, monday_morning)
    assert hours_of(community, member) == {WEEK: 1, NEXT_WEEK: 1}


def test_local_hours_not_utc_hours_are_counted(community, design):
    """09:40 and 10:20 in Shanghai are 01:40 and 02:20 UTC, two hours in both; 10:20 and
    10:40 local are one. A community in another zone reads the same moments differently."""
    member = member_in(design)
    event(member, design, at(2026, 3, 3, 9, 40))
    event(member, design, at(2026, 3, 3, 10, 20))
    event(member, design, at(2026, 3, 3, 10, 40))
    assert hours_of(community, member) == {WEEK: 2}


def test_a_half_hour_zone_splits_hours_where_shanghai_does_not(community, design):
    community.time_zone = "Asia/Kolkata"  # UTC+5:30
    community.save()
    member = member_in(design)
    # 10:10 and 10:40 Shanghai = 07:40 and 08:10 Kolkata: one hour there, two here.
    first, second = at(2026, 3, 3, 10, 10), at(2026, 3, 3, 10, 40)
    event(member, design, first)
    event(member, design, second)
    assert selectors.online_hours_in(
        community=community, start=date(2026, 3, 1), end=date(2026, 3, 31), members=[member.pk]
    ) == {member.pk: 2}


def test_every_kind_of_event_means_online_and_every_group_counts(community, design, coders):
    member = member_in(design)
    for hour, kind in enumerate([EventKind.VISIT, EventKind.CHECK_IN, EventKind.CLICK, EventKind.MESSAGE]):
        event(member, design if hour % 2 else coders, at(2026, 3, 4, 8 + hour, 15), kind=kind)
    assert hours_of(community, member) == {WEEK: 4}


def test_the_average_is_over_the_last_four_complete_weeks(community, design):
    busy, quiet, absent = member_in(design, "忙人"), member_in(design, "闲人"), member_in(design, "不在")
    for monday, hours in ((date(2026, 2, 9), 20), (date(2026, 2, 16), 16), (date(2026, 2, 23), 12), (WEEK, 16)):
        online(busy, design, monday, hours)
    online(quiet, design, WEEK, 10)  # one week only: 10 / 4
    online(busy, design, NEXT_WEEK, 30)  # this week is not complete yet: not counted
    online(busy, design, date(2026, 2, 2), 40)  # five weeks ago: outside
    mondays, rows = selectors.weekly_online_hours(group=design, today=date(2026, 3, 11))
    assert mondays == [date(2026, 2, 9), date(2026, 2, 16), date(2026, 2, 23), WEEK]
    assert [(row.member, row.weeks, row.average) for row in rows] == [
        (busy, [20, 16, 12, 16], 16.0),
        (quiet, [0, 0, 0, 10], 2.5),
    ]
    assert absent not in [row.member for row in rows]


def test_members_outside_the_subtree_are_left_out(community, design, coders, photo):
    mine, below, sibling = member_in(design), member_in(photo), member_in(coders)
    for member in (mine, below, sibling):
        online(member, coders, WEEK, 4)
    _mondays, rows = selectors.weekly_online_hours(group=design, today=date(2026, 3, 11))
    assert {row.member for row in rows} == {mine, below}
