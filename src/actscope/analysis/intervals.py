"""Intervals over seeds that respect each metric's range.

A metric's mean over seeds gets a 95% interval chosen by what the metric can be:

- a bounded or non-negative metric (accuracies and rates in [0, 1], rank correlations in
  [-1, 1], losses, norms, counts in [0, ∞)) gets a BCa bootstrap interval of the mean
  (scipy.stats.bootstrap, 2,000 resamples, seeded; percentile when BCa is undefined). Every
  resampled mean lies between the smallest and the largest member, so the interval cannot
  leave the metric's range;
- a metric with no known range gets a Student-t interval.

Below ``MIN_SEEDS_INTERVAL`` finite values, or when every value is the same, no interval
is given (``ci95`` is None) and ``note`` says why. Non-finite members (a diverged seed, a
loss that overflowed) are left out and counted (``n_excluded``); spreads are computed on
values scaled by their largest magnitude, so a finite but huge value (1e300) cannot
overflow to inf. scipy.stats is imported lazily (it takes ~1 s).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

LEVEL = 0.95
MIN_SEEDS_INTERVAL = 5
N_RESAMPLES = 2000
CI_METHODS = ("auto", "t", "bootstrap")
FRACTION_WORDS = ("accuracy", "probe_acc", "saturated", "dead", "f1", "precision", "recall")
NONNEGATIVE_WORDS = ("loss", "std", "norm", "abs", "repr.pr", "count", "flops", "n_params")
CI_NOTE = (f"95% interval of the mean over seeds: BCa bootstrap ({N_RESAMPLES:,} resamples) for "
           "metrics with a bounded range (fractions in [0, 1], rank correlations in [-1, 1], "
           "non-negative quantities: the interval stays within the range), Student-t for metrics "
           f"without one; no interval under {MIN_SEEDS_INTERVAL} seeds or when every seed gives "
           "the same value; non-finite values are left out and counted")
CI_SHORT = f"mean with a 95% interval over seeds (BCa bootstrap; none under {MIN_SEEDS_INTERVAL} seeds)"


def metric_range(key: str) -> tuple[float, float] | None:
    """The values a metric can take, read off its key (None: no known range).

    ``test_accuracy``, ``signal.dead.L2`` → (0, 1); ``context.rho_norm.L1`` → (-1, 1);
    ``test_loss``, ``grad_norm.L1``, ``regions.count`` → (0, inf).
    """
    base = key.split("/", 1)[-1]
    if any(w in base for w in FRACTION_WORDS):
        return (0.0, 1.0)
    if base.startswith("context.rho") or base.startswith("rho") or ".rho_" in base:
        return (-1.0, 1.0)
    if any(w in base for w in NONNEGATIVE_WORDS):
        return (0.0, math.inf)
    return None


def interval_method(key: str | None) -> str:
    """"bootstrap" for a metric with a known range, else "t"."""
    return "t" if key is None or metric_range(key) is None else "bootstrap"


def finite_values(values) -> tuple[np.ndarray, int]:
    """The finite values (float64) and how many were left out (None, NaN, ±inf, overflow)."""
    flat = [np.nan if x is None else x for x in np.ravel(np.asarray(values, dtype=object))]
    with np.errstate(over="ignore", invalid="ignore"):
        v = np.asarray(flat, dtype=np.float64)
    keep = np.isfinite(v)
    return v[keep], int(v.size - keep.sum())


def robust_mean_std(v: np.ndarray) -> tuple[float, float | None]:
    """Mean and standard deviation (ddof=1) computed on values scaled by their largest
    magnitude, so that neither overflows for finite inputs; std None for one value or
    when it does not fit in a float."""
    scale = float(np.max(np.abs(v))) if v.size else 0.0
    if scale == 0.0:
        return 0.0, (0.0 if v.size > 1 else None)
    u = v / scale
    mean = float(u.mean()) * scale
    if v.size < 2:
        return mean, None
    with np.errstate(over="ignore"):
        sd = float(u.std(ddof=1)) * scale
    return mean, sd if math.isfinite(sd) else None


def _t_interval(v: np.ndarray, level: float) -> list[float] | None:
    from scipy import stats as sps  # imported lazily: scipy.stats takes ~1 s to import

    scale = float(np.max(np.abs(v)))
    u = v / scale
    lo, hi = sps.t.interval(level, u.size - 1, loc=u.mean(), scale=u.std(ddof=1) / math.sqrt(u.size))
    with np.errstate(over="ignore"):
        out = [float(lo) * scale, float(hi) * scale]
    return out if all(map(math.isfinite, out)) else None


def _bootstrap_interval(v: np.ndarray, level: float, seed: int) -> list[float] | None:
    from scipy import stats as sps

    scale = float(np.max(np.abs(v)))
    u = v / scale
    with warnings.catch_warnings():  # BCa warns (and gives NaN) on degenerate samples
        warnings.simplefilter("ignore")
        res = sps.bootstrap((u,), np.mean, confidence_level=level, n_resamples=N_RESAMPLES,
                            method="BCa", rng=np.random.default_rng(seed))
    lo, hi = res.confidence_interval
    if not (np.isfinite(lo) and np.isfinite(hi)):  # BCa undefined: the percentile interval
        lo, hi = np.quantile(res.bootstrap_distribution, [(1 - level) / 2, (1 + level) / 2])
    lo, hi = max(float(lo), float(u.min())), min(float(hi), float(u.max()))
    with np.errstate(over="ignore"):
        out = [lo * scale, hi * scale]
    return out if all(map(math.isfinite, out)) else None


def _no_interval_note(n: int, n_excluded: int, same: bool) -> str | None:
    parts = []
    if n < MIN_SEEDS_INTERVAL:
        parts.append(f"too few seeds for an interval (n={n}, need ≥{MIN_SEEDS_INTERVAL})")
    elif same:
        parts.append(f"all {n} seeds give the same value: no spread for an interval")
    if n_excluded:
        parts.append(f"{n_excluded} non-finite value{'s' if n_excluded > 1 else ''} left out")
    return "; ".join(parts) or None


def mean_ci(values, level: float = LEVEL, method: str = "auto", key: str | None = None,
            seed: int = 0) -> dict:
    """Mean, std and a 95% interval of the finite values over seeds.

    Parameters
    ----------
    values : array-like
        One value per seed; None, NaN and ±inf are left out (counted in ``n_excluded``).
    level : float
        Confidence level of the interval.
    method : {"auto", "t", "bootstrap"}
        "auto" chooses by the metric's range (:func:`interval_method` of ``key``).
    key : str, optional
        The metric's key: sets its range (the interval is kept inside it).
    seed : int
        Seed of the bootstrap resampling (the result is deterministic).

    Returns
    -------
    dict
        ``mean``, ``std``, ``ci95`` (None below ``MIN_SEEDS_INTERVAL`` values or when all
        are equal), ``n``, ``n_excluded``, ``method`` and ``note`` (why there is no interval,
        what was left out; None when there is nothing to say).
    """
    if method not in CI_METHODS:
        raise ValueError(f"method {method!r} is not one of {', '.join(CI_METHODS)}")
    method = interval_method(key) if method == "auto" else method
    v, n_excluded = finite_values(values)
    n = int(v.size)
    out: dict[str, Any] = {"mean": None, "std": None, "ci95": None, "n": n, "n_excluded": n_excluded,
           "method": method, "note": None}
    if n == 0:
        out["note"] = "no finite value" + (f" ({n_excluded} left out)" if n_excluded else "")
        return out
    out["mean"], out["std"] = robust_mean_std(v)
    same = bool(np.all(v == v[0]))
    if n >= MIN_SEEDS_INTERVAL and not same:
        ci = _t_interval(v, level) if method == "t" else _bootstrap_interval(v, level, seed)
        rng = metric_range(key) if key else None
        if ci is not None and rng is not None:
            ci = [max(ci[0], rng[0]), min(ci[1], rng[1])]
        out["ci95"] = ci
    out["note"] = _no_interval_note(n, n_excluded, same)
    if out["ci95"] is None and n >= MIN_SEEDS_INTERVAL and not same:
        out["note"] = "; ".join(filter(None, ["the interval does not fit in a float", out["note"]]))
    return out
