"""Statistics over seeds: intervals, rank correlation, paired comparisons (stats.py)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from actscope.analysis.stats import mean_ci, pair_by_seed, paired_difference, spearman, summarize_arm


def test_mean_ci_matches_student_t_for_a_metric_without_a_range():
    v = np.array([0.91, 0.95, 0.93, 0.97, 0.94])
    s = mean_ci(v, method="t")
    lo, hi = sps.t.interval(0.95, 4, loc=v.mean(), scale=v.std(ddof=1) / np.sqrt(5))
    assert s["method"] == "t" and s["n"] == 5
    assert s["ci95"] == pytest.approx([lo, hi])
    assert s["std"] == pytest.approx(v.std(ddof=1))


def test_one_value_gives_no_interval():
    s = mean_ci([0.8])
    assert s["mean"] == 0.8 and s["ci95"] is None and s["std"] is None and s["n"] == 1


def test_missing_values_are_dropped_and_counted():
    s = mean_ci([1.0, None, np.nan, 3.0])
    assert s["n"] == 2 and s["mean"] == 2.0 and s["n_excluded"] == 2


def test_bootstrap_interval_brackets_the_mean_and_is_seeded():
    v = np.random.default_rng(0).normal(1.0, 0.5, size=20)
    a, b = mean_ci(v, method="bootstrap"), mean_ci(v, method="bootstrap")
    assert a["method"] == "bootstrap" and a["ci95"] == b["ci95"]
    assert a["ci95"][0] < a["mean"] < a["ci95"][1]


def test_spearman_of_a_monotone_relation_is_one():
    x = np.linspace(-3, 3, 50)
    assert spearman(x, np.exp(x)) == pytest.approx(1.0)
    assert spearman(x, -x**3) == pytest.approx(-1.0)


def test_spearman_is_nan_for_a_constant_and_broadcasts_over_members():
    assert np.isnan(spearman(np.ones(10), np.arange(10)))
    x = np.arange(20.0)
    Y = np.stack([x, -x, np.ones(20)])
    rho = spearman(x, Y)
    assert rho.shape == (3,)
    assert rho[0] == pytest.approx(1.0) and rho[1] == pytest.approx(-1.0) and np.isnan(rho[2])


def test_spearman_agrees_with_scipy_on_ties():
    rng = np.random.default_rng(3)
    x, y = rng.integers(0, 5, 40).astype(float), rng.normal(size=40)
    assert spearman(x, y) == pytest.approx(sps.spearmanr(x, y).statistic)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=3, max_size=30, unique=True))
def test_spearman_is_invariant_under_monotone_maps(xs):
    x = np.array(xs)
    assume(len(np.unique(np.arctan(x / 100))) == len(x))  # the map must not merge values in floats
    y = np.sin(np.arange(len(x)))
    assert spearman(x, y) == pytest.approx(spearman(np.arctan(x / 100), y), abs=1e-12)


def test_paired_difference_counts_wins_and_matches_wilcoxon():
    a = np.array([0.95, 0.97, 0.96, 0.94, 0.99, 0.93])
    b = np.array([0.80, 0.79, 0.85, 0.95, 0.81, 0.78])
    c = paired_difference(a, b)
    assert (c["wins"], c["losses"], c["ties"], c["n"]) == (5, 1, 0, 6)
    assert c["mean_diff"] == pytest.approx((a - b).mean())
    assert c["p"] == pytest.approx(sps.wilcoxon(a - b, method="exact").pvalue)
    assert c["ci95"][0] <= c["estimate"] <= c["ci95"][1]


def test_paired_difference_with_one_pair_or_only_ties():
    one = paired_difference([0.9], [0.8])
    assert one["ci95"] is None and one["p"] == 1.0 and one["p_min"] == 1.0 and one["wins"] == 1
    same = paired_difference([0.5, 0.6, 0.7], [0.5, 0.6, 0.7])
    assert same["p"] == 1.0 and same["ties"] == 3 and same["ci95"] is None  # 3 pairs: no interval at 95%


def test_paired_difference_leaves_out_pairs_that_overflow():
    c = paired_difference([1.7e308, 0.5, 0.6], [-1.7e308, 0.4, 0.4])
    assert c["n"] == 2 and c["mean_diff"] == pytest.approx(0.15)


def test_pair_by_seed_aligns_and_drops_missing():
    seeds, a, b = pair_by_seed([1, 2, 3, 4], [10.0, 20.0, None, 40.0], [4, 3, 2], [4.0, 3.0, 2.0])
    assert seeds == [2, 4]
    assert list(a) == [20.0, 40.0] and list(b) == [2.0, 4.0]


def test_summarize_arm_reads_top_level_and_probe_keys():
    arm = {"members": [{"seed": 0, "diverged": False, "test_accuracy": 0.8, "probes": {"repr.pr.L1": 2.0}},
                       {"seed": 1, "diverged": False, "test_accuracy": 0.9, "probes": {"repr.pr.L1": 3.0}},
                       {"seed": 2, "diverged": True, "test_accuracy": None, "probes": {"repr.pr.L1": None}}]}
    s = summarize_arm(arm)
    assert s["test_accuracy"]["mean"] == pytest.approx(0.85) and s["test_accuracy"]["n"] == 2
    assert s["repr.pr.L1"]["mean"] == pytest.approx(2.5)
