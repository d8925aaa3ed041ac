"""The one decision rule for paired comparisons (analysis/decisions.py, issue 20): an exact
signed-rank test whose Hodges–Lehmann interval it inverts to, Holm across a report, TOST."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from actscope.analysis import probes
from actscope.analysis.decisions import (
    ALPHA,
    EXACT_MAX_N,
    decide,
    holm,
    min_p,
    min_pairs,
    signed_rank,
    walsh_averages,
)
from actscope.analysis.stats import compare_arms, paired_difference, verdict_text

# differences as accuracies give them: multiples of 1/100, many ties and zeros
accuracy_diffs = st.lists(st.integers(-8, 8).map(lambda k: k / 100), min_size=1, max_size=25)
real_diffs = st.lists(st.floats(-5, 5, allow_nan=False).map(lambda x: round(x, 3)), min_size=1, max_size=25)
# the same shapes in exactly representable steps (k / 8), so shifting by a Walsh average is exact
exact_diffs = (st.lists(st.integers(-8, 8).map(float), min_size=1, max_size=25)
               | st.lists(st.integers(-4000, 4000).map(lambda k: k / 8), min_size=1, max_size=25))


@pytest.mark.parametrize("n", [3, 5, 9, 14, 20])
def test_p_is_scipys_exact_wilcoxon_without_ties(n):
    d = np.random.default_rng(n).normal(0.4, 1.0, n)
    assert signed_rank(d)["p"] == pytest.approx(sps.wilcoxon(d, method="exact").pvalue, rel=1e-12)


def test_the_estimate_is_the_median_of_the_walsh_averages():
    d = [0.3, -0.1, 0.7, 0.2]
    w = walsh_averages(d)
    assert len(w) == 10 and w[0] == -0.1 and w[-1] == 0.7
    assert signed_rank(d)["estimate"] == pytest.approx(np.median(w))


@settings(max_examples=200, deadline=None)
@given(exact_diffs)
def test_the_interval_excludes_zero_exactly_when_p_is_at_most_alpha(d):
    r = signed_rank(d)
    assert (r["ci95"] is None) == (r["p_min"] > ALPHA)
    if r["ci95"] is not None:
        lo, hi = r["ci95"]
        assert lo <= r["estimate"] <= hi
        assert (r["p"] <= ALPHA) == (lo > 0 or hi < 0)
        # the interval is the set of shifts the same test does not reject
        for theta in (lo, hi):
            assert signed_rank(np.asarray(d) - theta)["p"] > ALPHA
        for theta in (lo - 1 / 64, hi + 1 / 64):
            assert signed_rank(np.asarray(d) - theta)["p"] <= ALPHA


@settings(max_examples=200, deadline=None)
@given(accuracy_diffs | real_diffs)
def test_test_and_interval_agree_on_ties_and_zeros(d):
    r = signed_rank(d)
    if r["ci95"] is None:
        assert r["p"] >= r["p_min"] > ALPHA
    else:
        assert (r["p"] <= ALPHA) == (r["ci95"][0] > 0 or r["ci95"][1] < 0)


def test_the_normal_approximation_keeps_test_and_interval_in_agreement():
    rng = np.random.default_rng(7)
    for shift in (0.0, 0.08, 0.2):
        d = rng.normal(shift, 1.0, EXACT_MAX_N + 50)
        r = signed_rank(d)
        assert not r["exact"] and (r["p"] <= ALPHA) == (r["ci95"][0] > 0 or r["ci95"][1] < 0)
        assert r["p"] == pytest.approx(sps.wilcoxon(d, method="approx", correction=True).pvalue, rel=0.05)


@settings(max_examples=150, deadline=None)
@given(st.lists(accuracy_diffs | real_diffs, min_size=1, max_size=8))
def test_a_difference_is_never_declared_with_a_corrected_p_above_alpha(family):
    comps = decide([{**signed_rank(d, margin=0.01), "wins": 0, "losses": 0} for d in family])
    for c in comps:
        if c["decision"] in ("greater", "less"):
            assert c["p_adjusted"] <= ALPHA and c["p"] <= ALPHA
            lo, hi = c["ci95"]
            assert lo > 0 if c["decision"] == "greater" else hi < 0
        else:
            assert c["p_adjusted"] > ALPHA
        if c["decision"] == "equivalent":
            assert c["p_equivalence_adjusted"] <= ALPHA
            assert -0.01 < c["ci_equivalence"][0] <= c["ci_equivalence"][1] < 0.01


def test_three_equal_differences_give_no_verdict_and_no_interval():
    c = {"a": "silu", "b": "relu", "metric": "test_accuracy", **paired_difference([0.9] * 3, [0.893] * 3)}
    (c,) = decide([c])
    assert c["p"] == pytest.approx(0.25) and c["p_min"] == pytest.approx(0.25)
    assert c["ci95"] is None and c["decision"] == "too_few"
    line = verdict_text(c, label=probes.label)
    assert line.startswith("silu vs relu in test accuracy: too few seeds for a verdict: +0.7 pp, 3/3 seeds")
    assert ">" not in line and "p = 0.25 at best" in line


def test_twenty_seeds_with_a_clear_difference_give_a_verdict():
    rng = np.random.default_rng(0)
    sigmoid, relu = 0.79 + 0.01 * rng.standard_normal(20), 0.96 + 0.01 * rng.standard_normal(20)
    (c,) = decide([{"a": "sigmoid", "b": "relu", "metric": "test_accuracy",
                    **paired_difference(sigmoid, relu)}])
    assert c["decision"] == "less" and c["p"] == pytest.approx(2 / 2**20)
    assert c["ci95"][1] < 0 and c["ci95"][0] < c["estimate"] < c["ci95"][1]
    line = verdict_text(c, label=probes.label)
    assert line.startswith("relu > sigmoid in test accuracy: +17.") and "20/20 seeds, p = 1.9e-06" in line


def test_holm_by_hand():
    # sorted: 0.005 x 4 = 0.02; 0.01 x 3 = 0.03; 0.03 x 2 = 0.06; 0.04 x 1 = 0.04 -> kept at 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.2, None, 0.01]) == [pytest.approx(0.2), None, pytest.approx(0.02)]
    assert holm([0.6, 0.7]) == [pytest.approx(1.0), pytest.approx(1.0)]


def test_holm_decides_the_family_together():
    strong = np.linspace(0.05, 0.1, 8)  # 8 positive differences: p = 2/256 each
    (one,) = decide([{**signed_rank(strong), "wins": 8, "losses": 0}])
    assert one["decision"] == "greater"
    family = decide([{**signed_rank(strong), "wins": 8, "losses": 0} for _ in range(7)])
    assert all(c["p_adjusted"] == pytest.approx(7 * 2 / 256) for c in family)
    assert all(c["decision"] == "none" for c in family)  # 0.055 > 0.05 after the correction
    line = verdict_text({"a": "a", "b": "b", "metric": "test_loss", **family[0]})
    assert "no detectable difference" in line and "excludes 0 before Holm's correction, not after" in line


def test_tost_shows_equivalence_for_tight_differences():
    d = np.random.default_rng(1).uniform(-0.002, 0.002, 20)
    (c,) = decide([{**signed_rank(d, margin=0.01), "wins": 0, "losses": 0}])
    assert c["decision"] == "equivalent" and c["p_equivalence"] <= ALPHA
    assert -0.01 < c["ci_equivalence"][0] and c["ci_equivalence"][1] < 0.01


def test_tost_refuses_equivalence_for_spread_differences():
    d = np.random.default_rng(1).normal(0.0, 0.05, 20)
    (c,) = decide([{**signed_rank(d, margin=0.01), "wins": 0, "losses": 0}])
    assert c["decision"] == "none" and c["p_equivalence"] > ALPHA
    assert c["ci_equivalence"][0] < -0.01 or c["ci_equivalence"][1] > 0.01


def test_all_zero_differences_are_equivalent_never_greater():
    (c,) = decide([{**signed_rank(np.zeros(20), margin=0.01), "wins": 0, "losses": 0}])
    assert c["p"] == 1.0 and c["decision"] == "equivalent"


def test_the_smallest_attainable_p_and_the_seeds_a_verdict_needs():
    assert [min_p(n) for n in (1, 3, 5, 6)] == pytest.approx([1.0, 0.25, 0.0625, 0.03125])
    assert min_pairs() == 6
    assert min_pairs(0.05, 45) == 11  # 2 / 2**10 = 0.00195 > 0.05 / 45; 2 / 2**11 = 0.00098 <= 0.00111


def test_twenty_equal_differences_say_so():
    (c,) = decide([{"a": "a", "b": "b", "metric": "test_accuracy",
                    **paired_difference([0.9] * 20, [0.893] * 20)}])
    assert c["decision"] == "greater" and c["ci95"] == pytest.approx([0.007, 0.007])
    assert "(all 20 differences equal)" in verdict_text(c)


def test_compare_arms_corrects_across_every_metric_and_pair():
    rng = np.random.default_rng(2)

    def arm(shift):
        return {"members": [{"seed": s, "diverged": False, "test_accuracy": 0.8 + shift + 0.01 * rng.random(),
                             "test_loss": 0.5 - shift + 0.01 * rng.random()} for s in range(8)]}

    comps = compare_arms({"a": arm(0.0), "b": arm(0.1), "c": arm(0.1)})
    assert len(comps) == 6 and {c["n_tests"] for c in comps} == {6}
    assert sorted(c["p_adjusted"] for c in comps) == pytest.approx(holm(sorted(c["p"] for c in comps)))
    by = {(c["a"], c["b"], c["metric"]): c for c in comps}
    assert by[("a", "b", "test_accuracy")]["decision"] == "less"
    assert by[("a", "b", "test_loss")]["decision"] == "greater"
    assert by[("b", "c", "test_accuracy")]["decision"] in ("none", "equivalent")
    assert by[("b", "c", "test_loss")]["margin"] is None  # losses have no equivalence margin


def test_five_seeds_cannot_declare_even_a_large_difference():
    """The second article's five seeds: relu beats identity by 13 pp on each, yet 5 pairs
    reach p = 1/16 at best (two-sided), above α."""
    (c,) = decide([{"a": "relu", "b": "identity", "metric": "test_accuracy",
                    **paired_difference([1.0] * 5, [0.87, 0.865, 0.875, 0.87, 0.87], margin=0.01)}])
    assert c["decision"] == "too_few" and c["ci95"] is None and c["p"] == pytest.approx(0.0625)
    assert "can reach p = 0.062 at best, above α = 0.05" in verdict_text(c, label=probes.label)
