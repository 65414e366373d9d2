"""The metric engine on small hand-built data, with the numbers worked out by hand.

The community lives in Asia/Shanghai; "now" is 2026-03-10 12:00 there, so today is 03-10 and
the 7-day window is 03-04 … 03-10.
"""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from analytics.models import (
    Alert,
    AlertKind,
    AlertStatus,
    AnalyticsSettings,
    ChurnModel,
    CommunityDay,
    DirtyDay,
    Event,
    GroupDay,
    MemberDay,
    MemberMetric,
)
from analytics.services import metrics
from analytics.services.frames import DayAxis, window_distinct
from analytics.services.ingest import events_ingest
from analytics.services.member_metrics import member_segments, member_states, rfm_scores
from analytics.services.metrics import grade_for, health_checks, metrics_compute
from members.models import Membership, MembershipStatus
from tests.factories import CommunityFactory

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=SHANGHAI)
TODAY = date(2026, 3, 10)


def at(day: int, hour: int = 10, minute: int = 0) -> str:
    """2026-03-<day> at a local (Shanghai) time, as the API would send it."""
    return datetime(2026, 3, day, hour, minute, tzinfo=SHANGHAI).isoformat()


class Feed:
    """Builds event batches with unique ids."""

    def __init__(self, group):
        self.group, self.count, self.events = group, 0, []

    def add(self, kind: str, user: str, when: str, **extra) -> "Feed":
        self.count += 1
        self.events.append(
            {"type": kind, "group": self.group.pk, "user_id": user, "occurred_at": when, "event_id": f"e{self.count}"}
            | extra
        )
        return self

    def send(self, now=NOW):
        result = events_ingest(raw_events=self.events, groups=[self.group], now=now)
        self.events = []
        return result


@pytest.fixture
def hub(db):
    return CommunityFactory(name="考研交流群", slug="exam").hub


def the_story(hub) -> Feed:
    """Ten members join on 03-01; m9 leaves on 03-08; m5 and m6 post on 03-05 while m7
    reacts; today m0 posts 3 times, m1–m4 once each, m5 visits and m6 replies."""
    feed = Feed(hub)
    for n in range(10):
        feed.add("join", f"m{n}", at(1))
    feed.add("leave", "m9", at(8))
    feed.add("message", "m5", at(5)).add("message", "m6", at(5)).add("reaction", "m7", at(5))
    for _ in range(3):
        feed.add("message", "m0", at(10, 9))
    for n in range(1, 5):
        feed.add("message", f"m{n}", at(10, 9))
    feed.add("visit", "m5", at(10, 9)).add("reply", "m6", at(10, 9))
    return feed


class TestDays:
    def test_an_event_lands_on_the_communitys_local_day(self, hub):
        Feed(hub).add("message", "a", "2026-03-09T15:59:59Z").add("message", "a", "2026-03-09T16:00:00Z").send()
        assert list(Event.objects.order_by("occurred_at").values_list("day", flat=True)) == [
            date(2026, 3, 9),
            date(2026, 3, 10),  # 00:00 in Shanghai
        ]

    def test_another_time_zone_draws_the_line_elsewhere(self, hub):
        community = hub.community
        community.time_zone = "America/New_York"
        community.save()
        Feed(hub).add("message", "a", "2026-02-10T04:59:59Z").add("message", "a", "2026-02-10T05:00:00Z").send()
        assert list(Event.objects.order_by("occurred_at").values_list("day", flat=True)) == [
            date(2026, 2, 9),  # 23:59:59 in New York (EST, UTC−5)
            date(2026, 2, 10),
        ]

    def test_today_is_the_communitys_today(self, hub):
        late_evening_utc = datetime(2026, 3, 9, 17, 0, tzinfo=ZoneInfo("UTC"))
        assert metrics.local_today(hub.community, late_evening_utc) == date(2026, 3, 10)


class TestRollups:
    def test_a_member_day_counts_each_kind(self, hub):
        feed = Feed(hub)
        for kind in ("message", "message", "reply", "reaction", "check_in", "visit", "purchase"):
            feed.add(kind, "a", at(9, 20), **({"value": "19.90"} if kind == "purchase" else {}))
        feed.send()
        metrics_compute(community=hub.community, now=NOW)
        row = MemberDay.objects.get()
        assert (row.messages, row.replies, row.reactions, row.check_ins, row.visits, row.purchases) == (
            2,
            1,
            1,
            1,
            1,
            1,
        )
        assert row.events == 7 and str(row.value) == "19.90" and row.day == date(2026, 3, 9)

    def test_computed_days_are_no_longer_dirty(self, hub):
        the_story(hub).send()
        assert sorted(DirtyDay.objects.values_list("day", flat=True)) == [date(2026, 3, d) for d in (1, 5, 8, 10)]
        metrics_compute(community=hub.community, now=NOW)
        assert DirtyDay.objects.count() == 0


class TestGroupDay:
    @pytest.fixture
    def today(self, hub):
        the_story(hub).send()
        metrics_compute(community=hub.community, now=NOW)
        return GroupDay.objects.get(group=hub, day=TODAY)

    def test_counts(self, today):
        assert (today.members, today.joins, today.leaves) == (9, 0, 0)
        assert (today.active_members, today.speakers, today.messages) == (7, 6, 8)

    def test_rates(self, today):
        assert today.dau_rate == pytest.approx(7 / 9, abs=1e-6)
        assert today.speaking_rate_day == pytest.approx(6 / 9, abs=1e-6)
        assert today.speaking_rate_week == pytest.approx(7 / 9, abs=1e-6)  # m0–m6
        assert today.speaking_rate_month == pytest.approx(7 / 9, abs=1e-6)
        assert today.messages_per_member == pytest.approx(10 / (9 * 7), abs=1e-6)
        assert today.interaction_rate == pytest.approx(2 / 9, abs=1e-6)  # m6's reply, m7's reaction

    def test_quit_rates_divide_by_members_at_the_start_of_the_window(self, today):
        assert today.quit_rate_week == pytest.approx(1 / 10, abs=1e-6)  # 10 members at the end of 03-03
        assert today.quit_rate_month is None  # nobody was a member at the end of 02-08

    def test_join_and_leave_days(self, hub, today):
        joined = GroupDay.objects.get(group=hub, day=date(2026, 3, 1))
        left = GroupDay.objects.get(group=hub, day=date(2026, 3, 8))
        assert (joined.members, joined.joins) == (10, 10)
        assert (left.members, left.leaves) == (9, 1)
        assert Membership.objects.filter(group=hub, status=MembershipStatus.LEFT).count() == 1

    def test_grade_counts_the_thresholds_missed(self, today):
        assert [check["metric"] for check in today.failed_checks] == ["messages_per_member"]
        assert today.grade == "B"

    def test_the_community_day_agrees(self, today):
        day = CommunityDay.objects.get(day=TODAY)
        assert (day.members, day.active_members, day.speakers, day.messages) == (9, 7, 6, 8)
        assert day.speaking_rate_week == pytest.approx(7 / 9, abs=1e-6)
        # m0 active; m1–m6 posted but less; m7 only reacted; m8 and m9 never did anything.
        assert day.states == {"active": 1, "occasional": 6, "lurker": 1, "silent": 2}


class TestHealthChecks:
    @pytest.fixture
    def options(self):
        return AnalyticsSettings()

    def test_boundaries(self, options):
        at_the_line = {
            "speaking_rate_week": 0.20,
            "speaking_rate_month": 0.40,
            "messages_per_member": 0.8,
            "interaction_rate": 0.15,
            "quit_rate_week": 0.1499,
            "quit_rate_month": 0.05,
        }
        assert health_checks(at_the_line, 4, options) == []
        assert [c["metric"] for c in health_checks(at_the_line | {"quit_rate_week": 0.15}, 4, options)] == [
            "quit_rate_week"  # the week's must stay below 15%
        ]
        assert [c["metric"] for c in health_checks(at_the_line | {"quit_rate_month": 0.0501}, 5, options)] == [
            "quit_rate_month",
            "unanswered_questions",
        ]

    def test_an_empty_rate_fails_nothing(self, options):
        assert health_checks(dict.fromkeys(["speaking_rate_week", "quit_rate_month"]), None, options) == []

    def test_grades(self):
        assert [grade_for([{}] * n) for n in range(5)] == ["A", "B", "C", "D", "D"]


def frame(**columns) -> pd.DataFrame:
    """A member frame with one row per value given; the rest quiet."""
    size = len(next(iter(columns.values())))
    base = {
        "last_at": [pd.NaT] * size,
        "last_message_at": [pd.NaT] * size,
        "joined_day": [TODAY.toordinal() - 200] * size,
        "posts_7": [0] * size,
        "posts_hv": [0] * size,
        "posts_90": [0] * size,
        "reactions_30": [0] * size,
        "benefits_30": [0] * size,
        "visits_30": [0] * size,
        "active_days": [0] * size,
        "value_90": [0] * size,
    }
    base.update(columns)
    result = pd.DataFrame(base)
    for column in ("last_at", "last_message_at"):
        result[column] = pd.to_datetime(result[column], utc=True)
    return result


def ago(days: float) -> pd.Timestamp:
    return pd.Timestamp(NOW) - pd.Timedelta(days=days)


class TestStates:
    options = AnalyticsSettings()

    def states(self, data: pd.DataFrame) -> list[str]:
        return member_states(data, now=NOW, today=TODAY, options=self.options).tolist()

    def test_active_needs_three_posts_in_seven_days(self):
        data = frame(posts_7=[3, 2], posts_90=[3, 2], last_at=[ago(1)] * 2, last_message_at=[ago(1)] * 2)
        assert self.states(data) == ["active", "occasional"]

    def test_silent_from_thirty_days_without_a_message(self):
        data = frame(last_at=[ago(1)] * 2, last_message_at=[ago(29.99), ago(30)], posts_90=[1, 1], visits_30=[1, 1])
        assert self.states(data) == ["occasional", "silent"]

    def test_churned_from_ninety_days_without_anything(self):
        data = frame(last_at=[ago(89.99), ago(90)], last_message_at=[ago(89.99), ago(90)], posts_90=[1, 0])
        assert self.states(data) == ["silent", "churned"]

    def test_a_newcomer_is_not_churned_before_ninety_days_in(self):
        data = frame(joined_day=[TODAY.toordinal() - 89, TODAY.toordinal() - 90], last_at=[pd.NaT, pd.NaT])
        assert self.states(data) == ["silent", "churned"]

    def test_lurkers_visit_and_freeloaders_claim(self):
        data = frame(
            last_at=[ago(2)] * 3,
            visits_30=[3, 0, 1],
            benefits_30=[0, 4, 0],
            reactions_30=[0, 0, 1],
        )
        assert self.states(data) == ["lurker", "freeloader", "lurker"]

    def test_thresholds_come_from_the_community(self):
        options = AnalyticsSettings(active_messages_per_week=5, silent_days=14, churned_days=60)
        data = frame(posts_7=[4], posts_90=[4], last_at=[ago(1)], last_message_at=[ago(1)])
        assert member_states(data, now=NOW, today=TODAY, options=options).tolist() == ["occasional"]
        data = frame(last_at=[ago(1)], last_message_at=[ago(15)], posts_90=[2], visits_30=[1])
        assert member_states(data, now=NOW, today=TODAY, options=options).tolist() == ["silent"]


class TestSegmentsAndRfm:
    def test_segments(self):
        data = frame(
            last_at=[ago(1), ago(1), ago(31), ago(91), ago(6.9)],
            posts_hv=[21, 20, 0, 0, 30],
        )
        segments = member_segments(data, now=NOW, options=AnalyticsSettings()).tolist()
        assert segments == ["high_value", "potential", "silent", "lost", "high_value"]

    def test_rfm_quintiles(self):
        data = frame(
            last_at=[ago(days) for days in (1, 2, 3, 4, 5)] + [pd.NaT],
            active_days=[50, 40, 30, 20, 10, 0],
            value_90=[0, 0, 0, 0, 99.0, 0],
        )
        recency, frequency, monetary = rfm_scores(data, now=NOW)
        assert recency.tolist() == [5, 4, 3, 2, 1, 1]
        assert frequency.tolist() == [5, 4, 3, 2, 1, 1]
        assert monetary.tolist() == [1, 1, 1, 1, 5, 1]


class TestWindows:
    def test_distinct_members_over_a_rolling_window(self):
        axis = DayAxis(100, 110, np.array([7]))
        keys = np.array([7, 7, 7, 7])
        members = np.array([1, 1, 2, 1])
        days = np.array([100, 101, 105, 109])
        counts = window_distinct(axis, keys, members, days, 3)[0].tolist()
        #          100 101 102 103 104 105 106 107 108 109 110
        assert counts == [1, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1]

    def test_a_row_before_the_axis_still_covers_its_window(self):
        axis = DayAxis(100, 103, np.array([1]))
        counts = window_distinct(axis, np.array([1]), np.array([5]), np.array([98]), 4)[0].tolist()
        assert counts == [1, 1, 0, 0]


class TestMemberMetrics:
    def test_counts_and_state_from_real_events(self, hub):
        feed = Feed(hub)
        for day in (4, 6, 10):  # 03-04 is 6 days before today: inside the week
            feed.add("message", "regular", at(day))
        feed.add("message", "regular", at(3))  # 7 days before: outside
        feed.add("visit", "lurker", at(9))
        feed.send()
        metrics_compute(community=hub.community, now=NOW)
        regular = MemberMetric.objects.get(member__handles__external_id="regular")
        assert (regular.messages_7d, regular.messages_30d, regular.active_days, regular.state) == (3, 4, 4, "active")
        assert regular.interactions_14d == 4 and regular.interactions_prior_14d == 0 and regular.decay is None
        lurker = MemberMetric.objects.get(member__handles__external_id="lurker")
        assert lurker.state == "lurker"
        assert CommunityDay.objects.get(day=TODAY).states == {"active": 1, "lurker": 1}

    def test_decay_compares_the_last_two_weeks_with_the_two_before(self, hub):
        feed = Feed(hub)
        for day in (1, 2, 3, 4, 5, 6, 7, 8):
            feed.add("message", "fading", f"2026-02-{10 + day:02d}T10:00:00+08:00")  # 02-11 … 02-18
        feed.add("message", "fading", at(1)).add("message", "fading", at(2))
        feed.send()
        metrics_compute(community=hub.community, now=NOW)
        fading = MemberMetric.objects.get()
        # Last 14 days: 02-25 … 03-10 (2 messages); the 14 before: 02-11 … 02-24 (8).
        assert (fading.interactions_14d, fading.interactions_prior_14d) == (2, 8)
        assert fading.decay == pytest.approx(0.75)


class TestIdempotency:
    def values(self):
        return (
            list(MemberDay.objects.order_by("pk").values_list("member_id", "group_id", "day", "messages", "events")),
            list(GroupDay.objects.order_by("pk").values_list("pk", "day", "members", "speakers", "dau_rate", "grade")),
            list(
                MemberMetric.objects.order_by("pk").values_list("pk", "state", "segment", "churn_probability", "decay")
            ),
            list(CommunityDay.objects.order_by("pk").values_list("pk", "day", "members", "states")),
        )

    def test_a_second_run_changes_nothing(self, hub):
        the_story(hub).send()
        metrics_compute(community=hub.community, now=NOW)
        before = self.values()
        report = metrics_compute(community=hub.community, now=NOW)
        assert report.rollup_days == 0
        assert self.values() == before

    def test_a_retried_batch_changes_nothing(self, hub):
        feed = the_story(hub)
        batch = list(feed.events)
        feed.send()
        metrics_compute(community=hub.community, now=NOW)
        before = self.values()
        result = events_ingest(raw_events=batch, groups=[hub], now=NOW)
        assert (result.accepted, result.duplicates) == (0, len(batch))
        assert DirtyDay.objects.count() == 0
        metrics_compute(community=hub.community, now=NOW)
        assert self.values() == before

    def test_a_late_event_recomputes_only_the_days_it_touches(self, hub):
        the_story(hub).send()
        metrics_compute(community=hub.community, now=NOW)
        untouched = GroupDay.objects.get(group=hub, day=date(2026, 3, 4))
        Feed(hub).add("message", "m8", at(6), event_id="late").send()
        assert list(DirtyDay.objects.values_list("day", flat=True)) == [date(2026, 3, 6)]
        report = metrics_compute(community=hub.community, now=NOW)
        assert report.rollup_days == 1
        assert report.group_days == 5  # 03-06 … 03-10: the windows that contain the late day
        march_6 = GroupDay.objects.get(group=hub, day=date(2026, 3, 6))
        assert march_6.speakers == 1
        assert GroupDay.objects.get(group=hub, day=TODAY).speaking_rate_week == pytest.approx(8 / 9, abs=1e-6)
        assert GroupDay.objects.get(pk=untouched.pk).speaking_rate_week == untouched.speaking_rate_week

    def test_a_run_under_way_makes_another_a_no_op(self, hub, monkeypatch):
        monkeypatch.setattr(metrics, "try_advisory_lock", lambda key, object_id: False)
        assert metrics_compute(community=hub.community, now=NOW).skipped


class TestAlerts:
    def test_unanswered_questions_alert_and_resolve(self, hub):
        feed = Feed(hub)
        for n in range(5):
            feed.add("message", f"asker{n}", at(8, 10 + n), text=f"请问第{n}题怎么做？", event_id=f"q{n}")
        feed.add("message", "asker0", at(8, 9), text="今天天气不错", event_id="not-a-question")
        feed.send()
        metrics_compute(community=hub.community, now=NOW)
        alert = Alert.objects.get(kind=AlertKind.UNANSWERED_QUESTIONS)
        assert alert.detail == {"count": 5} and alert.group_id == hub.pk
        Feed(hub).add("reply", "helper", at(9), reply_to="q0", event_id="answer").send()
        metrics_compute(community=hub.community, now=NOW)
        alert.refresh_from_db()
        assert alert.status == AlertStatus.RESOLVED

    def test_a_question_is_not_unanswered_within_its_grace_period(self, hub):
        feed = Feed(hub)
        for n in range(5):
            feed.add("message", f"asker{n}", at(10, 1), text="有没有人知道报名截止时间？", event_id=f"q{n}")
        feed.send()
        metrics_compute(community=hub.community, now=NOW)  # 11 hours later: within 24
        assert GroupDay.objects.get(group=hub, day=TODAY).unanswered_questions == 0
        assert not Alert.objects.filter(kind=AlertKind.UNANSWERED_QUESTIONS).exists()

    def test_silent_and_left(self, hub):
        Feed(hub).add("message", "gone", at(1)).add("leave", "gone", at(7)).send()
        metrics_compute(community=hub.community, now=NOW)
        alert = Alert.objects.get(kind=AlertKind.SILENT_AND_LEFT)
        assert alert.member.handles.get().external_id == "gone"

    def test_fewer_than_three_messages_in_two_weeks_after_three_before(self, hub):
        feed = Feed(hub)
        for day in (12, 13, 14):
            feed.add("message", "slowing", f"2026-02-{day}T10:00:00+08:00")
            feed.add("message", "steady", f"2026-02-{day}T10:00:00+08:00")
        feed.add("message", "slowing", at(1)).add("message", "slowing", at(2))
        for day in (1, 2, 3):
            feed.add("message", "steady", at(day))
        feed.send()
        metrics_compute(community=hub.community, now=NOW)
        flagged = Alert.objects.filter(kind=AlertKind.LOW_ACTIVITY)
        assert [alert.member.handles.get().external_id for alert in flagged] == ["slowing"]
        assert flagged.get().detail == {"recent": 2, "prior": 3}

    def test_a_dismissed_alert_stays_quiet(self, hub):
        Feed(hub).add("message", "gone", at(1)).add("leave", "gone", at(7)).send()
        metrics_compute(community=hub.community, now=NOW)
        alert = Alert.objects.get(kind=AlertKind.SILENT_AND_LEFT)
        Alert.objects.filter(pk=alert.pk).update(status=AlertStatus.DISMISSED, resolved_at=NOW)
        metrics_compute(community=hub.community, now=NOW)
        assert not Alert.objects.filter(status=AlertStatus.OPEN).exists()

    def test_one_open_alert_per_subject_however_often_it_runs(self, hub):
        Feed(hub).add("message", "gone", at(1)).add("leave", "gone", at(7)).send()
        for hours in (0, 1, 2):
            metrics_compute(community=hub.community, now=NOW + timedelta(hours=hours))
        assert Alert.objects.filter(kind=AlertKind.SILENT_AND_LEFT).count() == 1


class TestChurnModel:
    def test_it_separates_decaying_members_from_active_ones_and_reports_calibration(self, hub):
        from analytics.services.synthetic import activity_generate

        activity_generate(community=hub.community, members=1500, days=90, seed=3, now=NOW)
        metrics_compute(community=hub.community, now=NOW)
        model = ChurnModel.objects.get(day=TODAY)
        assert set(model.params) == {"r", "alpha", "a", "b"}
        calibration = model.calibration
        assert calibration["count"] > 500
        assert calibration["ece"] < 0.08  # predicted silence matches the holdout
        assert calibration["auc"] > 0.75
        rows = pd.DataFrame.from_records(MemberMetric.objects.values("state", "churn_probability"))
        by_state = rows.groupby("state")["churn_probability"].mean()
        assert by_state["active"] < 0.2
        assert by_state["silent"] > by_state["occasional"] > by_state["active"]
        assert by_state["churned"] > 0.8
