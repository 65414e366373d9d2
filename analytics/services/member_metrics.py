"""Member metrics: one GROUP BY over the rollups per run, then states, segments, RFM scores
and the churn model on the frame, written back as one upsert per member."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
from django.db import connection, transaction

from analytics import churn
from analytics.models import (
    BENEFIT_KINDS,
    AnalyticsSettings,
    ChurnModel,
    CommunityDay,
    MemberDay,
    MemberMetric,
    MemberState,
    RiskBand,
    Segment,
)
from analytics.services.frames import as_float, local_ordinals, ordinals, sql_frame
from analytics.sql import derived_data_transaction, upsert
from members.models import Member
from subgroups.models import Community


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
    activity = sql_frame(sql, params)
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
        days = np.full(len(frame), -1, dtype=np.int64)
        days[known.to_numpy()] = ordinals(frame.loc[known, column])
        frame[column] = days
    joined = frame["joined_at"].fillna(frame["created_at"])
    frame["joined_day"] = local_ordinals(joined, community.time_zone)
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


def members_refresh(community: Community, *, today: date, now: datetime, options: AnalyticsSettings) -> dict:
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
            [as_float(value) for value in decay],
            states.tolist(),
            recency.tolist(),
            frequency.tolist(),
            monetary.tolist(),
            segments.tolist(),
            [as_float(value) for value in p_alive],
            [as_float(value) for value in p_silent],
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
