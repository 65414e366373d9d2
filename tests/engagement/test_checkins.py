"""Check-ins: once a day in the community's own days, the analytics event, the sweep from bots'
events, and streaks with their bonuses."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from analytics.models import DirtyDay, Event, EventKind, MemberDay
from analytics.services.ingest import events_ingest
from analytics.services.metrics import metrics_compute
from engagement.models import CheckIn, CheckInSource
from engagement.services import streaks
from engagement.services.checkins import checkin_record, checkins_from_events
from engagement.services.points import points_rules
from members.models import PointsEntry
from members.services.points import points_balance
from subgroups.models import Community
from tests.engagement.conftest import check_in_days, days_ago, member_in

pytestmark = pytest.mark.django_db


def test_a_second_check_in_the_same_day_returns_the_first_and_pays_nothing(alice, photo):
    first = checkin_record(member=alice, source=CheckInSource.API)
    again = checkin_record(member=alice, group=photo, source=CheckInSource.PAGE)
    assert first.created and first.points == 5 and first.streak.current == 1
    assert not again.created and again.already_checked_in and again.points == 0
    assert again.check_in.pk == first.check_in.pk and again.check_in.source == CheckInSource.API
    assert CheckIn.objects.filter(member=alice).count() == 1
    assert list(PointsEntry.objects.filter(member=alice).values_list("reason", "amount")) == [("check_in", 5)]


def test_a_check_in_is_an_analytics_event_that_the_metrics_count(alice, photo, community):
    result = checkin_record(member=alice, source=CheckInSource.PAGE)
    day = result.check_in.day
    event = Event.objects.get(community=community, kind=EventKind.CHECK_IN)
    assert event.member_id == alice.pk and event.group_id == photo.pk and event.day == day
    assert event.external_id == f"checkin:{alice.pk}:{day.isoformat()}"
    assert DirtyDay.objects.filter(community=community, day=day).exists()
    metrics_compute(community=community)
    assert MemberDay.objects.get(member=alice, day=day).check_ins == 1


def test_days_are_the_community_s_local_days(community, photo):
    member = member_in(photo)
    # 23:59 and 00:01 in Shanghai: two days there, one day in UTC.
    before = datetime(2025, 3, 1, 15, 59, tzinfo=ZoneInfo("UTC"))
    after = before + timedelta(minutes=2)
    assert checkin_record(member=member, source="api", at=before).check_in.day == date(2025, 3, 1)
    second = checkin_record(member=member, source="api", at=after)
    assert second.created and second.check_in.day == date(2025, 3, 2)

    Community.objects.filter(pk=community.pk).update(time_zone="America/New_York")
    member = member_in(photo)
    member.community.refresh_from_db()
    first = checkin_record(member=member, source="api", at=before)
    assert first.check_in.day == date(2025, 3, 1)
    assert not checkin_record(member=member, source="api", at=after).created


def test_a_check_in_in_the_future_is_refused(alice):
    from core.errors import ApplicationError

    with pytest.raises(ApplicationError):
        checkin_record(member=alice, source="api", at=timezone.now() + timedelta(hours=2))


def test_a_group_of_another_community_is_refused(alice, other_community):
    from core.errors import ApplicationError

    with pytest.raises(ApplicationError):
        checkin_record(member=alice, group=other_community.hub, source="api")


# --- Streaks ------------------------------------------------------------------------------------


def test_runs_and_streaks_from_days():
    today = date(2025, 5, 20)
    days = [date(2025, 5, d) for d in (1, 2, 3, 4, 10, 11, 18, 19)]
    runs = streaks.runs_of(days)
    assert [run.length for run in runs] == [4, 2, 2]
    streak = streaks.streak_of_runs(runs, today=today)
    assert (streak.current, streak.best) == (2, 4), "ends yesterday: still alive"
    assert streaks.streak_of_runs(runs, today=date(2025, 5, 21)).current == 0, "a day missed"
    assert streaks.milestones(streaks.runs_of([today - timedelta(days=n) for n in range(15)]), 7) == [
        today - timedelta(days=8),
        today - timedelta(days=1),
    ]


def test_current_and_best_streak_with_gaps(alice):
    check_in_days(alice, 12, 11, 10, 9, 8, 6, 5, 1)
    streak = streaks.member_streak(alice, today=days_ago(0).date())
    assert (streak.current, streak.best) == (1, 5), "yesterday's check-in keeps a streak of 1 alive"
    result = checkin_record(member=alice, source="api")
    assert result.streak.current == 2 and result.streak.best == 5


def test_the_streak_bonus_is_paid_at_7_and_14_days_once_each(alice):
    rules = points_rules(community=alice.community)
    check_in_days(alice, *range(15, 9, -1))  # six days: 15 … 10 days ago
    assert not PointsEntry.objects.filter(member=alice, reason="streak_bonus").exists()
    seventh = checkin_record(member=alice, source="api", at=days_ago(9))
    assert seventh.streak_bonus == rules.streak_bonus == 30
    check_in_days(alice, *range(8, 1, -1))  # days 8 … 14 of the run
    fourteenth = CheckIn.objects.get(member=alice, day=days_ago(2).date())
    bonuses = PointsEntry.objects.filter(member=alice, reason="streak_bonus").order_by("created_at")
    assert [entry.key for entry in bonuses] == [
        f"streak:{alice.pk}:{days_ago(9).date().isoformat()}",
        f"streak:{alice.pk}:{fourteenth.day.isoformat()}",
    ]
    assert checkin_record(member=alice, source="api", at=days_ago(1)).streak_bonus == 0, "day 15"
    checkins_from_events(alice.community)
    assert bonuses.count() == 2
    assert points_balance(member=alice) == 15 * 5 + 2 * 30


def test_the_bonus_follows_the_rules(alice):
    rules = points_rules(community=alice.community)
    rules.streak_days, rules.streak_bonus, rules.check_in = 3, 12, 0
    rules.save()
    check_in_days(alice, 3, 2)
    result = checkin_record(member=alice, source="api", at=days_ago(1))
    assert result.points == 0 and result.streak_bonus == 12
    assert list(PointsEntry.objects.filter(member=alice).values_list("reason", flat=True)) == ["streak_bonus"]


# --- Check-ins from bots' events -------------------------------------------------------------------


def _events(group, *items):
    return [
        {
            "type": "check_in",
            "group": group.pk,
            "user_id": user_id,
            "occurred_at": at.isoformat(),
            "event_id": f"bot-{user_id}-{at.isoformat()}",
        }
        for user_id, at in items
    ]


def test_bots_check_in_events_become_check_ins_with_points(community, alice, photo):
    raw = _events(photo, ("wx-alice", days_ago(2)), ("wx-alice", days_ago(1, 9)), ("wx-alice", days_ago(1, 20)))
    raw += _events(photo, ("wx-new", days_ago(1)))
    result = events_ingest(raw_events=raw, groups=[photo])
    assert result.accepted == 4 and result.members_created == 1
    sweep = checkins_from_events(community)
    assert sweep.check_ins == 3 and sweep.points == 3
    assert CheckIn.objects.filter(member=alice).count() == 2, "two events on one day: one check-in"
    assert set(CheckIn.objects.values_list("source", flat=True)) == {CheckInSource.EVENT}
    assert PointsEntry.objects.filter(member=alice, reason="check_in").count() == 2
    entry = PointsEntry.objects.get(member=alice, key=f"checkin:{alice.pk}:{days_ago(2).date().isoformat()}")
    assert entry.created_at == days_ago(2), "dated when the member checked in"
    again = checkins_from_events(community)
    assert again.check_ins == 0 and again.points == 0
    assert PointsEntry.objects.filter(reason="check_in").count() == 3


def test_the_sweep_and_a_check_in_made_here_never_double(community, alice, photo):
    checkin_record(member=alice, source="api")  # writes its own check_in event
    events_ingest(raw_events=_events(photo, ("wx-alice", days_ago(0))), groups=[photo])
    assert checkins_from_events(community).check_ins == 0
    assert CheckIn.objects.count() == 1 and PointsEntry.objects.count() == 1


def test_the_sweep_pays_streaks_made_of_events(community, alice, photo):
    events_ingest(raw_events=_events(photo, *[("wx-alice", days_ago(n)) for n in range(1, 8)]), groups=[photo])
    sweep = checkins_from_events(community)
    assert sweep.check_ins == 7 and sweep.bonuses == 1
    assert points_balance(member=alice) == 7 * 5 + 30
    assert checkins_from_events(community).bonuses == 0


def test_the_sweep_can_look_only_at_recent_events(community, alice, photo):
    events_ingest(raw_events=_events(photo, ("wx-alice", days_ago(3))), groups=[photo])
    Event.objects.update(received_at=timezone.now() - timedelta(days=5))
    assert checkins_from_events(community, since=timezone.now() - timedelta(days=2)).check_ins == 0
    assert checkins_from_events(community).check_ins == 1


def test_streaks_for_many_members_in_one_query(community, alice, bob, django_assert_num_queries):
    check_in_days(alice, 5, 4, 3, 1, 0)
    check_in_days(bob, 9, 8, 7, 6)
    today = days_ago(0).date()
    with django_assert_num_queries(1):
        found = streaks.streaks_for(community, today=today)
    assert (found[alice.pk].current, found[alice.pk].best) == (2, 3)
    assert (found[bob.pk].current, found[bob.pk].best) == (0, 4)
    assert streaks.streaks_for(community, today=today, member_ids=[bob.pk]).keys() == {bob.pk}
