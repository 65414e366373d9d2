"""The metric engine: rollups, group and community days, member metrics, health grades,
the churn model and alerts.

SQL aggregates do the heavy lifting: one INSERT … SELECT … GROUP BY turns the events of the
dirty days into (member, group, day) rollups, and per-group and per-member aggregates come back
as a few hundred thousand rows at most. pandas works on those frames: rolling windows of
distinct speakers, states, RFM scores and the churn model. Nothing runs a query per member.

Every result is an upsert keyed by (object, day). A run recomputes the rollups of the days
marked dirty by ingestion, the group and community days whose windows contain them (a late
event on day d touches the 7- and 30-day windows that end on d … d+29), today, and every
member's snapshot, which depends on today's date anyway.
"""

from __future__ import annotations

import logging
import time
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from django.db import connection, transaction
from django.utils import timezone

from analytics import churn
from analytics.models import (
    BENEFIT_KINDS,
    Alert,
    AlertKind,
    AlertStatus,
    AnalyticsSettings,
    ChurnModel,
    CommunityDay,
    DirtyDay,
    Event,
    EventKind,
    GroupDay,
    MemberDay,
    MemberMetric,
    MemberState,
    RiskBand,
    Segment,
)
from analytics.settings import settings_for
from analytics.sql import derived_data_transaction, fetch, upsert
from members.models import Member, Membership
from subgroups.models import Community

logger = logging.getLogger(__name__)

WEEK = 7
MONTH = 30
_LOCK_KEY = 0x43414E33  # "CAN3": one metric run per community at a time
_INT4 = 2**31 - 1
_EPOCH, _EPOCH_ORDINAL = pd.Timestamp("1970-01-01"), date(1970, 1, 1).toordinal()
NEVER = 10**9  # the ordinal of a day that never comes: a membership still open
_ROLLUP_COUNTS = {
    "messages": EventKind.MESSAGE,
    "replies": EventKind.REPLY,
    "reactions": EventKind.REACTION,
    "check_ins": EventKind.CHECK_IN,
    "visits": EventKind.VISIT,
    "joins": EventKind.JOIN,
    "leaves": EventKind.LEAVE,
    "invites": EventKind.INVITE,
    "purchases": EventKind.PURCHASE,
    "clicks": EventKind.CLICK,
    "opens": EventKind.OPEN,
}


@dataclass
class ComputeReport:
    community: str
    skipped: bool = False
    rollup_days: int = 0
    group_days: int = 0
    members: int = 0
    alerts_open: int = 0
    churn: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "community": self.community,
            "skipped": self.skipped,
            "rollup_days": self.rollup_days,
            "group_days": self.group_days,
            "members": self.members,
            "alerts_open": self.alerts_open,
            "churn": self.churn,
            "seconds": round(self.seconds, 3),
        }


Progress = Callable[[str, int], None]


def local_today(community: Community, now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(zoneinfo.ZoneInfo(community.time_zone)).date()


def metrics_compute(
    *, community: Community, now: datetime | None = None, full: bool = False, progress: Progress | None = None
) -> ComputeReport:
    """Bring every number of ``community`` up to date. ``full`` recomputes all rollups rather
    than the dirty days only. A run already under way for the community makes this one a
    no-op (reported as skipped): the running one will see what this one would have."""
    started = time.perf_counter()
    report = ComputeReport(community=community.slug)
    step = progress or (lambda _label, _percent: None)
    if not _try_lock(community.pk):
        report.skipped = True
        return report
    try:
        now = now or timezone.now()
        today = local_today(community, now)
        options = settings_for(community)
        step("rollups", 5)
        touched = _rollups_refresh(community, full=full)
        report.rollup_days = len(touched)
        step("groups", 30)
        report.group_days = _days_refresh(community, touched, today=today, now=now, options=options, full=full)
        step("members", 55)
        states = _members_refresh(community, today=today, now=now, options=options)
        report.members = states.pop("_members", 0)
        report.churn = states.pop("_churn", {})
        step("alerts", 90)
        report.alerts_open = _alerts_refresh(community, today=today, now=now, options=options)
        step("done", 100)
    finally:
        _unlock(community.pk)
    report.seconds = time.perf_counter() - started
    return report


# --- Locking ---------------------------------------------------------------------------------


def _try_lock(community_id: int) -> bool:
    if connection.vendor != "postgresql":
        return True  # SQLite serialises writers itself
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_LOCK_KEY, community_id % _INT4])
        return bool(cursor.fetchone()[0])


def _unlock(community_id: int) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_LOCK_KEY, community_id % _INT4])


# --- Rollups ---------------------------------------------------------------------------------


def _rollups_refresh(community: Community, *, full: bool) -> list[date]:
    """Recompute the (member, group, day) rollups of the dirty days; return those days."""
    ops = connection.ops
    with transaction.atomic():
        derived_data_transaction()
        marks = list(DirtyDay.objects.filter(community=community).values_list("day", "seq"))
        if full:
            days = sorted(Event.objects.filter(community=community).values_list("day", flat=True).distinct().order_by())
        else:
            days = sorted(day for day, _seq in marks)
        if not days:
            return []
        sums = ", ".join(f"SUM(CASE WHEN kind = '{kind}' THEN 1 ELSE 0 END)" for kind in _ROLLUP_COUNTS.values())
        columns = ["community_id", "member_id", "group_id", "day", *_ROLLUP_COUNTS, "events", "value"]
        columns += ["last_at", "last_message_at", "last_visit_at"]
        updates = ", ".join(f"{column} = excluded.{column}" for column in columns[4:])
        table = MemberDay._meta.db_table
        select = (
            f"SELECT community_id, member_id, group_id, day, {sums}, COUNT(*), COALESCE(SUM(value), 0), "
            "MAX(occurred_at), "
            "MAX(CASE WHEN kind IN ('message', 'reply') THEN occurred_at END), "
            "MAX(CASE WHEN kind = 'visit' THEN occurred_at END) "
            f"FROM {Event._meta.db_table} WHERE community_id = %s"
        )
        with connection.cursor() as cursor:
            if full:
                cursor.execute(f"DELETE FROM {table} WHERE community_id = %s", [community.pk])
                chunks = [None]
            else:
                chunks = [days[start : start + 200] for start in range(0, len(days), 200)]
            for chunk in chunks:
                where, params = "", [community.pk]
                if chunk is not None:
                    where = f" AND day IN ({', '.join(['%s'] * len(chunk))})"
                    params += [ops.adapt_datefield_value(day) for day in chunk]
                cursor.execute(
                    f"INSERT INTO {table} ({', '.join(columns)}) {select}{where} "
                    "GROUP BY community_id, member_id, group_id, day "
                    f"ON CONFLICT (member_id, group_id, day) DO UPDATE SET {updates}",
                    params,
                )
        # Clear a mark only if no event arrived for its day since it was read.
        for day, seq in marks:
            DirtyDay.objects.filter(community=community, day=day, seq=seq).delete()
    return days


# --- Group and community days ----------------------------------------------------------------


def _ordinals(values: pd.Series) -> np.ndarray:
    """Dates (or ISO strings from SQLite) as proleptic ordinals, the unit of every window."""
    if values.empty:
        return np.array([], dtype=np.int64)
    stamps = pd.to_datetime(values)
    return ((stamps - _EPOCH).dt.days + _EPOCH_ORDINAL).to_numpy(dtype=np.int64)


def _local_ordinals(values: pd.Series, zone: str) -> np.ndarray:
    """Instants (aware on PostgreSQL, naive UTC on SQLite) as the community's local days."""
    if values.empty:
        return np.array([], dtype=np.int64)
    stamps = pd.to_datetime(values, utc=True, format="mixed")
    local = stamps.dt.tz_convert(zone).dt.tz_localize(None).dt.normalize()
    days = (local - _EPOCH).dt.days + _EPOCH_ORDINAL
    return days.fillna(NEVER).to_numpy(dtype=np.int64)


def _frame(sql: str, params: list[Any]) -> pd.DataFrame:
    names, rows = fetch(sql, params)
    return pd.DataFrame.from_records(rows, columns=names)


class DayAxis:
    """A dense run of ordinals [first, last] that per-key counts are laid on."""

    def __init__(self, first: int, last: int, keys: np.ndarray):
        self.first, self.last = first, last
        self.keys = np.asarray(keys, dtype=np.int64)
        self.key_index = {key: position for position, key in enumerate(self.keys.tolist())}

    @property
    def width(self) -> int:
        return self.last - self.first + 1

    def zeros(self) -> np.ndarray:
        return np.zeros((len(self.keys), self.width), dtype=np.int64)

    def rows(self, keys: np.ndarray) -> np.ndarray:
        return np.array([self.key_index[key] for key in keys.tolist()], dtype=np.int64)

    def add(self, matrix: np.ndarray, keys: np.ndarray, days: np.ndarray, amount: int = 1) -> None:
        """Add ``amount`` at each (key, day); days before the axis pile up on its first column,
        days after it are dropped."""
        keep = days <= self.last
        if not keep.any():
            return
        columns = np.clip(days[keep], self.first, self.last) - self.first
        np.add.at(matrix, (self.rows(keys[keep]), columns), amount)

    def count(self, keys: np.ndarray, days: np.ndarray) -> np.ndarray:
        """How many (key, day) pairs fall on each cell, ignoring days off the axis."""
        matrix = self.zeros()
        keep = (days >= self.first) & (days <= self.last)
        np.add.at(matrix, (self.rows(keys[keep]), days[keep] - self.first), 1)
        return matrix


def window_distinct(axis: DayAxis, keys: np.ndarray, members: np.ndarray, days: np.ndarray, window: int) -> np.ndarray:
    """For each key and day d on the axis: how many distinct members had a row on a day in
    [d - window + 1, d]. Each row covers ``window`` days; a member's overlapping covers merge
    into segments, and a +1/−1 difference array over the segments counts each member once."""
    result = axis.zeros()
    if len(days) == 0:
        return result
    order = np.lexsort((days, members, keys))
    keys, members, days = keys[order], members[order], days[order]
    same = np.zeros(len(days), dtype=bool)
    same[1:] = (keys[1:] == keys[:-1]) & (members[1:] == members[:-1])
    new_segment = ~same
    new_segment[1:] |= same[1:] & (days[1:] >= days[:-1] + window)
    starts = np.flatnonzero(new_segment)
    ends = np.append(starts[1:], len(days)) - 1
    segment_keys = keys[starts]
    difference = np.zeros((len(axis.keys), axis.width + window + 1), dtype=np.int64)
    rows = axis.rows(segment_keys)
    first_columns = days[starts] - axis.first
    last_columns = days[ends] + window - axis.first
    # A segment that began before the axis still covers its first days.
    np.add.at(difference, (rows, np.clip(first_columns, 0, difference.shape[1] - 1)), 1)
    np.add.at(difference, (rows, np.clip(last_columns, 0, difference.shape[1] - 1)), -1)
    covered = np.cumsum(difference, axis=1)[:, : axis.width]
    result[:] = covered
    return result


def _rate(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        rates = numerator / denominator
    return np.where(denominator > 0, rates, np.nan)


def _target_days(touched: list[date], today: date, first_event_day: date | None, full: bool) -> list[int]:
    end = today.toordinal()
    if full and first_event_day is not None:
        return list(range(first_event_day.toordinal(), end + 1))
    targets = {end}
    for day in touched:
        start = day.toordinal() if isinstance(day, date) else date.fromisoformat(str(day)).toordinal()
        targets.update(range(start, min(start + MONTH, end + 1)))
    return sorted(day for day in targets if day <= end)


def _days_refresh(
    community: Community,
    touched: list[date],
    *,
    today: date,
    now: datetime,
    options: AnalyticsSettings,
    full: bool,
) -> int:
    first_event = Event.objects.filter(community=community).order_by("day").values_list("day", flat=True).first()
    targets = _target_days(touched, today, first_event, full)
    if not GroupDay.objects.filter(community=community).exists() and first_event is not None:
        targets = _target_days([], today, first_event, True)  # a first run draws the whole history
    first = targets[0]
    axis_first = first - MONTH
    ops = connection.ops
    posting = _frame(
        f"SELECT group_id, member_id, day, (replies + reactions) AS interacted FROM {MemberDay._meta.db_table} "
        "WHERE community_id = %s AND day >= %s AND day <= %s AND messages + replies > 0",
        [community.pk, ops.adapt_datefield_value(date.fromordinal(axis_first)), ops.adapt_datefield_value(today)],
    )
    interacting = _frame(
        f"SELECT group_id, member_id, day FROM {MemberDay._meta.db_table} "
        "WHERE community_id = %s AND day >= %s AND day <= %s AND replies + reactions > 0",
        [community.pk, ops.adapt_datefield_value(date.fromordinal(axis_first)), ops.adapt_datefield_value(today)],
    )
    daily = _frame(
        f"SELECT group_id, day, COUNT(*) AS active, SUM(CASE WHEN messages + replies > 0 THEN 1 ELSE 0 END) "
        "AS speakers, SUM(CASE WHEN replies + reactions > 0 THEN 1 ELSE 0 END) AS interactors, "
        f"SUM(messages + replies) AS messages FROM {MemberDay._meta.db_table} "
        "WHERE community_id = %s AND day >= %s AND day <= %s GROUP BY group_id, day",
        [community.pk, ops.adapt_datefield_value(date.fromordinal(axis_first)), ops.adapt_datefield_value(today)],
    )
    community_daily = _frame(
        f"SELECT day, COUNT(DISTINCT member_id) AS active, "
        "COUNT(DISTINCT CASE WHEN messages + replies > 0 THEN member_id END) AS speakers, "
        f"SUM(messages + replies) AS messages FROM {MemberDay._meta.db_table} "
        "WHERE community_id = %s AND day >= %s AND day <= %s GROUP BY day",
        [community.pk, ops.adapt_datefield_value(date.fromordinal(first)), ops.adapt_datefield_value(today)],
    )
    memberships = pd.DataFrame.from_records(
        Membership.objects.filter(group__community=community).values_list(
            "group_id", "member_id", "joined_at", "left_at"
        ),
        columns=["group_id", "member_id", "joined_at", "left_at"],
    )
    group_ids = np.array(
        sorted(set(memberships["group_id"].tolist()) | set(daily["group_id"].tolist())), dtype=np.int64
    )
    zone = community.time_zone
    written = _group_days_write(
        community, group_ids, targets, axis_first, posting, interacting, daily, memberships, zone, options, now
    )
    _community_days_write(community, targets, axis_first, posting, community_daily, memberships, zone)
    return written


def _membership_matrices(axis: DayAxis, memberships: pd.DataFrame, zone: str, by: str):
    """Members at the end of each day, and joins and leaves on it, per key ("group_id", or
    None for the community, where a member counts from their first join to their last leave)."""
    if memberships.empty:
        return axis.zeros(), axis.zeros(), axis.zeros()
    joined = _local_ordinals(memberships["joined_at"], zone)
    left = _local_ordinals(memberships["left_at"], zone)
    if by is None:
        frame = pd.DataFrame({"member": memberships["member_id"].to_numpy(), "joined": joined, "left": left})
        spans = frame.groupby("member").agg(joined=("joined", "min"), left=("left", "max"))
        joined, left = spans["joined"].to_numpy(), spans["left"].to_numpy()
        keys = np.zeros(len(joined), dtype=np.int64)
    else:
        keys = memberships[by].to_numpy(dtype=np.int64)
    present = axis.zeros()
    axis.add(present, keys, joined, 1)
    has_left = left != NEVER
    axis.add(present, keys[has_left], left[has_left], -1)
    members_at_end = np.cumsum(present, axis=1)
    return members_at_end, axis.count(keys, joined), axis.count(keys[has_left], left[has_left])


def _window_sum(matrix: np.ndarray, window: int) -> np.ndarray:
    cumulative = np.cumsum(matrix, axis=1)
    shifted = np.zeros_like(cumulative)
    shifted[:, window:] = cumulative[:, :-window]
    return cumulative - shifted


def _shift(matrix: np.ndarray, days: int) -> np.ndarray:
    """The value ``days`` earlier (members at the start of a window); 0 before the axis."""
    shifted = np.zeros_like(matrix)
    shifted[:, days:] = matrix[:, :-days]
    return shifted


def _group_days_write(
    community, group_ids, targets, axis_first, posting, interacting, daily, memberships, zone, options, now
) -> int:
    if len(group_ids) == 0:
        return 0
    axis = DayAxis(axis_first, targets[-1], group_ids)
    members, joins, leaves = _membership_matrices(axis, memberships, zone, "group_id")
    post_keys = posting["group_id"].to_numpy(dtype=np.int64)
    post_members = posting["member_id"].to_numpy(dtype=np.int64)
    post_days = _ordinals(posting["day"])
    speakers_week = window_distinct(axis, post_keys, post_members, post_days, WEEK)
    speakers_month = window_distinct(axis, post_keys, post_members, post_days, MONTH)
    interactors_week = window_distinct(
        axis,
        interacting["group_id"].to_numpy(dtype=np.int64),
        interacting["member_id"].to_numpy(dtype=np.int64),
        _ordinals(interacting["day"]),
        WEEK,
    )
    active, speakers, interactors, messages = axis.zeros(), axis.zeros(), axis.zeros(), axis.zeros()
    if not daily.empty:
        rows = axis.rows(daily["group_id"].to_numpy(dtype=np.int64))
        columns = _ordinals(daily["day"]) - axis.first
        for matrix, column in ((active, "active"), (speakers, "speakers"), (interactors, "interactors")):
            matrix[rows, columns] = daily[column].to_numpy(dtype=np.int64)
        messages[rows, columns] = daily["messages"].fillna(0).to_numpy(dtype=np.int64)
    messages_week = _window_sum(messages, WEEK)
    leaves_week, leaves_month = _window_sum(leaves, WEEK), _window_sum(leaves, MONTH)
    rates = {
        "dau_rate": _rate(active, members),
        "speaking_rate_day": _rate(speakers, members),
        "speaking_rate_week": _rate(speakers_week, members),
        "speaking_rate_month": _rate(speakers_month, members),
        "messages_per_member": _rate(messages_week, members * WEEK),
        "quit_rate_week": _rate(leaves_week, _shift(members, WEEK)),
        "quit_rate_month": _rate(leaves_month, _shift(members, MONTH)),
        "interaction_rate": _rate(interactors_week, members),
    }
    unanswered = unanswered_questions(community, now=now, options=options)
    today = targets[-1]
    columns = [
        "community_id", "group_id", "day", "members", "joins", "leaves", "active_members", "speakers",
        "interactors", "messages", *rates, "unanswered_questions", "grade", "failed_checks",
    ]  # fmt: skip
    ops = connection.ops
    rows = []
    target_columns = np.array(targets, dtype=np.int64) - axis.first
    for row, group_id in enumerate(group_ids.tolist()):
        for column in target_columns.tolist():
            day = axis.first + column
            values = {name: _float(matrix[row, column]) for name, matrix in rates.items()}
            open_questions = unanswered.get(group_id, 0) if day == today else None
            failed = health_checks(values, open_questions, options) if members[row, column] > 0 else []
            grade = grade_for(failed) if members[row, column] > 0 else ""
            rows.append(
                (
                    community.pk, group_id, ops.adapt_datefield_value(date.fromordinal(day)),
                    int(members[row, column]), int(joins[row, column]), int(leaves[row, column]),
                    int(active[row, column]), int(speakers[row, column]), int(interactors[row, column]),
                    int(messages[row, column]), *values.values(), open_questions, grade,
                    _json(failed),
                )
            )  # fmt: skip
    upsert(GroupDay._meta.db_table, columns, rows, conflict=("group_id", "day"))
    return len(rows)


def _community_days_write(community, targets, axis_first, posting, community_daily, memberships, zone) -> None:
    axis = DayAxis(axis_first, targets[-1], np.array([0]))
    members, joins, leaves = _membership_matrices(axis, memberships, zone, None)
    keys = np.zeros(len(posting), dtype=np.int64)
    post_members = posting["member_id"].to_numpy(dtype=np.int64)
    post_days = _ordinals(posting["day"])
    speakers_week = window_distinct(axis, keys, post_members, post_days, WEEK)
    speakers_month = window_distinct(axis, keys, post_members, post_days, MONTH)
    active, speakers, messages = axis.zeros(), axis.zeros(), axis.zeros()
    if not community_daily.empty:
        columns = _ordinals(community_daily["day"]) - axis.first
        active[0, columns] = community_daily["active"].to_numpy(dtype=np.int64)
        speakers[0, columns] = community_daily["speakers"].to_numpy(dtype=np.int64)
        messages[0, columns] = community_daily["messages"].fillna(0).to_numpy(dtype=np.int64)
    ops = connection.ops
    leaves_month = _window_sum(leaves, MONTH)
    rates = {
        "dau_rate": _rate(active, members),
        "speaking_rate_week": _rate(speakers_week, members),
        "speaking_rate_month": _rate(speakers_month, members),
        "messages_per_member": _rate(_window_sum(messages, WEEK), members * WEEK),
        "quit_rate_month": _rate(leaves_month, _shift(members, MONTH)),
    }
    names = ["community_id", "day", "members", "joins", "leaves", "active_members", "speakers", "messages", *rates]
    names += ["states", "segments"]  # filled by the member step; a new row starts empty
    rows = []
    for ordinal in targets:
        column = ordinal - axis.first
        rows.append(
            (
                community.pk, ops.adapt_datefield_value(date.fromordinal(ordinal)), int(members[0, column]),
                int(joins[0, column]), int(leaves[0, column]), int(active[0, column]), int(speakers[0, column]),
                int(messages[0, column]), *(_float(matrix[0, column]) for matrix in rates.values()), "{}", "{}",
            )
        )  # fmt: skip
    upsert(CommunityDay._meta.db_table, names, rows, conflict=("community_id", "day"), update=names[:-2])


def _float(value: Any) -> float | None:
    value = float(value)
    return None if np.isnan(value) else round(value, 6)


def _json(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def unanswered_questions(community: Community, *, now: datetime, options: AnalyticsSettings) -> dict[int, int]:
    """Questions asked in the last 7 days, older than the grace period, that no event replies
    to, per group."""
    table = Event._meta.db_table
    ops = connection.ops
    _names, rows = fetch(
        f"SELECT q.group_id, COUNT(*) FROM {table} q WHERE q.community_id = %s AND q.is_question = %s "
        "AND q.occurred_at >= %s AND q.occurred_at < %s AND NOT EXISTS ("
        f"SELECT 1 FROM {table} r WHERE r.community_id = q.community_id AND r.reply_to = q.external_id"
        ") GROUP BY q.group_id",
        [
            community.pk,
            True,
            ops.adapt_datetimefield_value(now - timedelta(days=WEEK)),
            ops.adapt_datetimefield_value(now - timedelta(hours=options.unanswered_after_hours)),
        ],
    )
    return dict(rows)


# --- Health grades ---------------------------------------------------------------------------

HEALTH_CHECKS = (
    # (metric, setting, at least?) — the direction each threshold runs.
    ("speaking_rate_week", "speaking_rate_week_min", True),
    ("speaking_rate_month", "speaking_rate_month_min", True),
    ("messages_per_member", "messages_per_member_min", True),
    ("interaction_rate", "interaction_rate_min", True),
    ("quit_rate_week", "quit_rate_week_max", False),
    ("quit_rate_month", "quit_rate_month_max", False),
)


def health_checks(values: dict[str, float | None], unanswered: int | None, options: AnalyticsSettings) -> list[dict]:
    """The thresholds a group misses: [{"metric", "value", "threshold"}]. An empty rate (no
    members at the start of the window) fails nothing."""
    failed = []
    for metric, setting, at_least in HEALTH_CHECKS:
        value, threshold = values.get(metric), getattr(options, setting)
        if value is None:
            continue
        if at_least:
            missed = value < threshold
        elif metric == "quit_rate_week":
            missed = value >= threshold  # "below 15% a week" (004); the month may touch its 5%
        else:
            missed = value > threshold
        if missed:
            failed.append({"metric": metric, "value": value, "threshold": threshold})
    if unanswered is not None and unanswered >= options.unanswered_questions_max:
        failed.append(
            {"metric": "unanswered_questions", "value": unanswered, "threshold": options.unanswered_questions_max}
        )
    return failed


def grade_for(failed: list[dict]) -> str:
    """A: every threshold met; B: one missed; C: two; D: three or more."""
    return "ABCD"[min(len(failed), 3)]


# --- Members ---------------------------------------------------------------------------------


def member_frame(community: Community, *, today: date, options: AnalyticsSettings) -> pd.DataFrame:
    """One row per member of the community, with every count the member metrics need: one
    GROUP BY over the rollups, joined in pandas to the member list."""
    ops = connection.ops
    end = today.toordinal()

    def day(offset: int) -> Any:
        return ops.adapt_datefield_value(date.fromordinal(end - offset))

    posted = "messages + replies"
    engaged = "messages + replies + reactions + check_ins + visits"
    benefits = " + ".join(
        {"check_in": "check_ins", "click": "clicks", "purchase": "purchases"}[k] for k in BENEFIT_KINDS
    )
    cutoff = day(options.churn_horizon_days - 1)  # the holdout is the last `horizon` days, today included
    sql = f"""
        SELECT member_id,
            MAX(last_message_at) AS last_message_at, MAX(last_visit_at) AS last_visit_at, MAX(last_at) AS last_at,
            COUNT(DISTINCT CASE WHEN day > %s AND {engaged} > 0 THEN day END) AS active_days,
            SUM(CASE WHEN day > %s THEN {posted} ELSE 0 END) AS posts_7,
            SUM(CASE WHEN day > %s THEN {posted} ELSE 0 END) AS posts_hv,
            SUM(CASE WHEN day > %s THEN {posted} ELSE 0 END) AS posts_30,
            SUM(CASE WHEN day > %s THEN {posted} ELSE 0 END) AS posts_90,
            SUM(CASE WHEN day > %s THEN messages + replies + reactions ELSE 0 END) AS interactions_14,
            SUM(CASE WHEN day > %s AND day <= %s THEN messages + replies + reactions ELSE 0 END) AS interactions_28,
            SUM(CASE WHEN day > %s THEN {posted} ELSE 0 END) AS posts_14,
            SUM(CASE WHEN day > %s AND day <= %s THEN {posted} ELSE 0 END) AS posts_prior_14,
            SUM(CASE WHEN day > %s THEN {benefits} ELSE 0 END) AS benefits_30,
            SUM(CASE WHEN day > %s THEN visits ELSE 0 END) AS visits_30,
            SUM(CASE WHEN day > %s THEN reactions ELSE 0 END) AS reactions_30,
            SUM(CASE WHEN day > %s THEN value ELSE 0 END) AS value_90,
            MIN(CASE WHEN {engaged} > 0 THEN day END) AS first_engaged,
            MAX(CASE WHEN {engaged} > 0 THEN day END) AS last_engaged,
            COUNT(DISTINCT CASE WHEN {engaged} > 0 THEN day END) AS engaged_days,
            COUNT(DISTINCT CASE WHEN {engaged} > 0 AND day < %s THEN day END) AS engaged_days_cal,
            MAX(CASE WHEN {engaged} > 0 AND day < %s THEN day END) AS last_engaged_cal,
            MAX(CASE WHEN {engaged} > 0 AND day >= %s THEN 1 ELSE 0 END) AS engaged_holdout,
            SUM(CASE WHEN day > %s THEN leaves ELSE 0 END) AS leaves_7
        FROM {MemberDay._meta.db_table} WHERE community_id = %s GROUP BY member_id
    """
    params = [
        day(90), day(7), day(options.high_value_days), day(30), day(90), day(14), day(28), day(14),
        day(14), day(28), day(14), day(30), day(30), day(30), day(90), cutoff, cutoff, cutoff, day(7), community.pk,
    ]  # fmt: skip
    activity = _frame(sql, params)
    people = pd.DataFrame.from_records(
        Member.objects.filter(community=community).values_list("pk", "joined_at", "created_at"),
        columns=["member_id", "joined_at", "created_at"],
    )
    frame = people.merge(activity, on="member_id", how="left")
    counts = [column for column in activity.columns if column not in _DATE_COLUMNS and column != "member_id"]
    frame[counts] = frame[counts].fillna(0)
    for column in ("last_message_at", "last_visit_at", "last_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True, format="mixed")
    for column in ("first_engaged", "last_engaged", "last_engaged_cal"):
        known = frame[column].notna()
        ordinals = np.full(len(frame), -1, dtype=np.int64)
        ordinals[known.to_numpy()] = _ordinals(frame.loc[known, column])
        frame[column] = ordinals
    joined = frame["joined_at"].fillna(frame["created_at"])
    frame["joined_day"] = _local_ordinals(joined, community.time_zone)
    return frame


_DATE_COLUMNS = {"last_message_at", "last_visit_at", "last_at", "first_engaged", "last_engaged", "last_engaged_cal"}


def _days_since(stamps: pd.Series, now: datetime) -> np.ndarray:
    """Whole days since each instant; infinity where there is none."""
    delta = (pd.Timestamp(now) - stamps).dt.total_seconds() / 86400
    return delta.fillna(np.inf).to_numpy()


def member_states(frame: pd.DataFrame, *, now: datetime, today: date, options: AnalyticsSettings) -> np.ndarray:
    """Each member's state, first match wins:
    churned — nothing at all for ``churned_days`` (counted from joining for the never-seen);
    active — at least ``active_messages_per_week`` posts in the last 7 days;
    occasional — posted within ``silent_days``, but less than that;
    freeloader — never posts (90 days) nor reacts, yet claims benefits (check-ins, coupon
    clicks, purchases) within 30 days;
    lurker — never posts (90 days) but visits or reacts within 30 days;
    silent — everything else: no post for ``silent_days``."""
    joined_days = today.toordinal() - frame["joined_day"].to_numpy()
    since_any = np.minimum(_days_since(frame["last_at"], now), np.where(joined_days >= 0, joined_days, np.inf))
    since_post = _days_since(frame["last_message_at"], now)
    posts_7 = frame["posts_7"].to_numpy()
    posts_90 = frame["posts_90"].to_numpy()
    conditions = [
        since_any >= options.churned_days,
        posts_7 >= options.active_messages_per_week,
        since_post < options.silent_days,
        (posts_90 == 0) & (frame["reactions_30"].to_numpy() == 0) & (frame["benefits_30"].to_numpy() > 0),
        (posts_90 == 0) & (frame["visits_30"].to_numpy() + frame["reactions_30"].to_numpy() > 0),
    ]
    choices = [MemberState.CHURNED, MemberState.ACTIVE, MemberState.OCCASIONAL, MemberState.FREELOADER]
    choices.append(MemberState.LURKER)
    return np.select(conditions, [str(choice) for choice in choices], default=str(MemberState.SILENT))


def member_segments(frame: pd.DataFrame, *, now: datetime, options: AnalyticsSettings) -> np.ndarray:
    """SPEC's RFM segments: lost (no activity for ``churned_days``), silent (for
    ``silent_days``), high value (active within ``high_value_days`` and posting at least
    ``high_value_messages_per_day`` a day over them), potential (the rest)."""
    since_any = _days_since(frame["last_at"], now)
    rate = frame["posts_hv"].to_numpy() / options.high_value_days
    conditions = [
        since_any >= options.churned_days,
        since_any >= options.silent_days,
        (since_any < options.high_value_days) & (rate >= options.high_value_messages_per_day),
    ]
    choices = [str(Segment.LOST), str(Segment.SILENT), str(Segment.HIGH_VALUE)]
    return np.select(conditions, choices, default=str(Segment.POTENTIAL))


def rfm_scores(frame: pd.DataFrame, *, now: datetime) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Quintile scores 1–5 (5 best) on recency, frequency (active days in 90) and monetary
    value (purchases in 90 days). Ties share a score; members with nothing score 1."""

    def quintile(values: np.ndarray, *, present: np.ndarray) -> np.ndarray:
        scores = np.ones(len(values), dtype=np.int64)
        if present.any():
            ranks = pd.Series(values[present]).rank(method="max", pct=True).to_numpy()
            scores[present] = np.clip(np.ceil(ranks * 5), 1, 5).astype(np.int64)
        return scores

    recency = -_days_since(frame["last_at"], now)
    frequency = frame["active_days"].to_numpy(dtype=float)
    monetary = frame["value_90"].astype(float).to_numpy()
    return (
        quintile(recency, present=np.isfinite(recency)),
        quintile(frequency, present=frequency > 0),
        quintile(monetary, present=monetary > 0),
    )


def churn_scores(frame: pd.DataFrame, *, today: date, horizon: int) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """P(alive) and the churn probability (no activity within ``horizon`` days) from a BG/NBD
    fit on active days, and how well the same model, fitted on the history up to ``horizon``
    days ago, predicted what happened since."""
    end = today.toordinal() + 1
    engaged = frame["first_engaged"].to_numpy() >= 0
    first = np.where(engaged, frame["first_engaged"].to_numpy(), frame["joined_day"].to_numpy())
    first = np.minimum(first, end - 1)
    x = np.where(engaged, frame["engaged_days"].to_numpy() - 1, 0).astype(float)
    recency = np.where(engaged, frame["last_engaged"].to_numpy() - first, 0).astype(float)
    age = (end - first).astype(float)
    p_alive = np.full(len(frame), np.nan)
    p_silent = np.full(len(frame), np.nan)
    info: dict[str, Any] = {"horizon_days": horizon}
    if engaged.sum() < 20:
        info["error"] = "Too few members with activity to fit the churn model (20 needed)."
        return p_alive, p_silent, info
    cutoff = end - horizon
    history = engaged & (first < cutoff)
    calibration: dict[str, Any] = {}
    if history.sum() >= 20:
        x_cal = np.maximum(frame["engaged_days_cal"].to_numpy()[history] - 1, 0).astype(float)
        recency_cal = (frame["last_engaged_cal"].to_numpy()[history] - first[history]).clip(min=0).astype(float)
        age_cal = (cutoff - first[history]).astype(float)
        try:
            fitted = churn.fit_bgnbd(x_cal, recency_cal, age_cal)
            predicted = churn.probability_silent(fitted, x_cal, recency_cal, age_cal, horizon)
            observed = frame["engaged_holdout"].to_numpy()[history] == 0
            calibration = churn.calibration_report(predicted, observed.astype(int))
            calibration["params"] = fitted.to_dict()
        except (ValueError, FloatingPointError) as error:
            calibration = {"error": str(error)}
    try:
        params = churn.fit_bgnbd(x[engaged], recency[engaged], age[engaged])
    except (ValueError, FloatingPointError) as error:
        info["error"] = str(error)
        return p_alive, p_silent, info
    p_alive = churn.probability_alive(params, x, recency, age)
    p_silent = churn.probability_silent(params, x, recency, age, horizon)
    info.update(params=params.to_dict(), members=int(engaged.sum()), calibration=calibration)
    return p_alive, p_silent, info


def _members_refresh(community: Community, *, today: date, now: datetime, options: AnalyticsSettings) -> dict:
    horizon = options.churn_horizon_days
    frame = member_frame(community, today=today, options=options)
    if frame.empty:
        CommunityDay.objects.filter(community=community, day=today).update(states={}, segments={})
        return {"_members": 0, "_churn": {}}
    states = member_states(frame, now=now, today=today, options=options)
    segments = member_segments(frame, now=now, options=options)
    recency, frequency, monetary = rfm_scores(frame, now=now)
    p_alive, p_silent, info = churn_scores(frame, today=today, horizon=horizon)
    bands = np.select(
        [np.isnan(p_silent), p_silent >= options.risk_high, p_silent >= options.risk_medium],
        ["", str(RiskBand.HIGH), str(RiskBand.MEDIUM)],
        default=str(RiskBand.LOW),
    )
    prior = frame["interactions_28"].to_numpy(dtype=float)
    recent = frame["interactions_14"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        decay = np.where(prior > 0, 1 - recent / prior, np.nan)
    ops = connection.ops

    def stamp(value: Any) -> Any:
        return None if pd.isna(value) else ops.adapt_datetimefield_value(value.to_pydatetime())

    day_value = ops.adapt_datefield_value(today)
    computed = ops.adapt_datetimefield_value(now)
    columns = [
        "member_id", "community_id", "day", "last_message_at", "last_visit_at", "last_active_at", "active_days",
        "messages_7d", "messages_30d", "messages_90d", "interactions_14d", "interactions_prior_14d", "decay",
        "state", "recency_score", "frequency_score", "monetary_score", "segment", "p_alive", "churn_probability",
        "risk_band", "computed_at",
    ]  # fmt: skip
    rows = list(
        zip(
            frame["member_id"].tolist(),
            [community.pk] * len(frame),
            [day_value] * len(frame),
            map(stamp, frame["last_message_at"]),
            map(stamp, frame["last_visit_at"]),
            map(stamp, frame["last_at"]),
            frame["active_days"].astype(int).tolist(),
            frame["posts_7"].astype(int).tolist(),
            frame["posts_30"].astype(int).tolist(),
            frame["posts_90"].astype(int).tolist(),
            frame["interactions_14"].astype(int).tolist(),
            frame["interactions_28"].astype(int).tolist(),
            [_float(value) for value in decay],
            states.tolist(),
            recency.tolist(),
            frequency.tolist(),
            monetary.tolist(),
            segments.tolist(),
            [_float(value) for value in p_alive],
            [_float(value) for value in p_silent],
            bands.tolist(),
            [computed] * len(frame),
            strict=True,
        )
    )
    with transaction.atomic():
        derived_data_transaction()
        upsert(MemberMetric._meta.db_table, columns, rows, conflict=("member_id",))
        state_counts = pd.Series(states).value_counts().to_dict()
        segment_counts = pd.Series(segments).value_counts().to_dict()
        CommunityDay.objects.update_or_create(
            community=community,
            day=today,
            defaults={
                "states": {key: int(value) for key, value in state_counts.items()},
                "segments": {key: int(value) for key, value in segment_counts.items()},
            },
        )
        ChurnModel.objects.update_or_create(
            community=community,
            day=today,
            defaults={
                "params": info.get("params", {}),
                "members": info.get("members", 0),
                "horizon_days": horizon,
                "calibration": info.get("calibration", {}),
                "error": info.get("error", ""),
                "created_at": now,
            },
        )
    return {"_members": len(frame), "_churn": info}


# --- Alerts ----------------------------------------------------------------------------------


def _alerts_refresh(community: Community, *, today: date, now: datetime, options: AnalyticsSettings) -> int:
    """Open an alert for each condition that holds today, refresh those still open, resolve
    those whose condition has ended. A dismissed alert stays quiet for a week."""
    wanted: dict[tuple[str, str], dict[str, Any]] = {}
    for group_day in GroupDay.objects.filter(community=community, day=today).exclude(members=0):
        health = [check for check in group_day.failed_checks if check["metric"] != "unanswered_questions"]
        if health:
            wanted[(AlertKind.GROUP_BELOW_THRESHOLD, f"group:{group_day.group_id}")] = {
                "group_id": group_day.group_id,
                "detail": {"checks": health, "grade": group_day.grade},
            }
        if (group_day.unanswered_questions or 0) >= options.unanswered_questions_max:
            wanted[(AlertKind.UNANSWERED_QUESTIONS, f"group:{group_day.group_id}")] = {
                "group_id": group_day.group_id,
                "detail": {"count": group_day.unanswered_questions},
            }
    ops = connection.ops
    end = today.toordinal()
    main_groups = dict(
        fetch(
            f"SELECT member_id, MAX(group_id) FROM {MemberDay._meta.db_table} md WHERE community_id = %s "
            "AND day > %s GROUP BY member_id",
            [community.pk, ops.adapt_datefield_value(date.fromordinal(end - 28))],
        )[1]
    )
    metrics = MemberMetric.objects.filter(community=community)
    left_recently = dict(
        fetch(
            f"SELECT member_id, MAX(group_id) FROM {MemberDay._meta.db_table} WHERE community_id = %s AND day > %s "
            "AND leaves > 0 GROUP BY member_id",
            [community.pk, ops.adapt_datefield_value(date.fromordinal(end - WEEK))],
        )[1]
    )
    quiet = set(metrics.filter(member_id__in=list(left_recently), messages_7d=0).values_list("member_id", flat=True))
    for member_id in quiet:
        wanted[(AlertKind.SILENT_AND_LEFT, f"member:{member_id}")] = {
            "group_id": left_recently[member_id],
            "member_id": member_id,
            "detail": {},
        }
    # "Fewer than 3 messages in two weeks" for members who managed 3 in the two weeks before.
    declining = _frame(
        f"SELECT member_id, SUM(CASE WHEN day > %s THEN messages + replies ELSE 0 END) AS recent, "
        "SUM(CASE WHEN day <= %s THEN messages + replies ELSE 0 END) AS prior "
        f"FROM {MemberDay._meta.db_table} WHERE community_id = %s AND day > %s GROUP BY member_id",
        [
            ops.adapt_datefield_value(date.fromordinal(end - 14)),
            ops.adapt_datefield_value(date.fromordinal(end - 14)),
            community.pk,
            ops.adapt_datefield_value(date.fromordinal(end - 28)),
        ],
    )
    if not declining.empty:
        low = declining[(declining["recent"] < 3) & (declining["prior"] >= 3)]
        for member_id, recent, prior in low[["member_id", "recent", "prior"]].itertuples(index=False):
            if member_id in main_groups:
                wanted[(AlertKind.LOW_ACTIVITY, f"member:{member_id}")] = {
                    "group_id": main_groups[member_id],
                    "member_id": member_id,
                    "detail": {"recent": int(recent), "prior": int(prior)},
                }
    return _alerts_apply(community, wanted, today, now)


@transaction.atomic
def _alerts_apply(community: Community, wanted: dict, today: date, now: datetime) -> int:
    open_alerts = {
        (alert.kind, alert.subject): alert
        for alert in Alert.objects.select_for_update().filter(community=community, status=AlertStatus.OPEN)
    }
    muted = set(
        Alert.objects.filter(
            community=community, status=AlertStatus.DISMISSED, resolved_at__gte=now - timedelta(days=WEEK)
        ).values_list("kind", "subject")
    )
    ended = [alert.pk for key, alert in open_alerts.items() if key not in wanted]
    Alert.objects.filter(pk__in=ended).update(status=AlertStatus.RESOLVED, resolved_at=now)
    refreshed, created = [], []
    for key, values in wanted.items():
        alert = open_alerts.get(key)
        if alert is not None:
            alert.last_day, alert.detail = today, values["detail"]
            refreshed.append(alert)
        elif key not in muted:
            created.append(
                Alert(
                    community=community,
                    kind=key[0],
                    subject=key[1],
                    group_id=values["group_id"],
                    member_id=values.get("member_id"),
                    detail=values["detail"],
                    first_day=today,
                    last_day=today,
                )
            )
    Alert.objects.bulk_update(refreshed, ["last_day", "detail"], batch_size=500)
    Alert.objects.bulk_create(created, batch_size=500)
    return len(refreshed) + len(created)
