"""The sweep's naive-vs-fair gaps under the decision rule (sweep/analysis.py, issue 20): a
fair comparison that closes the gap must show equivalence within the margin, not only a
small mean."""

from __future__ import annotations

import numpy as np
import pytest

from actscope.sweep.analysis import EQUIVALENCE_MARGIN, gaps

SEEDS = list(range(10))


def _configs(tuned_gap, rng) -> list[dict]:
    """relu and sigmoid over 24 architectures: a 19 pp naive gap, ``tuned_gap(i)`` tuned."""
    out = []
    for i in range(24):
        hidden = f"{4 + i}"
        base = 0.95 + 0.01 * rng.standard_normal(10)
        for act, naive, tuned in (("relu", base, base), ("sigmoid", base - 0.19, base - tuned_gap(i))):
            out.append({"activation": act, "hidden": hidden, "series": act, "seeds": SEEDS,
                        "naive": {"lr": 0.05, "test": list(naive)},
                        "tuned": {"lr": 0.4, "test": list(tuned)}})
    return out


def test_a_closed_gap_is_shown_equivalent_and_an_open_one_is_not():
    rng = np.random.default_rng(0)
    closed = gaps(_configs(lambda i: 0.004 * np.sin(i), rng), "relu", None)["overall"]["sigmoid"]
    assert closed["naive_mean"] == pytest.approx(0.19) and closed["naive_test"]["decision"] == "greater"
    assert closed["naive_test"]["margin"] is None  # only the fair comparison claims the arms are alike
    assert closed["tuned_test"]["decision"] == "equivalent"
    assert closed["tuned_test"]["p_equivalence_adjusted"] <= 0.05
    lo, hi = closed["tuned_test"]["ci_equivalence"]
    assert -EQUIVALENCE_MARGIN < lo <= hi < EQUIVALENCE_MARGIN
    assert "equivalent within ±1 pp" in closed["tuned_test"]["verdict"]

    spread = gaps(_configs(lambda i: 0.08 * np.sin(i), rng), "relu", None)["overall"]["sigmoid"]
    assert abs(spread["tuned_mean"]) < EQUIVALENCE_MARGIN  # a small average gap...
    assert spread["tuned_test"]["decision"] == "none"  # ...but not shown equivalent
    assert "not shown equivalent within ±1 pp" in spread["tuned_test"]["verdict"]


def test_per_architecture_gaps_are_corrected_as_one_family():
    rng = np.random.default_rng(1)
    g = gaps(_configs(lambda i: 0.0, rng), "relu", "4")
    per = [p[w] for p in g["per_architecture"] for w in ("naive", "tuned")]
    assert {c["n_tests"] for c in per} == {48}
    # ten seeds give p = 2/1024 at best, and 48 tests need p <= 0.05/48 first: no verdict at all
    assert all(c["decision"] not in ("greater", "less") for c in per)
    assert g["overall"]["sigmoid"]["naive_significant"] == 0
    assert g["warning"].startswith("10 paired seeds cannot pass Holm's correction over the 48 ")
    assert g["focus_rows"][0]["hidden"] == "4"
