"""Streaks (连续签到): runs of consecutive local days with a check-in.

The current streak is the run that ends today, or yesterday when the member has not checked in
yet today (the streak is still alive until the day is over). The best streak is the longest run
ever. For one member the days come back in one query and are walked in Python; for many members
one query groups the days into runs ("gaps and islands": a day minus its rank among the member's
days is constant along a run)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import connection

from engagement.models import CheckIn
from members.models import Member
from subgroups.models import Community


@dataclass(frozen=True)
class Streak:
    current: int = 0
    best: int = 0
    last_day: date | None = None


@dataclass(frozen=True)
class Run:
    first: date
    last: date

    @property
    def length(self) -> int:
        return (self.last - self.first).days + 1


def runs_of(days: Iterable[date]) -> list[Run]:
    """The runs of consecutive days in ``days`` (any order, duplicates allowed), oldest first."""
    runs: list[Run] = []
    for day in sorted(set(days)):
        if runs and runs[-1].last + timedelta(days=1) == day:
            runs[-1] = Run(runs[-1].first, day)
        else:
            runs.append(Run(day, day))
    return runs


def streak_of_runs(runs: Sequence[Run], *, today: date) -> Streak:
    if not runs:
        return Streak()
    last = max(runs, key=lambda run: run.last)
    alive = last.last >= today - timedelta(days=1)
    return Streak(current=last.length if alive else 0, best=max(run.length for run in runs), last_day=last.last)


def milestones(runs: Iterable[Run], every: int) -> list[date]:
    """The days on which a run reached ``every``, 2 × ``every``, … days: each pays a bonus."""
    if every <= 0:
        return []
    return [run.first + timedelta(days=length - 1) for run in runs for length in range(every, run.length + 1, every)]


def member_days(member: Member) -> list[date]:
    return list(CheckIn.objects.filter(member=member).order_by("day").values_list("day", flat=True))


def member_streak(member: Member, *, today: date) -> Streak:
    return streak_of_runs(runs_of(member_days(member)), today=today)


def _island_sql() -> str:
    if connection.vendor == "postgresql":
        island = "day - CAST(ROW_NUMBER() OVER (PARTITION BY member_id ORDER BY day) AS integer)"
    else:  # SQLite keeps dates as ISO text; julianday() makes them numbers
        island = "julianday(day) - ROW_NUMBER() OVER (PARTITION BY member_id ORDER BY day)"
    table = CheckIn._meta.db_table
    return (
        f"SELECT member_id, MIN(day), MAX(day) FROM ("
        f"SELECT member_id, day, {island} AS island FROM {table} WHERE community_id = %s"
        f") AS days GROUP BY member_id, island"
    )


def community_runs(community: Community) -> dict[int, list[Run]]:
    """Every member's runs in one query: one row per run, not per day."""
    found: dict[int, list[Run]] = {}
    with connection.cursor() as cursor:
        cursor.execute(_island_sql(), [community.pk])
        for member_id, first, last in cursor.fetchall():
            found.setdefault(member_id, []).append(Run(_as_date(first), _as_date(last)))
    return found


def streaks_for(community: Community, *, today: date, member_ids: Iterable[int] | None = None) -> dict[int, Streak]:
    """Members' streaks (those who never checked in are left out)."""
    runs = community_runs(community)
    if member_ids is not None:
        wanted = set(member_ids)
        runs = {member_id: found for member_id, found in runs.items() if member_id in wanted}
    return {member_id: streak_of_runs(found, today=today) for member_id, found in runs.items()}


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
