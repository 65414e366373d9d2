"""Synthetic community activity for demos and benchmarks.

Pure numpy and pandas, no Django: ``generate_activity`` returns a members frame and an events
frame shaped like what the integrations report, with the structure that makes charts and the
churn model meaningful:

- a heavy-tailed latent activity rate per member (Gamma with shape < 1), so a fifth of the
  members write most of the messages;
- BG/NBD-style dropout: after each active day a member stops for good with probability
  ``p ~ Beta``, so members fall silent partway through the window and some had already gone
  quiet before it began;
- lurkers who visit but never post, check-in regulars, rare purchases;
- joins spread over the window, leaves after activity stops, groups of unequal size;
- weekday seasonality and China's waking hours (UTC+8) in every timestamp.

Everything is vectorised over members and (member, day) cells; the only Python loops run over
blocks of members and over the handful of event kinds, so 100,000 members and five million
events take seconds. The same arguments give identical frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd

# Categories in the order used to break ties between events of one member in the same second:
# the join comes first and the leave last.
KINDS = ("join", "visit", "message", "reply", "reaction", "check_in", "click", "open", "purchase", "leave")
KIND_DTYPE = pd.CategoricalDtype(KINDS)
_KIND = {kind: code for code, kind in enumerate(KINDS)}

CITIES = (
    "北京",
    "上海",
    "深圳",
    "广州",
    "杭州",
    "成都",
    "武汉",
    "南京",
    "西安",
    "重庆",
    "苏州",
    "长沙",
    "天津",
    "郑州",
    "厦门",
    "青岛",
)
_CITY_WEIGHTS = np.array([14, 14, 11, 9, 9, 8, 6, 6, 5, 5, 4, 3, 3, 3, 2, 2], dtype=float)
CITY_DTYPE = pd.CategoricalDtype(CITIES)

DAY = 86_400
_LOCAL_OFFSET = 8 * 3600  # China Standard Time, no daylight saving

# Relative activity per local hour 00..23: quiet at night, a morning and a lunch peak, the
# evening the busiest; about 95% of the mass falls between 08:00 and 23:00.
_HOUR_WEIGHTS = np.array([
    0.30, 0.12, 0.06, 0.04, 0.04, 0.08, 0.25, 0.60, 1.20, 1.60, 1.70, 1.60,
    1.50, 1.25, 1.30, 1.40, 1.40, 1.30, 1.30, 1.60, 1.90, 2.00, 1.70, 0.90,
])  # fmt: skip
_SECOND_KNOTS = np.arange(25, dtype=float) * 3600
_CDF_KNOTS = np.concatenate([[0.0], np.cumsum(_HOUR_WEIGHTS) / _HOUR_WEIGHTS.sum()])
# Monday..Sunday: weekends are quieter.
_WEEKDAY_WEIGHTS = np.array([1.00, 1.03, 1.02, 1.00, 0.94, 0.74, 0.70])

# The model's knobs. Rates are per day; the defaults give about 50 events per member over 90 days.
_PRE_WINDOW_SHARE = 0.45  # joined before the first day
_PRE_WINDOW_TENURE_DAYS = 120.0  # mean of the exponential tenure before the window
_LURKER_SHARE = 0.18
_RATE_SHAPE = 0.55  # Gamma shape < 1: the heavy tail
# The rate drives both how often a member is active and how much they do on an active day; the
# exponents split the tail between the two (each part is normalised to mean 1).
_FREQUENCY_EXPONENT = 0.6
_INTENSITY_EXPONENT = 0.6
_POSTING_FLOOR = 0.35
_ACTIVE_DAY_PROBABILITY = 0.20  # chance of an active day at the mean rate
_DROPOUT_BETA = (0.6, 100.0)  # p ~ Beta(a, b): stop for good after an active day
_CHECK_IN_SHARE = 0.07  # of the members who post
_ABRUPT_LEAVE_SHARE = 0.035
_LEAVE_AFTER_SILENCE = 0.6  # of those who drop out inside the window
_LEAVE_WHEN_DORMANT = 0.08  # of those already silent when the window starts
# Expected events per active day on top of the one visit that makes it active, at intensity 1
# and for the mean member: (posters, lurkers).
_PER_ACTIVE_DAY = {
    "visit": (0.30, 0.30),
    "message": (1.60, 0.0),
    "reply": (0.45, 0.0),
    "reaction": (0.60, 0.0),
    "click": (0.20, 0.25),
    "open": (0.04, 0.06),
    "purchase": (0.010, 0.006),
}
_PRICES = np.array([9.9, 19.9, 29.9, 39.9, 49.0, 69.0, 99.0, 129.0, 199.0, 299.0])
_PRICE_WEIGHTS = np.array([22, 18, 14, 10, 10, 7, 9, 4, 4, 2], dtype=float)
_CELLS_PER_BLOCK = 1_000_000

_SURNAMES = (
    ("王", "Wang"), ("李", "Li"), ("张", "Zhang"), ("刘", "Liu"), ("陈", "Chen"), ("杨", "Yang"), ("黄", "Huang"),
    ("赵", "Zhao"), ("吴", "Wu"), ("周", "Zhou"), ("徐", "Xu"), ("孙", "Sun"), ("马", "Ma"), ("朱", "Zhu"),
    ("胡", "Hu"), ("郭", "Guo"), ("何", "He"), ("高", "Gao"), ("林", "Lin"), ("罗", "Luo"), ("郑", "Zheng"),
    ("梁", "Liang"), ("谢", "Xie"), ("宋", "Song"), ("唐", "Tang"), ("许", "Xu"), ("韩", "Han"), ("冯", "Feng"),
    ("邓", "Deng"), ("曹", "Cao"), ("彭", "Peng"), ("曾", "Zeng"), ("肖", "Xiao"), ("田", "Tian"), ("董", "Dong"),
    ("袁", "Yuan"), ("潘", "Pan"), ("蒋", "Jiang"), ("蔡", "Cai"), ("余", "Yu"), ("杜", "Du"), ("叶", "Ye"),
    ("程", "Cheng"), ("苏", "Su"), ("魏", "Wei"), ("吕", "Lv"), ("丁", "Ding"), ("沈", "Shen"), ("姚", "Yao"),
    ("卢", "Lu"), ("姜", "Jiang"), ("崔", "Cui"), ("钟", "Zhong"), ("谭", "Tan"), ("陆", "Lu"), ("范", "Fan"),
    ("金", "Jin"), ("石", "Shi"), ("廖", "Liao"), ("贾", "Jia"), ("夏", "Xia"), ("方", "Fang"), ("白", "Bai"),
    ("邹", "Zou"), ("孟", "Meng"), ("熊", "Xiong"), ("秦", "Qin"), ("江", "Jiang"), ("顾", "Gu"), ("欧阳", "Ouyang"),
)  # fmt: skip
_GIVEN = (
    ("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"), ("丽", "li"), ("强", "qiang"),
    ("磊", "lei"), ("军", "jun"), ("洋", "yang"), ("勇", "yong"), ("艳", "yan"), ("杰", "jie"), ("娟", "juan"),
    ("涛", "tao"), ("明", "ming"), ("超", "chao"), ("霞", "xia"), ("平", "ping"), ("刚", "gang"), ("华", "hua"),
    ("玉", "yu"), ("红", "hong"), ("鹏", "peng"), ("辉", "hui"), ("欣", "xin"), ("宇", "yu"), ("晨", "chen"),
    ("浩", "hao"), ("婷", "ting"), ("雪", "xue"), ("琳", "lin"), ("佳", "jia"), ("思", "si"), ("雨", "yu"),
    ("梓", "zi"), ("子", "zi"), ("轩", "xuan"), ("涵", "han"), ("怡", "yi"), ("博", "bo"), ("文", "wen"),
    ("一", "yi"), ("诺", "nuo"), ("悦", "yue"), ("然", "ran"), ("嘉", "jia"), ("琪", "qi"), ("睿", "rui"),
    ("晓", "xiao"), ("慧", "hui"), ("颖", "ying"), ("凯", "kai"), ("昊", "hao"), ("萱", "xuan"), ("航", "hang"),
)  # fmt: skip
_NICK_PREFIXES = ("小", "阿", "大", "老")
_NICK_SUFFIXES = ("", "", "", "同学", "酱", "哥", "姐", "老师", "呀")
_ENGLISH = (
    "Amy", "Lily", "Kevin", "Jack", "Coco", "Vivian", "Eric", "Tony", "Grace", "Cindy", "Leo", "Sunny",
    "Alice", "David", "Emma", "Frank", "Helen", "Jason", "Linda", "Peter", "Sharon", "Tina", "Vicky", "Zoe",
)  # fmt: skip


@dataclass(frozen=True)
class SyntheticActivity:
    """``members``: member, external_id, display_name, group, joined_at, left_at, city, purchase_count.
    ``events``: member, group, kind, occurred_at, external_id, text_length, value; sorted by time.
    """

    members: pd.DataFrame
    events: pd.DataFrame


def generate_activity(
    *,
    members: int,
    days: int,
    groups: int = 1,
    seed: int = 0,
    end: datetime | None = None,
    events_target: int | None = None,
) -> SyntheticActivity:
    """Members and their events over the ``days`` before ``end`` (default: now, to the minute).

    ``events_target`` scales the rates so the event count lands near it (within a few tenths of
    a percent in practice). A naive ``end`` is taken as UTC.
    """
    if members < 1 or days < 1 or groups < 1:
        raise ValueError("members, days and groups must be at least 1")
    if seed < 0:
        raise ValueError("seed must not be negative")
    if events_target is not None and events_target < 1:
        raise ValueError("events_target must be positive")
    window = _Window.ending(end, days)
    streams = dict(
        zip(
            ("people", "names", "activity", "counts", "times", "details"),
            np.random.SeedSequence(seed).spawn(6),
            strict=True,
        )
    )
    people = _people(np.random.default_rng(streams["people"]), members, groups, window)

    frequency = 1.0
    cells = _simulate(streams["activity"], people, window, frequency)
    intensity = 1.0
    if events_target is not None:
        base, scaled = cells.expected(people)
        ratio = events_target / (base + scaled)
        if not 0.6 <= ratio <= 1.8:
            # Far from the defaults: move how often members are active as well as how much
            # they do on an active day, so neither turns absurd.
            frequency = ratio**0.5
            cells = _simulate(streams["activity"], people, window, frequency)
        for _ in range(8):
            base, scaled = cells.expected(people)
            intensity = (events_target - base) / scaled if scaled else 0.0
            if intensity >= 0.05:
                break
            # The unscaled part (one visit per active day, check-ins, joins) alone overshoots.
            frequency *= 0.5
            cells = _simulate(streams["activity"], people, window, frequency)
        else:
            raise ValueError(f"events_target={events_target} is too small for {members} members")

    events = _events(np.random.default_rng(streams["counts"]), streams["times"], people, cells, window, intensity)
    member_frame = _member_frame(np.random.default_rng(streams["names"]), seed, people, cells, events)
    event_frame = _event_frame(np.random.default_rng(streams["details"]), seed, people, events)
    return SyntheticActivity(members=member_frame, events=event_frame)


@dataclass(frozen=True)
class _Window:
    """[start, end) in whole epoch seconds, and the China-local days that cover it."""

    start: int
    end: int
    day_start: np.ndarray  # epoch second of each local midnight, int64
    weekday: np.ndarray  # 0 = Monday

    @classmethod
    def ending(cls, end: datetime | None, days: int) -> _Window:
        if end is None:
            end = datetime.now(UTC).replace(second=0, microsecond=0)
        elif end.tzinfo is None:
            end = end.replace(tzinfo=UTC)
        end_us = int(pd.Timestamp(end).value // 1000)
        start_us = end_us - days * DAY * 1_000_000
        # Events are whole seconds in [ceil(start), ceil(end) - 1], i.e. inside [start, end).
        start_s, end_s = -(-start_us // 1_000_000), -(-end_us // 1_000_000)
        first_local_day = (start_s + _LOCAL_OFFSET) // DAY
        last_local_day = (end_s - 1 + _LOCAL_OFFSET) // DAY
        local_days = np.arange(first_local_day, last_local_day + 1, dtype=np.int64)
        return cls(
            start=start_s,
            end=end_s,
            day_start=local_days * DAY - _LOCAL_OFFSET,
            weekday=((local_days + 3) % 7).astype(np.int8),  # 1970-01-01 was a Thursday
        )

    @property
    def local_days(self) -> int:
        return len(self.day_start)


@dataclass(frozen=True)
class _People:
    """Per-member latent traits, all arrays of length N."""

    group: np.ndarray
    group_factor: np.ndarray
    joined_at: np.ndarray  # epoch seconds
    lurker: np.ndarray
    rate: np.ndarray  # mean 1, heavy-tailed
    dropout_after: np.ndarray  # active days until the member stops for good (Geometric(p))
    extra_visit: np.ndarray  # lurkers: chance of a visit on a day that is not active
    check_in: np.ndarray  # chance of a check-in on a living day; 0 for most members
    buyer: np.ndarray  # purchase propensity, mean 1, heavy-tailed
    purchases_before: np.ndarray
    abrupt_left_at: np.ndarray  # epoch seconds, or -1: leaves while still active
    leave_draw: np.ndarray  # uniform: decides leaving once the member's silence is known
    leave_delay: np.ndarray  # seconds between the last active day and the leave

    @property
    def size(self) -> int:
        return len(self.group)

    @property
    def per_active_day(self) -> np.ndarray:
        """Expected events per active day at intensity 1, beyond the guaranteed visit."""
        return sum(self.kind_rate(kind) for kind in _PER_ACTIVE_DAY)

    def kind_rate(self, kind: str) -> np.ndarray:
        poster, lurker = _PER_ACTIVE_DAY[kind]
        base = np.where(self.lurker, lurker, poster)
        if kind in ("message", "reply"):
            # Even the quietest poster says something on some of their active days.
            return base * (_POSTING_FLOOR + (1 - _POSTING_FLOOR) * self.intensity)
        if kind == "reaction":
            return base * np.sqrt(self.intensity)
        if kind == "purchase":
            return base * self.buyer
        return base

    @property
    def frequency(self) -> np.ndarray:
        return _power_of_rate(self.rate, _FREQUENCY_EXPONENT)

    @property
    def intensity(self) -> np.ndarray:
        # Heavy posters also post more on each active day.
        return _power_of_rate(self.rate, _INTENSITY_EXPONENT)


def _power_of_rate(rate: np.ndarray, exponent: float) -> np.ndarray:
    """rate ** exponent, scaled to mean 1 over the Gamma(_RATE_SHAPE, 1 / _RATE_SHAPE) rates."""
    mean = math.gamma(_RATE_SHAPE + exponent) / math.gamma(_RATE_SHAPE) / _RATE_SHAPE**exponent
    return rate**exponent / mean


def _people(rng: np.random.Generator, n: int, groups: int, window: _Window) -> _People:
    shares = np.sort(rng.dirichlet(np.full(groups, 0.9)))[::-1] if groups > 1 else np.ones(1)
    group = rng.choice(groups, size=n, p=shares).astype(np.int32)
    group_factor = np.exp(rng.normal(0.0, 0.3, groups))
    group_factor /= shares @ group_factor

    before = rng.random(n) < _PRE_WINDOW_SHARE
    tenure = np.minimum(rng.exponential(_PRE_WINDOW_TENURE_DAYS * DAY, n), 3 * 365 * DAY).astype(np.int64)
    joined_at = np.where(before, window.start - 1 - tenure, 0)
    inside = np.flatnonzero(~before)
    # Joins grow gently over the window and follow the same days and hours as the activity.
    trend = np.linspace(0.8, 1.2, window.local_days)
    lo, hi = _relative_bounds(window, np.full(window.local_days, window.start), np.full(window.local_days, window.end))
    day_mass = (_cdf(hi) - _cdf(lo)) * _WEEKDAY_WEIGHTS[window.weekday] * trend
    day = np.searchsorted(np.cumsum(day_mass) / day_mass.sum(), rng.random(inside.size), side="right")
    day = np.minimum(day, window.local_days - 1)
    joined_at[inside] = _times_within(rng, window.day_start[day], lo[day], hi[day])

    lurker = rng.random(n) < _LURKER_SHARE
    rate = rng.gamma(_RATE_SHAPE, 1.0 / _RATE_SHAPE, n)
    dropout = rng.beta(*_DROPOUT_BETA, n)
    dropout_after = np.minimum(rng.geometric(np.maximum(dropout, 1e-9)), 1_000_000)
    extra_visit = np.where(lurker, rng.beta(1.5, 14.0, n), 0.0)
    check_in = np.where(~lurker & (rng.random(n) < _CHECK_IN_SHARE), rng.beta(6.0, 2.0, n), 0.0)
    buyer = rng.gamma(0.35, 1.0 / 0.35, n)
    tenure_days = np.where(before, (window.start - joined_at) / DAY, 0.0)
    purchases_before = rng.poisson(buyer * 0.5 * np.minimum(tenure_days / 120.0, 3.0))

    lower = np.maximum(joined_at, window.start) + 3600
    abrupt = (rng.random(n) < _ABRUPT_LEAVE_SHARE) & (lower < window.end - 1)
    abrupt_left_at = np.where(abrupt, lower + (rng.random(n) * (window.end - 1 - lower)).astype(np.int64), -1)
    leave_draw = rng.random(n)
    leave_delay = (3600 + rng.exponential(7 * DAY, n)).astype(np.int64)
    return _People(
        group=group,
        group_factor=group_factor[group],
        joined_at=joined_at,
        lurker=lurker,
        rate=rate,
        dropout_after=dropout_after,
        extra_visit=extra_visit,
        check_in=check_in,
        buyer=buyer,
        purchases_before=purchases_before,
        abrupt_left_at=abrupt_left_at,
        leave_draw=leave_draw,
        leave_delay=leave_delay,
    )


@dataclass(frozen=True)
class _Cells:
    """The simulated (member, local day) cells, as parallel index arrays, and who left when."""

    active_member: np.ndarray
    active_day: np.ndarray
    check_in_member: np.ndarray
    check_in_day: np.ndarray
    visit_member: np.ndarray  # lurkers' visits on days that are not active
    visit_day: np.ndarray
    left_at: np.ndarray  # epoch seconds, or -1
    joins: int

    def expected(self, people: _People) -> tuple[float, float]:
        """(events that do not scale with the intensity, events per unit of intensity)."""
        active_days = np.bincount(self.active_member, minlength=people.size)
        fixed = len(self.active_member) + len(self.check_in_member) + len(self.visit_member)
        fixed += self.joins + int((self.left_at >= 0).sum())
        return float(fixed), float(active_days @ people.per_active_day)


def _simulate(stream: np.random.SeedSequence, people: _People, window: _Window, frequency: float) -> _Cells:
    rng = np.random.default_rng(stream)
    n, width = people.size, window.local_days
    active_probability = np.minimum(_ACTIVE_DAY_PROBABILITY * people.frequency * people.group_factor * frequency, 0.95)

    # Active days spent before the window count towards the dropout: a long-standing member
    # may already have gone quiet for good.
    days_before = np.maximum(window.start - people.joined_at, 0) // DAY
    weekly_mean = _WEEKDAY_WEIGHTS.mean()
    spent = rng.binomial(days_before, np.minimum(active_probability * weekly_mean, 1.0))
    remaining = np.clip(people.dropout_after - spent, 0, width + 1).astype(np.int32)

    lower = np.maximum(people.joined_at, window.start)
    upper = np.where(people.abrupt_left_at >= 0, people.abrupt_left_at, window.end)
    weekday = _WEEKDAY_WEIGHTS[window.weekday]
    check_in_weekday = np.sqrt(weekday)  # habits care less about weekends

    found: dict[str, list[np.ndarray]] = {name: [] for name in ("am", "ad", "cm", "cd", "vm", "vd")}
    last_day = np.full(n, -1, dtype=np.int64)
    block = max(1, _CELLS_PER_BLOCK // width)
    for first in range(0, n, block):
        rows = slice(first, min(first + block, n))
        lo, hi = _relative_bounds(window, lower[rows, None], upper[rows, None])
        mass = _cdf(hi) - _cdf(lo)  # share of a day's activity that falls inside membership
        open_cell = mass > 0
        chance = (active_probability[rows, None] * weekday) * mass
        active = rng.random(chance.shape, dtype=np.float32) < chance
        done = np.cumsum(active, axis=1, dtype=np.int32)
        budget = remaining[rows, None]
        living = open_cell & (done - active < budget)  # up to and including the last active day
        active &= done <= budget
        stopped = (done[:, -1] >= budget[:, 0]) & (budget[:, 0] > 0)
        last_day[rows] = np.where(stopped, np.argmax(done >= budget, axis=1), -1)
        member, day = np.nonzero(active)
        found["am"].append((member + first).astype(np.int32))
        found["ad"].append(day.astype(np.int32))

        for trait, per_day, keys in (
            (people.extra_visit, weekday, ("vm", "vd")),
            (people.check_in, check_in_weekday, ("cm", "cd")),
        ):
            who = np.flatnonzero(trait[rows] > 0)
            if not who.size:
                continue
            chance = (trait[rows][who, None] * per_day) * mass[who]
            hit = (rng.random(chance.shape, dtype=np.float32) < chance) & living[who]
            if keys[0] == "vm":
                hit &= ~active[who]
            member, day = np.nonzero(hit)
            found[keys[0]].append((who[member] + first).astype(np.int32))
            found[keys[1]].append(day.astype(np.int32))

    # Leaves follow the silence: some leave a while after their last active day, a few of the
    # long dormant ones clear out during the window, and the abrupt leavers were set up front.
    left_at = people.abrupt_left_at.copy()
    stopped = (last_day >= 0) & (left_at < 0) & (people.leave_draw < _LEAVE_AFTER_SILENCE)
    after = window.day_start[np.maximum(last_day, 0)] + DAY + people.leave_delay
    left_at = np.where(stopped & (after < window.end), after, left_at)
    dormant = (remaining == 0) & (left_at < 0) & (people.leave_draw < _LEAVE_WHEN_DORMANT)
    quiet_since = np.maximum(people.joined_at, window.start)
    spread = (people.leave_draw / _LEAVE_WHEN_DORMANT * (window.end - 1 - quiet_since)).astype(np.int64)
    left_at = np.where(dormant & (quiet_since < window.end - 1), quiet_since + spread, left_at)

    def joined(key: str) -> np.ndarray:
        return np.concatenate(found[key]) if found[key] else np.empty(0, dtype=np.int32)

    return _Cells(
        active_member=joined("am"),
        active_day=joined("ad"),
        check_in_member=joined("cm"),
        check_in_day=joined("cd"),
        visit_member=joined("vm"),
        visit_day=joined("vd"),
        left_at=left_at,
        joins=int((people.joined_at >= window.start).sum()),
    )


@dataclass(frozen=True)
class _Events:
    member: np.ndarray  # int32
    kind: np.ndarray  # int8 codes into KINDS
    at: np.ndarray  # epoch seconds, int64


def _events(
    rng: np.random.Generator,
    time_stream: np.random.SeedSequence,
    people: _People,
    cells: _Cells,
    window: _Window,
    intensity: float,
) -> _Events:
    # (member, local day, kind) per event, one block per source.
    blocks = [(cells.active_member, cells.active_day, "visit")]  # the visit that makes the day active
    for kind in _PER_ACTIVE_DAY:
        count = rng.poisson(intensity * people.kind_rate(kind)[cells.active_member])
        blocks.append((np.repeat(cells.active_member, count), np.repeat(cells.active_day, count), kind))
    blocks.append((cells.visit_member, cells.visit_day, "visit"))
    blocks.append((cells.check_in_member, cells.check_in_day, "check_in"))
    member = np.concatenate([block[0] for block in blocks])
    day = np.concatenate([block[1] for block in blocks])
    kind = np.concatenate([np.full(len(block[0]), _KIND[block[2]], dtype=np.int8) for block in blocks])
    blocks.clear()

    times = np.random.default_rng(time_stream)
    lower = np.maximum(people.joined_at, window.start)
    upper = np.where(people.abrupt_left_at >= 0, people.abrupt_left_at, window.end)
    at = np.empty(len(member), dtype=np.int64)
    for first in range(0, len(member), 1_000_000):  # bounds the float temporaries
        rows = slice(first, first + 1_000_000)
        m, d = member[rows], day[rows]
        lo, hi = _relative_bounds(window, lower[m], upper[m], d)
        at[rows] = _times_within(times, window.day_start[d], lo, hi)

    joined = np.flatnonzero(people.joined_at >= window.start).astype(np.int32)
    left = np.flatnonzero(cells.left_at >= 0).astype(np.int32)
    member = np.concatenate([member, joined, left])
    kind = np.concatenate(
        [kind, np.full(len(joined), _KIND["join"], np.int8), np.full(len(left), _KIND["leave"], np.int8)]
    )
    at = np.concatenate([at, people.joined_at[joined], cells.left_at[left]])

    # By time, then member, then kind (join first, leave last); stable, so fully deterministic.
    key = ((at - window.start) * people.size + member) * len(KINDS) + kind
    order = np.argsort(key, kind="stable")
    return _Events(member=member[order], kind=kind[order], at=at[order])


def _member_frame(rng: np.random.Generator, seed: int, people: _People, cells: _Cells, events: _Events) -> pd.DataFrame:
    n = people.size
    city = rng.choice(len(CITIES), size=n, p=_CITY_WEIGHTS / _CITY_WEIGHTS.sum())
    bought = np.bincount(events.member[events.kind == _KIND["purchase"]], minlength=n)
    return pd.DataFrame(
        {
            "member": np.arange(n, dtype=np.int32),
            "external_id": _ids(f"syn-{seed}-", n),
            "display_name": _display_names(rng, n),
            "group": people.group,
            "joined_at": _utc(people.joined_at),
            "left_at": _utc(cells.left_at, missing=cells.left_at < 0),
            "city": pd.Categorical.from_codes(city, dtype=CITY_DTYPE),
            "purchase_count": (people.purchases_before + bought).astype(np.int32),
        },
        copy=False,
    )


def _event_frame(rng: np.random.Generator, seed: int, people: _People, events: _Events) -> pd.DataFrame:
    n = len(events.member)
    text_length = np.zeros(n, dtype=np.int32)
    for kind, median, sigma, share in (
        ("message", 20, 0.95, 1.0),
        ("reply", 10, 0.8, 1.0),
        ("check_in", 14, 0.6, 0.55),
    ):
        where = np.flatnonzero(events.kind == _KIND[kind])
        length = np.clip(np.rint(rng.lognormal(np.log(median), sigma, where.size)), 1, 2000)
        text_length[where] = np.where(rng.random(where.size) < share, length, 0)
    value = np.full(n, np.nan)
    where = np.flatnonzero(events.kind == _KIND["purchase"])
    value[where] = rng.choice(_PRICES, size=where.size, p=_PRICE_WEIGHTS / _PRICE_WEIGHTS.sum())
    return pd.DataFrame(
        {
            "member": events.member,
            "group": people.group[events.member],
            "kind": pd.Categorical.from_codes(events.kind, dtype=KIND_DTYPE),
            "occurred_at": _utc(events.at),
            "external_id": _ids(f"syn-{seed}-e", n),
            "text_length": text_length,
            "value": value,
        },
        copy=False,
    )


def _cdf(second_of_day: np.ndarray) -> np.ndarray:
    return np.interp(second_of_day, _SECOND_KNOTS, _CDF_KNOTS)


def _relative_bounds(
    window: _Window, lower: np.ndarray, upper: np.ndarray, day: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """[lower, upper) clipped to each local day, as seconds since that day's midnight."""
    day_start = window.day_start if day is None else window.day_start[day]
    return np.clip(lower - day_start, 0, DAY), np.clip(upper - day_start, 0, DAY)


def _times_within(rng: np.random.Generator, day_start: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Whole epoch seconds in [day_start + lo, day_start + hi), following the hourly profile
    (inverse transform on the piecewise-linear daily CDF). Needs hi > lo everywhere."""
    f_lo, f_hi = _cdf(lo), _cdf(hi)
    second = np.interp(f_lo + rng.random(len(lo)) * (f_hi - f_lo), _CDF_KNOTS, _SECOND_KNOTS)
    return day_start + np.clip(second.astype(np.int64), lo, hi - 1)


def _utc(seconds: np.ndarray, missing: np.ndarray | None = None) -> pd.DatetimeIndex:
    stamps = seconds.astype("datetime64[s]").astype("datetime64[ns]")
    if missing is not None:
        stamps[missing] = np.datetime64("NaT")
    return pd.DatetimeIndex(stamps).tz_localize(UTC)


def _ids(prefix: str, n: int) -> np.ndarray:
    """prefix + 0, 1, … as Python strings (object dtype), built in blocks to bound the temporaries."""
    ids = np.empty(n, dtype=object)
    for first in range(0, n, 1_000_000):
        number = np.arange(first, min(first + 1_000_000, n)).astype(np.dtypes.StringDType())
        ids[first : first + len(number)] = np.strings.add(prefix, number)
    return ids


def _display_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """Chinese names, nicknames and pinyin handles, assembled from the small lists above."""
    surname = rng.integers(len(_SURNAMES), size=n)
    first, second = rng.integers(len(_GIVEN), size=(2, n))
    two_chars = rng.random(n) < 0.6

    def pick(options: tuple[str, ...] | list[str], index: np.ndarray) -> np.ndarray:
        return np.array(options, dtype=np.dtypes.StringDType())[index]

    han_surname = pick([s for s, _ in _SURNAMES], surname)
    han_first = pick([g for g, _ in _GIVEN], first)
    han_second = np.where(two_chars, pick([g for g, _ in _GIVEN], second), "")
    pin_surname = pick([p for _, p in _SURNAMES], surname)
    pin_first = pick([p for _, p in _GIVEN], first)
    pin_second = np.where(two_chars, pick([p for _, p in _GIVEN], second), "")
    add = np.strings.add

    chinese = add(add(han_surname, han_first), han_second)
    nickname = add(
        add(pick(_NICK_PREFIXES, rng.integers(len(_NICK_PREFIXES), size=n)), han_first),
        pick(_NICK_SUFFIXES, rng.integers(len(_NICK_SUFFIXES), size=n)),
    )
    pinyin = add(add(pin_surname, " "), np.strings.capitalize(add(pin_first, pin_second)))
    year = rng.integers(70, 106, size=n) % 100
    handle = add(add(add(pin_first, pin_second), np.where(rng.random(n) < 0.5, "_", "")), np.strings.lower(pin_surname))
    handle = add(handle, np.where(rng.random(n) < 0.6, np.strings.zfill(year.astype(np.dtypes.StringDType()), 2), ""))
    english = add(
        add(pick(_ENGLISH, rng.integers(len(_ENGLISH), size=n)), " "),
        np.where(rng.random(n) < 0.5, han_surname, pin_surname),
    )

    style = rng.choice(5, size=n, p=[0.45, 0.15, 0.15, 0.15, 0.10])
    names = np.select([style == 0, style == 1, style == 2, style == 3], [chinese, nickname, pinyin, handle], english)
    return names.astype(object)
