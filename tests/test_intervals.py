"""Intervals over seeds that respect each metric's range (analysis/intervals.py, issue 20)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from actscope.analysis.intervals import MIN_SEEDS_INTERVAL, mean_ci, metric_range, robust_mean_std

KEYS = {  # a metric of each kind, with its range
    "test_accuracy": (0.0, 1.0), "signal.dead.L2": (0.0, 1.0), "repr.probe_acc.L1": (0.0, 1.0),
    "test_macro_f1": (0.0, 1.0), "context.rho_norm_true.L1": (-1.0, 1.0),
    "context.rho_logit": (-1.0, 1.0), "test_loss": (0.0, math.inf), "grad_norm.L1": (0.0, math.inf),
    "regions.count": (0.0, math.inf), "my_metric": None,
}


@pytest.mark.parametrize("key", sorted(KEYS))
def test_each_metric_kind_has_its_range(key):
    assert metric_range(key) == KEYS[key]


def _members(draw, key):
    rng = KEYS[key]
    lo, hi = (-1e6, 1e6) if rng is None else (rng[0], min(rng[1], 1e6))
    finite = st.floats(lo, hi, allow_nan=False, allow_infinity=False)
    if rng is None or rng[1] == math.inf:  # unbounded above: huge finite values too
        finite = finite | st.sampled_from([1e300, 1.7e308])
        if rng is None:
            finite = finite | st.sampled_from([-1e300, -1.7e308])
    member = finite | st.sampled_from([None, math.nan, math.inf, -math.inf])
    return draw(st.lists(member, min_size=0, max_size=25))


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_every_interval_lies_within_its_metrics_range_and_is_finite(data):
    key = data.draw(st.sampled_from(sorted(KEYS)))
    values = _members(data.draw, key)
    s = mean_ci(values, key=key)
    json.dumps(s, allow_nan=False)  # never inf or NaN: metrics.json must save
    n_finite = sum(v is not None and math.isfinite(v) for v in values)
    assert s["n"] == n_finite and s["n_excluded"] == len(values) - n_finite
    lo, hi = KEYS[key] or (-math.inf, math.inf)
    if s["mean"] is not None:
        assert lo <= s["mean"] <= hi
    if s["ci95"] is not None:
        assert s["n"] >= MIN_SEEDS_INTERVAL
        assert lo <= s["ci95"][0] <= s["ci95"][1] <= hi
    elif s["n"] < MIN_SEEDS_INTERVAL:
        too_few = f"too few seeds for an interval (n={s['n']}, need ≥{MIN_SEEDS_INTERVAL})"
        assert too_few in (s["note"] or "") or s["n"] == 0


def test_accuracies_near_one_keep_the_interval_below_one():
    """The issue's case: the t-interval of these accuracies reaches above 1."""
    v = [1.0] * 9 + [0.96]
    t_hi = sps.t.interval(0.95, len(v) - 1, loc=np.mean(v), scale=np.std(v, ddof=1) / np.sqrt(len(v)))[1]
    assert t_hi > 1.0
    s = mean_ci(v, key="test_accuracy")
    assert s["method"] == "bootstrap" and s["ci95"][1] <= 1.0 and s["ci95"][0] < s["mean"] <= s["ci95"][1]


def test_a_rare_dead_unit_fraction_stays_non_negative():
    v = [0.0, 0.0, 0.0, 0.0, 0.125, 0.25, 0.0, 0.125]
    s = mean_ci(v, key="signal.dead.L2")
    assert 0.0 <= s["ci95"][0] < s["mean"] < s["ci95"][1] <= 1.0


def test_correlations_near_the_bounds_stay_inside():
    v = [0.98, 0.99, 0.97, 0.2, 0.99, 0.96]
    s = mean_ci(v, key="context.rho_norm.L2")
    assert -1.0 <= s["ci95"][0] <= s["ci95"][1] <= 1.0 and s["ci95"][0] >= min(v)


def test_unknown_metrics_keep_the_student_t_interval():
    v = np.array([0.91, 0.95, 0.93, 0.97, 0.94, -0.2])
    s = mean_ci(v, key="my_metric")
    lo, hi = sps.t.interval(0.95, 5, loc=v.mean(), scale=v.std(ddof=1) / np.sqrt(6))
    assert s["method"] == "t" and s["ci95"] == pytest.approx([lo, hi])


def test_too_few_seeds_say_so_instead_of_an_interval():
    s = mean_ci([0.9, 0.95, 0.97], key="test_accuracy")
    assert s["ci95"] is None and s["mean"] == pytest.approx(0.94)
    assert s["note"] == f"too few seeds for an interval (n=3, need ≥{MIN_SEEDS_INTERVAL})"


def test_equal_values_give_no_zero_width_interval():
    s = mean_ci([1.0] * 6, key="test_accuracy")
    assert s["ci95"] is None and s["std"] == 0.0 and "same value" in s["note"]


def test_a_huge_finite_loss_does_not_overflow_the_spread():
    v = [1e300, -1e300, 3e300, 1.7e308, 0.5]
    with np.errstate(over="ignore"):
        assert not math.isfinite(float(np.std(v, ddof=1)))  # what the naive formula gives
    mean, sd = robust_mean_std(np.asarray(v))
    assert math.isfinite(mean) and math.isfinite(sd) and sd > 1e307
    s = mean_ci([1e300, 2e300, 3e300, 4e300, 5e300, math.inf, None], key="test_loss")
    assert s["std"] == pytest.approx(np.std([1, 2, 3, 4, 5], ddof=1) * 1e300)
    assert s["n_excluded"] == 2 and "2 non-finite values left out" in s["note"]
    assert 1e300 <= s["ci95"][0] < s["ci95"][1] <= 5e300
    json.dumps(s, allow_nan=False)


def test_the_bootstrap_is_deterministic():
    v = np.random.default_rng(0).uniform(0.8, 1.0, size=12)
    assert mean_ci(v, key="test_accuracy") == mean_ci(v, key="test_accuracy")


def test_unknown_interval_method_is_refused():
    with pytest.raises(ValueError, match="bootstrap"):
        mean_ci([1.0, 2.0], method="jackknife")
