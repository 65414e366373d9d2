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

from analytics.models import (
    AnalyticsSettings,
    CommunityDay,
    DirtyDay,
    Event,
    EventKind,
    GroupDay,
    MemberDay,
)
from analytics.services import alerts, member_metrics
from analytics.services.frames import (
    MONTH,
    NEVER,
    WEEK,
    DayAxis,
    as_float,
    as_json,
    local_ordinals,
    ordinals,
    rate,
    shift,
    sql_frame,
    window_distinct,
    window_sum,
)
from analytics.settings import settings_for
from analytics.sql import derived_data_transaction, fetch, upsert
from core.locks import advisory_unlock, try_advisory_lock
from members.models import Membership
from subgroups.models import Community

logger = logging.getLogger(__name__)

_LOCK_KEY = 0x43414E33  # "CAN3": one metric run per community at a time
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
    if not try_advisory_lock(_LOCK_KEY, community.pk):
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
        states = member_metrics.members_refresh(community, today=today, now=now, options=options)
        report.members = states.pop("_members", 0)
        report.churn = states.pop("_churn", {})
        step("alerts", 90)
        report.alerts_open = alerts.alerts_refresh(community, today=today, now=now, options=options)
        step("done", 100)
    finally:
        advisory_unlock(_LOCK_KEY, community.pk)
    report.seconds = time.perf_counter() - started
    return report


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
    posting = sql_frame(
        f"SELECT group_id, member_id, day, (replies + reactions) AS interacted FROM {MemberDay._meta.db_table} "
        "WHERE community_id = %s AND day >= %s AND day <= %s AND messages + replies > 0",
        [community.pk, ops.adapt_datefield_value(date.fromordinal(axis_first)), ops.adapt_datefield_value(today)],
    )
    interacting = sql_frame(
        f"SELECT group_id, member_id, day FROM {MemberDay._meta.db_table} "
        "WHERE community_id = %s AND day >= %s AND day <= %s AND replies + reactions > 0",
        [community.pk, ops.adapt_datefield_value(date.fromordinal(axis_first)), ops.adapt_datefield_value(today)],
    )
    daily = sql_frame(
        f"SELECT group_id, day, COUNT(*) AS active, SUM(CASE WHEN messages + replies > 0 THEN 1 ELSE 0 END) "
        "AS speakers, SUM(CASE WHEN replies + reactions > 0 THEN 1 ELSE 0 END) AS interactors, "
        f"SUM(messages + replies) AS messages FROM {MemberDay._meta.db_table} "
        "WHERE community_id = %s AND day >= %s AND day <= %s GROUP BY group_id, day",
        [community.pk, ops.adapt_datefield_value(date.fromordinal(axis_first)), ops.adapt_datefield_value(today)],
    )
    community_daily = sql_frame(
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
    joined = local_ordinals(memberships["joined_at"], zone)
    left = local_ordinals(memberships["left_at"], zone)
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


def _group_days_write(
    community, group_ids, targets, axis_first, posting, interacting, daily, memberships, zone, options, now
) -> int:
    if len(group_ids) == 0:
        return 0
    axis = DayAxis(axis_first, targets[-1], group_ids)
    members, joins, leaves = _membership_matrices(axis, memberships, zone, "group_id")
    post_keys = posting["group_id"].to_numpy(dtype=np.int64)
    post_members = posting["member_id"].to_numpy(dtype=np.int64)
    post_days = ordinals(posting["day"])
    speakers_week = window_distinct(axis, post_keys, post_members, post_days, WEEK)
    speakers_month = window_distinct(axis, post_keys, post_members, post_days, MONTH)
    interactors_week = window_distinct(
        axis,
        interacting["group_id"].to_numpy(dtype=np.int64),
        interacting["member_id"].to_numpy(dtype=np.int64),
        ordinals(interacting["day"]),
        WEEK,
    )
    active, speakers, interactors, messages = axis.zeros(), axis.zeros(), axis.zeros(), axis.zeros()
    if not daily.empty:
        rows = axis.rows(daily["group_id"].to_numpy(dtype=np.int64))
        columns = ordinals(daily["day"]) - axis.first
        for matrix, column in ((active, "active"), (speakers, "speakers"), (interactors, "interactors")):
            matrix[rows, columns] = daily[column].to_numpy(dtype=np.int64)
        messages[rows, columns] = daily["messages"].fillna(0).to_numpy(dtype=np.int64)
    messages_week = window_sum(messages, WEEK)
    leaves_week, leaves_month = window_sum(leaves, WEEK), window_sum(leaves, MONTH)
    rates = {
        "dau_rate": rate(active, members),
        "speaking_rate_day": rate(speakers, members),
        "speaking_rate_week": rate(speakers_week, members),
        "speaking_rate_month": rate(speakers_month, members),
        "messages_per_member": rate(messages_week, members * WEEK),
        "quit_rate_week": rate(leaves_week, shift(members, WEEK)),
        "quit_rate_month": rate(leaves_month, shift(members, MONTH)),
        "interaction_rate": rate(interactors_week, members),
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
            values = {name: as_float(matrix[row, column]) for name, matrix in rates.items()}
            open_questions = unanswered.get(group_id, 0) if day == today else None
            failed = health_checks(values, open_questions, options) if members[row, column] > 0 else []
            grade = grade_for(failed) if members[row, column] > 0 else ""
            rows.append(
                (
                    community.pk, group_id, ops.adapt_datefield_value(date.fromordinal(day)),
                    int(members[row, column]), int(joins[row, column]), int(leaves[row, column]),
                    int(active[row, column]), int(speakers[row, column]), int(interactors[row, column]),
                    int(messages[row, column]), *values.values(), open_questions, grade,
                    as_json(failed),
                )
            )  # fmt: skip
    upsert(GroupDay._meta.db_table, columns, rows, conflict=("group_id", "day"))
    return len(rows)


def _community_days_write(community, targets, axis_first, posting, community_daily, memberships, zone) -> None:
    axis = DayAxis(axis_first, targets[-1], np.array([0]))
    members, joins, leaves = _membership_matrices(axis, memberships, zone, None)
    keys = np.zeros(len(posting), dtype=np.int64)
    post_members = posting["member_id"].to_numpy(dtype=np.int64)
    post_days = ordinals(posting["day"])
    speakers_week = window_distinct(axis, keys, post_members, post_days, WEEK)
    speakers_month = window_distinct(axis, keys, post_members, post_days, MONTH)
    active, speakers, messages = axis.zeros(), axis.zeros(), axis.zeros()
    if not community_daily.empty:
        columns = ordinals(community_daily["day"]) - axis.first
        active[0, columns] = community_daily["active"].to_numpy(dtype=np.int64)
        speakers[0, columns] = community_daily["speakers"].to_numpy(dtype=np.int64)
        messages[0, columns] = community_daily["messages"].fillna(0).to_numpy(dtype=np.int64)
    ops = connection.ops
    leaves_month = window_sum(leaves, MONTH)
    rates = {
        "dau_rate": rate(active, members),
        "speaking_rate_week": rate(speakers_week, members),
        "speaking_rate_month": rate(speakers_month, members),
        "messages_per_member": rate(window_sum(messages, WEEK), members * WEEK),
        "quit_rate_month": rate(leaves_month, shift(members, MONTH)),
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
                int(messages[0, column]), *(as_float(matrix[0, column]) for matrix in rates.values()), "{}", "{}",
            )
        )  # fmt: skip
    upsert(CommunityDay._meta.db_table, names, rows, conflict=("community_id", "day"), update=names[:-2])


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
