"""The pieces the metric engine builds with: days as ordinals in the community's time zone,
SQL results as frames, and per-key day matrices with rolling windows of distinct members."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from analytics.sql import fetch

_EPOCH, _EPOCH_ORDINAL = pd.Timestamp("1970-01-01"), date(1970, 1, 1).toordinal()
WEEK, MONTH = 7, 30  # the windows of weekly and monthly rates
NEVER = 10**9  # the ordinal of a day that never comes: a membership still open


def ordinals(values: pd.Series) -> np.ndarray:
    """Dates (or ISO strings from SQLite) as proleptic ordinals, the unit of every window."""
    if values.empty:
        return np.array([], dtype=np.int64)
    stamps = pd.to_datetime(values)
    return ((stamps - _EPOCH).dt.days + _EPOCH_ORDINAL).to_numpy(dtype=np.int64)


def local_ordinals(values: pd.Series, zone: str) -> np.ndarray:
    """Instants (aware on PostgreSQL, naive UTC on SQLite) as the community's local days."""
    if values.empty:
        return np.array([], dtype=np.int64)
    stamps = pd.to_datetime(values, utc=True, format="mixed")
    local = stamps.dt.tz_convert(zone).dt.tz_localize(None).dt.normalize()
    days = (local - _EPOCH).dt.days + _EPOCH_ORDINAL
    return days.fillna(NEVER).to_numpy(dtype=np.int64)


def sql_frame(sql: str, params: list[Any]) -> pd.DataFrame:
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


def rate(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        rates = numerator / denominator
    return np.where(denominator > 0, rates, np.nan)


def window_sum(matrix: np.ndarray, window: int) -> np.ndarray:
    cumulative = np.cumsum(matrix, axis=1)
    shifted = np.zeros_like(cumulative)
    shifted[:, window:] = cumulative[:, :-window]
    return cumulative - shifted


def shift(matrix: np.ndarray, days: int) -> np.ndarray:
    """The value ``days`` earlier (members at the start of a window); 0 before the axis."""
    shifted = np.zeros_like(matrix)
    shifted[:, days:] = matrix[:, :-days]
    return shifted


def as_float(value: Any) -> float | None:
    value = float(value)
    return None if np.isnan(value) else round(value, 6)


def as_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
