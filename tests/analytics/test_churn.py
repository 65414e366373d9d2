"""The BG/NBD churn model: the paper's CDNOW fit, recovery from simulated members, and calibration."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics.churn import (
    BGNBDParams,
    calibration_holdout,
    calibration_report,
    expected_transactions,
    fit_bgnbd,
    log_likelihood,
    probability_alive,
    probability_silent,
    summarise_activity,
)

CDNOW = Path(__file__).parent / "data" / "cdnow_customers_summary.csv"


def simulate_summaries(
    rng: np.random.Generator, params: BGNBDParams, T: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x, t_x, alive at T, rate) drawn from the BG/NBD story, in continuous time.

    A customer drops out after their K-th repeat, K ~ Geometric(p); activity is Poisson(λ) until then.
    Given N(T) Poisson events in [0, T], the x-th of them sits at T · Beta(x, N − x + 1).
    """
    n = T.size
    rate = rng.gamma(params.r, 1 / params.alpha, n)
    dropout = rng.beta(params.a, params.b, n)
    repeats_before_dropout = rng.geometric(dropout)
    events = rng.poisson(rate * T)
    x = np.minimum(events, repeats_before_dropout)
    t_x = np.where(x > 0, T * rng.beta(np.maximum(x, 1), events - x + 1), 0.0)
    return x, t_x, events < repeats_before_dropout, rate


def simulate_active_days(
    rng: np.random.Generator, params: BGNBDParams, *, customers: int, cutoff: int, end: int
) -> pd.DataFrame:
    """(customer, period) rows of daily activity, as Canopy would read them, for joiners before ``cutoff``."""
    first = rng.integers(0, cutoff, customers)
    span = (end - first).astype(float)
    rate = rng.gamma(params.r, 1 / params.alpha, customers)
    repeats_before_dropout = rng.geometric(rng.beta(params.a, params.b, customers))
    events = rng.poisson(rate * span)
    owner = np.repeat(np.arange(customers), events)
    times = rng.uniform(0, 1, owner.size) * span[owner]
    order = np.lexsort((times, owner))
    owner, times = owner[order], times[order]
    nth = np.arange(owner.size) - np.repeat(np.cumsum(events) - events, events)
    kept = nth < repeats_before_dropout[owner]
    repeat_days = first[owner[kept]] + np.floor(times[kept]).astype(int)
    return pd.DataFrame(
        {
            "customer": np.concatenate([np.arange(customers), owner[kept]]),
            "period": np.concatenate([first, repeat_days]),
        }
    )


# --- the paper ----------------------------------------------------------------------------------


def test_it_reproduces_the_published_cdnow_fit():
    cdnow = pd.read_csv(CDNOW)
    assert len(cdnow) == 2357

    fit = fit_bgnbd(cdnow["frequency"], cdnow["recency"], cdnow["T"])

    # Fader, Hardie & Lee (2005), section 5: r = 0.243, α = 4.414, a = 0.793, b = 2.426, LL = −9582.4.
    assert (round(fit.r, 3), round(fit.alpha, 3), round(fit.a, 3), round(fit.b, 3)) == (0.243, 4.414, 0.793, 2.426)
    assert round(log_likelihood(fit, cdnow["frequency"], cdnow["recency"], cdnow["T"]), 1) == -9582.4


def test_the_fit_is_the_maximum_of_the_likelihood():
    cdnow = pd.read_csv(CDNOW)
    data = (cdnow["frequency"], cdnow["recency"], cdnow["T"])
    fit = fit_bgnbd(*data)
    best = log_likelihood(fit, *data)
    for name in ("r", "alpha", "a", "b"):
        for factor in (0.99, 1.01):
            nudged = BGNBDParams.from_dict({**fit.to_dict(), name: getattr(fit, name) * factor})
            assert log_likelihood(nudged, *data) < best


def test_weights_stand_for_repeated_rows():
    cdnow = pd.read_csv(CDNOW)
    grouped = cdnow.groupby(["frequency", "recency", "T"]).size().reset_index(name="customers")
    assert len(grouped) < len(cdnow)

    weighted = fit_bgnbd(grouped["frequency"], grouped["recency"], grouped["T"], weights=grouped["customers"])
    plain = fit_bgnbd(cdnow["frequency"], cdnow["recency"], cdnow["T"])

    assert weighted.to_dict() == pytest.approx(plain.to_dict(), rel=1e-6)
    assert log_likelihood(
        weighted, grouped["frequency"], grouped["recency"], grouped["T"], grouped["customers"]
    ) == pytest.approx(log_likelihood(plain, cdnow["frequency"], cdnow["recency"], cdnow["T"]))


def test_the_time_unit_only_rescales_alpha():
    cdnow = pd.read_csv(CDNOW)
    in_weeks = fit_bgnbd(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    in_days = fit_bgnbd(cdnow["frequency"], cdnow["recency"] * 7, cdnow["T"] * 7)

    assert in_days.alpha == pytest.approx(in_weeks.alpha * 7, rel=1e-5)
    assert (in_days.r, in_days.a, in_days.b) == pytest.approx((in_weeks.r, in_weeks.a, in_weeks.b), rel=1e-5)


def test_a_penalizer_shrinks_the_parameters():
    cdnow = pd.read_csv(CDNOW)
    plain = fit_bgnbd(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    shrunk = fit_bgnbd(cdnow["frequency"], cdnow["recency"], cdnow["T"], penalizer=0.1)

    assert shrunk.b < plain.b
    assert log_likelihood(shrunk, cdnow["frequency"], cdnow["recency"], cdnow["T"]) < log_likelihood(
        plain, cdnow["frequency"], cdnow["recency"], cdnow["T"]
    )


# --- simulated members --------------------------------------------------------------------------


def test_it_recovers_the_parameters_it_simulated_from():
    true = BGNBDParams(r=0.6, alpha=5.0, a=0.7, b=3.0)
    rng = np.random.default_rng(20240601)
    T = rng.uniform(20, 60, 20_000)
    x, t_x, _, _ = simulate_summaries(rng, true, T)

    fit = fit_bgnbd(x, t_x, T)

    # Over 20 seeds at this size the relative spread was r 1.4%, alpha 1.8%, a 4.3%, b 6.3%: allow ~3.5 sd.
    assert fit.r == pytest.approx(true.r, rel=0.05)
    assert fit.alpha == pytest.approx(true.alpha, rel=0.07)
    assert fit.a == pytest.approx(true.a, rel=0.15)
    assert fit.b == pytest.approx(true.b, rel=0.22)


def test_expected_transactions_matches_simulation():
    params = BGNBDParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
    rng = np.random.default_rng(7)
    n = 400_000
    rate = rng.gamma(params.r, 1 / params.alpha, n)
    repeats_before_dropout = rng.geometric(rng.beta(params.a, params.b, n))
    t = np.array([0.0, 10.0, 39.0, 78.0])

    simulated = [np.minimum(rng.poisson(rate * horizon), repeats_before_dropout).mean() for horizon in t]

    assert expected_transactions(params, t) == pytest.approx(simulated, rel=0.03, abs=1e-12)
    assert expected_transactions(params, 0.0) == 0.0


def test_expected_transactions_is_smooth_where_eq_7_divides_by_a_minus_1():
    near = [expected_transactions(BGNBDParams(r=0.5, alpha=3.0, a=a, b=2.5), 20.0) for a in (0.999, 1.0, 1.001)]
    assert near[0] > near[1] > near[2]
    assert near[1] == pytest.approx((near[0] + near[2]) / 2, rel=1e-4)


# --- P(alive) and P(silent) ---------------------------------------------------------------------

PARAMS = BGNBDParams(r=1.0, alpha=2.0, a=1.0, b=3.0)


def test_a_customer_without_repeats_is_alive():
    assert probability_alive(PARAMS, [0, 0], [0, 0], [5, 500]).tolist() == [1.0, 1.0]


def test_recent_activity_means_more_likely_alive():
    alive = probability_alive(PARAMS, 3, [1, 5, 10, 20], 20)
    assert np.all(np.diff(alive) > 0)
    assert alive[-1] == 1 / (1 + PARAMS.a / (PARAMS.b + 2))  # active at T: only the dropout chance remains


def test_probability_alive_matches_the_formula_by_hand():
    # x=2, t_x=4, T=10: a/(b+x-1) * ((α+T)/(α+t_x))^(r+x) = 1/4 * (12/6)^3 = 2, so P = 1/3.
    # x=1, t_x=2, T=6:  1/3 * (8/4)^2 = 4/3, so P = 3/7.
    assert probability_alive(PARAMS, [2, 1], [4, 2], [10, 6]) == pytest.approx([1 / 3, 3 / 7], rel=1e-12)


def test_probability_silent_matches_the_formula_by_hand():
    # x=2, t_x=4, T=10, horizon 12: P(alive)=1/3 and (12/24)^3 = 1/8, so 2/3 + 1/3 * 1/8 = 17/24.
    # x=0, T=6, horizon 12: always alive, (8/20)^1 = 2/5.
    assert probability_silent(PARAMS, [2, 0], [4, 0], [10, 6], horizon=12) == pytest.approx([17 / 24, 2 / 5])
    # x=0, T=6, horizon 8: (8/16)^1 = 1/2.
    assert probability_silent(PARAMS, 0, 0, 6, horizon=8) == pytest.approx(0.5)
    assert probability_silent(PARAMS, 2, 4, 10, horizon=0) == pytest.approx(1.0)


def test_extreme_histories_do_not_overflow():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        alive = probability_alive(PARAMS, [500, 500], [1, 1000], [100_000, 1000])
        silent = probability_silent(PARAMS, [500, 500], [1, 1000], [100_000, 1000], horizon=30)
    assert alive[0] == 0.0 and 0 < alive[1] < 1
    assert silent[0] == 1.0 and 0 < silent[1] < 1


def test_silence_is_calibrated_on_a_holdout():
    true = BGNBDParams(r=0.5, alpha=10.0, a=0.8, b=4.0)
    rng = np.random.default_rng(31)
    days = simulate_active_days(rng, true, customers=20_000, cutoff=120, end=180)

    summary = calibration_holdout(days, cutoff=120, end=180)
    fit = fit_bgnbd(summary["frequency"], summary["recency"], summary["T"])
    silent = probability_silent(fit, summary["frequency"], summary["recency"], summary["T"], horizon=60)
    report = calibration_report(silent, ~summary["active_in_holdout"])

    assert report["count"] == 20_000
    assert report["ece"] < 0.05
    assert report["auc"] > 0.7
    assert report["brier"] < report["base_rate"] * (1 - report["base_rate"])  # beats guessing the base rate

    # Regulars who went quiet a while ago are flagged, and really do stay away, more than those just seen.
    regulars = summary[summary["frequency"] >= 3]
    quiet_for = regulars["T"] - regulars["recency"]
    decaying, active = (quiet_for > 45).to_numpy(), (quiet_for <= 7).to_numpy()
    assert decaying.sum() > 100 and active.sum() > 100
    regular_silent = silent[summary["frequency"].to_numpy() >= 3]
    stayed_away = ~regulars["active_in_holdout"].to_numpy()
    assert regular_silent[decaying].mean() > regular_silent[active].mean() + 0.3
    assert stayed_away[decaying].mean() > stayed_away[active].mean() + 0.3
    assert regular_silent[decaying].mean() == pytest.approx(stayed_away[decaying].mean(), abs=0.05)
    assert regular_silent[active].mean() == pytest.approx(stayed_away[active].mean(), abs=0.05)


# --- calibration_report -------------------------------------------------------------------------


def test_calibration_report_by_hand():
    predicted = [0.1, 0.1, 0.3, 0.85, 0.9, 1.0]
    observed = [0, 1, 0, 1, 1, 1]

    report = calibration_report(predicted, observed, bins=5)

    # Squared errors: 0.01, 0.81, 0.09, 0.0225, 0.01, 0.
    assert report["brier"] == pytest.approx(0.9425 / 6)
    assert report["count"] == 6
    assert report["base_rate"] == pytest.approx(4 / 6)
    # Bins of width 0.2; 1.0 falls in the top bin, the empty bins are left out.
    assert report["bins"] == [
        {"lower": 0.0, "upper": 0.2, "count": 2, "mean_predicted": pytest.approx(0.1), "observed_rate": 0.5},
        {"lower": 0.2, "upper": 0.4, "count": 1, "mean_predicted": pytest.approx(0.3), "observed_rate": 0.0},
        {"lower": 0.8, "upper": 1.0, "count": 3, "mean_predicted": pytest.approx(2.75 / 3), "observed_rate": 1.0},
    ]
    # Gaps 0.4, 0.3 and 1/12, weighted 2/6, 1/6 and 3/6.
    assert report["ece"] == pytest.approx(2 / 6 * 0.4 + 1 / 6 * 0.3 + 3 / 6 * (1 / 12))
    # 4 positives × 2 negatives = 8 pairs: the 0.1 positive ties one negative (½) and loses to 0.3; the other
    # three positives beat both negatives (6). AUC = 6.5 / 8.
    assert report["auc"] == 6.5 / 8


def test_calibration_report_is_plain_json():
    report = calibration_report(np.array([0.2, 0.7, 0.9]), np.array([False, True, True]))

    assert json.loads(json.dumps(report)) == report
    assert type(report["brier"]) is float and type(report["count"]) is int
    assert report["auc"] == 1.0
    assert all(type(row["count"]) is int and type(row["lower"]) is float for row in report["bins"])


def test_auc_is_none_when_every_outcome_is_the_same():
    report = calibration_report([0.2, 0.4], [1, 1])
    assert report["auc"] is None
    assert report["brier"] == pytest.approx((0.64 + 0.36) / 2)


# --- from activity rows to summaries --------------------------------------------------------------


def test_summarise_activity_counts_distinct_active_periods():
    days = pd.DataFrame(
        {"customer": ["a", "a", "a", "a", "b", "c", "c"], "period": [3, 3, 7, 10, 5, 2, 9]},
    )

    summary = summarise_activity(days, observation_end=12)

    assert summary.to_dict("index") == {
        "a": {"frequency": 2, "recency": 7, "T": 9},
        "b": {"frequency": 0, "recency": 0, "T": 7},
        "c": {"frequency": 1, "recency": 7, "T": 10},
    }


def test_calibration_holdout_splits_at_the_cutoff():
    days = pd.DataFrame(
        {
            "customer": [1, 1, 1, 1, 2, 3, 3, 4, 5, 5],
            "period": [3, 3, 7, 10, 5, 2, 9, 9, 1, 12],
        }
    )

    summary = calibration_holdout(days, cutoff=8, end=12)

    # Customer 4 first appears in the holdout; customer 5's period 12 is past the end.
    assert summary.reset_index().to_dict("records") == [
        {"customer": 1, "frequency": 1, "recency": 4, "T": 5, "active_in_holdout": True, "holdout_length": 4},
        {"customer": 2, "frequency": 0, "recency": 0, "T": 3, "active_in_holdout": False, "holdout_length": 4},
        {"customer": 3, "frequency": 0, "recency": 0, "T": 6, "active_in_holdout": True, "holdout_length": 4},
        {"customer": 5, "frequency": 0, "recency": 0, "T": 7, "active_in_holdout": False, "holdout_length": 4},
    ]
    assert summary["active_in_holdout"].dtype == bool


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frequency", "recency", "T", "message"),
    [
        ([], [], [], "empty"),
        ([-1, 2], [0, 3], [5, 5], "frequency contains negative"),
        ([1, 2], [6, 3], [5, 5], "recency is greater than T"),
        ([0, 2], [1, 3], [5, 5], "recency must be 0 when frequency is 0"),
        ([1, 2], [0, 3], [5, 5], "recency is 0 for customers with repeat activity"),
        ([1.5, 2], [1, 3], [5, 5], "whole number"),
        ([1, 2, 3], [1, 3], [5, 5], "same length"),
        ([1, np.nan], [1, 3], [5, 5], "NaN"),
        ([0, 0], [0, 0], [5, 5], "no customer has repeat activity"),
    ],
)
def test_fit_rejects_bad_summaries(frequency, recency, T, message):
    with pytest.raises(ValueError, match=message):
        fit_bgnbd(frequency, recency, T)


def test_fit_rejects_bad_weights_and_penalizer():
    with pytest.raises(ValueError, match="one entry per customer"):
        fit_bgnbd([1, 2], [1, 2], [5, 5], weights=[1])
    with pytest.raises(ValueError, match="non-negative"):
        fit_bgnbd([1, 2], [1, 2], [5, 5], weights=[1, -1])
    with pytest.raises(ValueError, match="penalizer"):
        fit_bgnbd([1, 2], [1, 2], [5, 5], penalizer=-0.1)


def test_predictions_reject_bad_input():
    with pytest.raises(ValueError, match="recency is greater than T"):
        probability_alive(PARAMS, [1], [6], [5])
    with pytest.raises(ValueError, match="horizon"):
        probability_silent(PARAMS, [1], [1], [5], horizon=-1)
    with pytest.raises(ValueError, match="non-negative"):
        expected_transactions(PARAMS, [-1.0])


def test_params_must_be_positive_and_complete():
    with pytest.raises(ValueError, match="alpha must be a positive"):
        BGNBDParams(r=1.0, alpha=0.0, a=1.0, b=1.0)
    with pytest.raises(ValueError, match="b must be a positive"):
        BGNBDParams(r=1.0, alpha=1.0, a=1.0, b=math.nan)
    with pytest.raises(ValueError, match="missing b"):
        BGNBDParams.from_dict({"r": 1, "alpha": 1, "a": 1})
    assert BGNBDParams.from_dict(PARAMS.to_dict()) == PARAMS


@pytest.mark.parametrize(
    ("predicted", "observed", "message"),
    [
        ([], [], "no predictions"),
        ([0.5, 1.2], [0, 1], "between 0 and 1"),
        ([0.5, 0.2], [0, 1, 1], "differ in length"),
        ([0.5, 0.2], [0, 2], "0/1"),
    ],
)
def test_calibration_report_rejects_bad_input(predicted, observed, message):
    with pytest.raises(ValueError, match=message):
        calibration_report(predicted, observed)


def test_activity_helpers_reject_bad_input():
    days = pd.DataFrame({"customer": [1, 1], "period": [3, 12]})
    with pytest.raises(ValueError, match="at or after observation_end"):
        summarise_activity(days, observation_end=12)
    with pytest.raises(ValueError, match="missing column"):
        summarise_activity(days.rename(columns={"period": "day"}), observation_end=20)
    with pytest.raises(ValueError, match="whole period numbers"):
        summarise_activity(pd.DataFrame({"customer": [1], "period": [2.5]}), observation_end=20)
    with pytest.raises(ValueError, match="must be after cutoff"):
        calibration_holdout(days, cutoff=10, end=10)
