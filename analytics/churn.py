"""Churn as the BG/NBD model sees it (Fader, Hardie & Lee 2005, "Counting your customers the easy way").

Members never announce that they have left; they simply stop showing up. BG/NBD explains a member's
history with two hidden quantities: a rate of activity (Poisson, gamma-distributed across members) and a
chance of quietly dropping out after each active period (geometric, beta-distributed across members).
Each member is summarised by three numbers, in one time unit (Canopy uses days):

* ``frequency`` (x): repeat active periods, i.e. distinct active periods minus the first;
* ``recency`` (t_x): time from the first active period to the last;
* ``T``: time from the first active period to the end of observation.

"Alive" is never observed, so Canopy's churn probability is :func:`probability_silent`: the chance of no
activity at all in a coming horizon. That can be checked against a holdout period, which is what
:func:`calibration_report` is for.

This module is plain numpy/scipy/pandas, free of Django, so it can be tested and benchmarked in isolation.
The unmaintained ``lifetimes`` package is deliberately not used; its CDNOW fit is reproduced in the tests.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import optimize, special, stats

__all__ = [
    "BGNBDParams",
    "calibration_holdout",
    "calibration_report",
    "expected_transactions",
    "fit_bgnbd",
    "log_likelihood",
    "probability_alive",
    "probability_silent",
    "summarise_activity",
]

# Log-parameters are boxed in so that a degenerate data set cannot push exp() into overflow;
# times are rescaled to O(1) before fitting, so the box is wide in practice.
_LOG_BOUND = 20.0


@dataclass(frozen=True)
class BGNBDParams:
    """Fitted BG/NBD parameters, in the time unit of the data they were fitted on.

    r and alpha shape the gamma distribution of activity rates (mean rate r / alpha per time unit);
    a and b shape the beta distribution of the dropout chance after each active period (mean a / (a + b)).
    They are kept as a frozen value so a stored fit cannot drift from the numbers it was made with.
    """

    r: float
    alpha: float
    a: float
    b: float

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not (isinstance(value, numbers.Real) and math.isfinite(value) and value > 0):
                raise ValueError(f"BG/NBD parameter {name} must be a positive finite number, got {value!r}")

    def to_dict(self) -> dict[str, float]:
        return {name: float(value) for name, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BGNBDParams:
        missing = {"r", "alpha", "a", "b"} - set(data)
        if missing:
            raise ValueError(f"BG/NBD parameters are missing {', '.join(sorted(missing))}")
        return cls(r=float(data["r"]), alpha=float(data["alpha"]), a=float(data["a"]), b=float(data["b"]))


# --- input checks ---------------------------------------------------------------------------------


def _summary_arrays(
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, *, allow_empty: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    try:
        x, t_x, age = np.broadcast_arrays(
            np.asarray(frequency, dtype=float), np.asarray(recency, dtype=float), np.asarray(T, dtype=float)
        )
    except ValueError:
        raise ValueError("frequency, recency and T must have the same length") from None
    if x.size == 0 and not allow_empty:
        raise ValueError("no customers to fit: frequency, recency and T are empty")
    for name, values in (("frequency", x), ("recency", t_x), ("T", age)):
        if not np.all(np.isfinite(values)):
            raise ValueError(f"{name} contains NaN or infinite values")
        if np.any(values < 0):
            raise ValueError(f"{name} contains negative values")
    if np.any(x != np.floor(x)):
        raise ValueError("frequency must be a whole number of repeat active periods")
    if np.any(t_x > age):
        raise ValueError("recency is greater than T for some customers: the last activity is after the observation end")
    if np.any((x == 0) & (t_x > 0)):
        raise ValueError("recency must be 0 when frequency is 0: there is no repeat activity to be recent")
    if np.any((x > 0) & (t_x == 0)):
        raise ValueError(
            "recency is 0 for customers with repeat activity: repeat periods must come after the first one"
        )
    return x, t_x, age


def _weights_array(weights: ArrayLike | None, size: int) -> np.ndarray:
    if weights is None:
        return np.ones(size)
    w = np.asarray(weights, dtype=float)
    if w.shape != (size,):
        raise ValueError(f"weights must have one entry per customer ({size}), got shape {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("weights must be finite and non-negative")
    return w


# --- likelihood ---------------------------------------------------------------------------------


def _compress(
    x: np.ndarray, t_x: np.ndarray, age: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Merge identical (x, t_x, T) rows, summing their weights.

    Customers observed over the same days share rows often; a lexsort is used because
    np.unique(axis=0) is ten times slower on 100k rows.
    """
    order = np.lexsort((age, t_x, x))
    x, t_x, age, w = x[order], t_x[order], age[order], w[order]
    starts = np.ones(x.size, dtype=bool)
    starts[1:] = (np.diff(x) != 0) | (np.diff(t_x) != 0) | (np.diff(age) != 0)
    first = np.flatnonzero(starts)
    counts = np.add.reduceat(w, first)
    keep = counts > 0
    return x[first][keep], t_x[first][keep], age[first][keep], counts[keep]


def _log_likelihood_terms(
    params: np.ndarray,
    x_values: np.ndarray,
    x_index: np.ndarray,
    t_x: np.ndarray,
    age: np.ndarray,
    *,
    gradient_weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-customer log-likelihood (eq. 6 of the paper), and optionally the weighted sum of its gradient in
    (r, alpha, a, b).

    The gamma functions depend on x alone, so they are evaluated once per distinct x (``x_values``,
    looked up through ``x_index``); only the cheap logarithms run per customer. The likelihood is a sum
    of two terms (still alive at T, or dropped out right after t_x), added with logaddexp because each
    underflows on its own for heavy buyers.
    """
    r, alpha, a, b = params
    repeat = x_values > 0
    # b + x - 1 is negative when x = 0; that branch is masked out, so feed it a harmless value.
    b_dropped = np.where(repeat, b + x_values - 1, 1.0)
    beta_base = special.gammaln(a + b) - special.gammaln(b) - special.gammaln(a + b + x_values)
    common = (special.gammaln(r + x_values) - special.gammaln(r) + r * np.log(alpha))[x_index]
    alive_base = (beta_base + special.gammaln(b + x_values))[x_index]
    dropped_base = np.where(repeat, beta_base + np.log(a) + special.gammaln(b_dropped), -np.inf)[x_index]

    rx = r + x_values[x_index]
    log_alpha_age = np.log(alpha + age)
    log_alpha_t_x = np.log(alpha + t_x)
    alive = alive_base - rx * log_alpha_age
    dropped = dropped_base - rx * log_alpha_t_x
    ll = common + np.logaddexp(alive, dropped)
    if gradient_weights is None:
        return ll, None
    w = gradient_weights

    share_alive = special.expit(alive - dropped)
    share_dropped = special.expit(dropped - alive)
    psi_shift = special.digamma(a + b) - special.digamma(a + b + x_values) - special.digamma(b)
    d_r = (
        np.dot(w, (special.digamma(r + x_values) - special.digamma(r) + np.log(alpha))[x_index])
        - np.dot(w, share_alive * log_alpha_age)
        - np.dot(w, share_dropped * log_alpha_t_x)
    )
    d_alpha = r / alpha * w.sum() - np.dot(w, rx * (share_alive / (alpha + age) + share_dropped / (alpha + t_x)))
    d_a = (
        np.dot(w, (special.digamma(a + b) - special.digamma(a + b + x_values))[x_index]) + np.dot(w, share_dropped) / a
    )
    d_b = np.dot(w, share_alive * (psi_shift + special.digamma(b + x_values))[x_index]) + np.dot(
        w, share_dropped * np.where(repeat, psi_shift + special.digamma(b_dropped), 0.0)[x_index]
    )
    return ll, np.array([d_r, d_alpha, d_a, d_b])


def log_likelihood(
    params: BGNBDParams,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    weights: ArrayLike | None = None,
) -> float:
    """Total log-likelihood, so fits on the same data can be compared (and checked against the paper's −9582.4)."""
    x, t_x, age = _summary_arrays(frequency, recency, T, allow_empty=False)
    x, t_x, age = x.ravel(), t_x.ravel(), age.ravel()
    w = _weights_array(weights, x.size)
    x_values, x_index = np.unique(x, return_inverse=True)
    values = np.array([params.r, params.alpha, params.a, params.b])
    ll, _ = _log_likelihood_terms(values, x_values, x_index, t_x, age)
    return float(np.dot(w, ll))


def fit_bgnbd(
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    *,
    weights: ArrayLike | None = None,
    penalizer: float = 0.0,
) -> BGNBDParams:
    """Maximum-likelihood BG/NBD parameters.

    ``weights`` counts how many customers share a row, for callers that already aggregate. ``penalizer``
    adds ``penalizer * (r² + α² + a² + b²)`` to the mean negative log-likelihood, with α measured in units of
    the longest T, as ``lifetimes`` does; a small value (0.001–0.1) tames small or degenerate samples.
    """
    if not (isinstance(penalizer, numbers.Real) and math.isfinite(penalizer) and penalizer >= 0):
        raise ValueError(f"penalizer must be a non-negative number, got {penalizer!r}")
    x, t_x, age = _summary_arrays(frequency, recency, T, allow_empty=False)
    x, t_x, age = x.ravel(), t_x.ravel(), age.ravel()
    w = _weights_array(weights, x.size)
    if not np.any(w > 0):
        raise ValueError("no customers to fit: every weight is 0")
    if not np.any((x > 0) & (w > 0)):
        raise ValueError("no customer has repeat activity (frequency > 0): the model has nothing to fit")

    x, t_x, age, counts = _compress(x, t_x, age, w)
    x_values, x_index = np.unique(x, return_inverse=True)
    # Rescaling time makes alpha O(1) whatever the unit (days, weeks, seconds), so one start point works.
    scale = float(np.max(age))
    t_x, age = t_x / scale, age / scale
    total = counts.sum()

    def objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
        params = np.exp(log_params)
        ll, grad = _log_likelihood_terms(params, x_values, x_index, t_x, age, gradient_weights=counts)
        value = -np.dot(counts, ll) / total + penalizer * np.sum(params**2)
        if not np.isfinite(value):
            return np.inf, np.zeros(4)
        # Chain rule to log-parameters: d/dlog θ = θ d/dθ.
        return float(value), (-grad / total + 2 * penalizer * params) * params

    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * 4
    result = optimize.minimize(
        objective, np.zeros(4), jac=True, method="L-BFGS-B", bounds=bounds, options={"ftol": 1e-13, "gtol": 1e-9}
    )
    if not result.success:
        # L-BFGS-B sometimes stops on a line-search failure right next to the optimum; polish without gradients.
        polished = optimize.minimize(
            lambda p: objective(p)[0],
            result.x,
            method="Nelder-Mead",
            bounds=bounds,
            options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": 4000},
        )
        if polished.fun <= result.fun:
            result = polished
    if not np.isfinite(result.fun):
        raise ValueError("the BG/NBD likelihood could not be evaluated on this data")

    r, alpha, a, b = np.exp(result.x)
    return BGNBDParams(r=float(r), alpha=float(alpha * scale), a=float(a), b=float(b))


# --- predictions ----------------------------------------------------------------------------------


def _log_odds_dropped(params: BGNBDParams, x: np.ndarray, t_x: np.ndarray, age: np.ndarray) -> np.ndarray:
    """log P(dropped out) / P(alive), −inf when x = 0 (dropout only happens right after a repeat period)."""
    repeat = x > 0
    b_dropped = np.where(repeat, params.b + x - 1, 1.0)
    log_odds = (
        np.log(params.a)
        - np.log(b_dropped)
        + (params.r + x) * (np.log(params.alpha + age) - np.log(params.alpha + t_x))
    )
    return np.where(repeat, log_odds, -np.inf)


def probability_alive(params: BGNBDParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> np.ndarray:
    """P(still alive at T | history), the model's own view; not observable, so not what Canopy calibrates.

    Computed as a logistic of the log-odds because ((alpha+T)/(alpha+t_x))**(r+x) overflows for
    frequent customers who then went quiet.
    """
    x, t_x, age = _summary_arrays(frequency, recency, T, allow_empty=True)
    return special.expit(-_log_odds_dropped(params, x, t_x, age))


def probability_silent(
    params: BGNBDParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, horizon: float
) -> np.ndarray:
    """P(no activity at all in (T, T + horizon] | history): Canopy's churn probability.

    Dropout only happens right after activity, so a customer alive at T stays silent with probability
    E[exp(-λ·horizon)] where λ ~ Gamma(r + x, alpha + T) given the history. Unlike P(alive), silence can be
    seen in a holdout period, so this is the number that can be calibrated.
    """
    if not (math.isfinite(horizon) and horizon >= 0):
        raise ValueError(f"horizon must be a non-negative number, got {horizon!r}")
    x, t_x, age = _summary_arrays(frequency, recency, T, allow_empty=True)
    log_odds = _log_odds_dropped(params, x, t_x, age)
    alive = special.expit(-log_odds)
    dropped = special.expit(log_odds)
    log_quiet_if_alive = (params.r + x) * (np.log(params.alpha + age) - np.log(params.alpha + age + horizon))
    return np.clip(dropped + alive * np.exp(log_quiet_if_alive), 0.0, 1.0)


def expected_transactions(params: BGNBDParams, t: ArrayLike) -> np.ndarray:
    """Unconditional E[X(t)] for a new customer (eq. 7), to check the fit against aggregate repeat activity."""
    t = np.asarray(t, dtype=float)
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ValueError("t must be finite and non-negative")
    r, alpha, a, b = params.r, params.alpha, params.a, params.b

    def at(a_: float) -> np.ndarray:
        z = t / (alpha + t)
        hyper = special.hyp2f1(r, b, a_ + b - 1, z)
        return (a_ + b - 1) / (a_ - 1) * (1 - (alpha / (alpha + t)) ** r * hyper)

    # Eq. 7 is 0/0 at a = 1 although the expectation is smooth there; average the two sides.
    if abs(a - 1) < 1e-6:
        return (at(1 - 1e-6) + at(1 + 1e-6)) / 2
    return at(a)


# --- calibration ----------------------------------------------------------------------------------


def _auc(predicted: np.ndarray, observed: np.ndarray) -> float | None:
    """ROC AUC by the Mann–Whitney rank sum, with tied scores counting half, so no sklearn is needed."""
    positives = int(observed.sum())
    negatives = observed.size - positives
    if positives == 0 or negatives == 0:
        return None
    ranks = stats.rankdata(predicted)
    rank_sum = float(ranks[observed].sum())
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def calibration_report(predicted: ArrayLike, observed: ArrayLike, *, bins: int = 10) -> dict[str, Any]:
    """How far predicted probabilities are from what happened, as plain JSON-ready numbers.

    ``ece`` is the bin-size-weighted mean gap between predicted and observed rates over equal-width bins;
    ``auc`` is None when every outcome is the same, since ranking is then undefined.
    """
    p = np.asarray(predicted, dtype=float).ravel()
    o = np.asarray(observed).ravel()
    if p.size == 0:
        raise ValueError("no predictions to assess")
    if o.shape != p.shape:
        raise ValueError(f"predicted and observed differ in length ({p.size} vs {o.size})")
    if not np.all(np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError("predicted must hold probabilities between 0 and 1")
    if not np.all(np.isin(o, (0, 1))):
        raise ValueError("observed must hold 0/1 (or False/True) outcomes")
    if not (isinstance(bins, int) and bins >= 1):
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    o = o.astype(bool)
    outcome = o.astype(float)

    # A probability of exactly 1 belongs in the top bin, not in a bin of its own.
    index = np.minimum((p * bins).astype(int), bins - 1)
    counts = np.bincount(index, minlength=bins)
    predicted_sums = np.bincount(index, weights=p, minlength=bins)
    observed_sums = np.bincount(index, weights=outcome, minlength=bins)
    rows = []
    ece = 0.0
    for k in np.flatnonzero(counts):
        count = int(counts[k])
        mean_predicted = float(predicted_sums[k] / count)
        observed_rate = float(observed_sums[k] / count)
        ece += count / p.size * abs(mean_predicted - observed_rate)
        rows.append(
            {
                "lower": float(k / bins),
                "upper": float((k + 1) / bins),
                "count": count,
                "mean_predicted": mean_predicted,
                "observed_rate": observed_rate,
            }
        )
    auc = _auc(p, o)
    return {
        "count": int(p.size),
        "base_rate": float(outcome.mean()),
        "brier": float(np.mean((p - outcome) ** 2)),
        "ece": float(ece),
        "auc": None if auc is None else float(auc),
        "bins": rows,
    }


# --- from activity to summaries -------------------------------------------------------------------


def _activity_frame(days_active_by_customer: pd.DataFrame) -> pd.DataFrame:
    missing = {"customer", "period"} - set(days_active_by_customer.columns)
    if missing:
        raise ValueError(f"activity frame is missing column(s) {', '.join(sorted(missing))}")
    frame = days_active_by_customer[["customer", "period"]]
    if frame["period"].isna().any():
        raise ValueError("period contains missing values")
    periods = pd.to_numeric(frame["period"], errors="coerce")
    if periods.isna().any() or not (periods == np.floor(periods)).all():
        raise ValueError("period must hold whole period numbers (e.g. day numbers)")
    return frame.assign(period=periods.astype("int64"))


def _summarise(frame: pd.DataFrame, observation_end: int) -> pd.DataFrame:
    grouped = frame.drop_duplicates().groupby("customer", sort=True)["period"]
    summary = grouped.agg(first="min", last="max", active="count")
    return pd.DataFrame(
        {
            "frequency": (summary["active"] - 1).astype("int64"),
            "recency": (summary["last"] - summary["first"]).astype("int64"),
            "T": (observation_end - summary["first"]).astype("int64"),
        },
        index=summary.index.rename("customer"),
    )


def summarise_activity(days_active_by_customer: pd.DataFrame, *, observation_end: int) -> pd.DataFrame:
    """Turn (customer, period) activity rows into the frequency/recency/T frame the model takes.

    ``observation_end`` is the first period *not* observed, so T = observation_end − first and a customer
    whose only activity is on the last observed period has T = 1. Repeated rows for one period count once:
    BG/NBD counts active periods, not events.
    """
    frame = _activity_frame(days_active_by_customer)
    if (frame["period"] >= observation_end).any():
        raise ValueError(f"activity at or after observation_end ({observation_end}) cannot be summarised")
    return _summarise(frame, observation_end)


def calibration_holdout(df_periods: pd.DataFrame, *, cutoff: int, end: int) -> pd.DataFrame:
    """Calibration-period summaries plus what happened in the holdout, to check churn predictions honestly.

    Customers first seen before ``cutoff`` are summarised over [first, cutoff); ``active_in_holdout`` says
    whether they were active at all in [cutoff, end). Customers first seen in the holdout are left out:
    the model has nothing to say about them yet.
    """
    if not end > cutoff:
        raise ValueError(f"end ({end}) must be after cutoff ({cutoff})")
    frame = _activity_frame(df_periods)
    calibration = frame[frame["period"] < cutoff]
    summary = _summarise(calibration, cutoff)
    in_holdout = frame.loc[(frame["period"] >= cutoff) & (frame["period"] < end), "customer"].unique()
    summary["active_in_holdout"] = summary.index.isin(in_holdout)
    summary["holdout_length"] = np.int64(end - cutoff)
    return summary
