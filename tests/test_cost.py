"""Inference cost: parameters and FLOPs by the stated convention, timings, cheapest, Pareto."""

from __future__ import annotations

import pytest

from actscope.analysis import cost
from actscope.nn.model import MLPSpec


def test_flops_of_the_article_network():
    relu = MLPSpec(n_inputs=2, hidden=[8, 8], activation="relu")
    sig = MLPSpec(n_inputs=2, hidden=[8, 8], activation="sigmoid")
    dense = (2 * 2 * 8 + 8) + (2 * 8 * 8 + 8) + (2 * 8 * 1 + 1)
    assert cost.n_params(relu) == 2 * 8 + 8 + 8 * 8 + 8 + 8 + 1
    assert cost.flops_per_prediction(relu) == dense + 16 * 1
    assert cost.flops_per_prediction(sig) == dense + 16 * 4
    ident = MLPSpec(n_inputs=2, hidden=[8, 8], activation="identity")
    assert cost.flops_per_prediction(ident) == dense
    assert cost.flops_per_prediction(relu) == relu.flops_per_prediction(activation_flops=1)


def test_flops_per_layer_activations_and_unknown_names():
    mixed = MLPSpec(n_inputs=3, hidden=[4, 5], activation=["tanh", "relu"])
    dense = (2 * 3 * 4 + 4) + (2 * 4 * 5 + 5) + (2 * 5 + 1)
    assert cost.flops_per_prediction(mixed) == dense + 4 * 1 + 5 * 1
    assert cost.activation_flops("leaky_relu(0.1)") == cost.ACTIVATION_FLOPS["leaky_relu"][0]
    rows = cost.convention_table(["relu", "sigmoid"])
    assert [r["flops"] for r in rows] == [1, 4] and "exp" in rows[1]["formula"]


def test_measured_latency_is_consistent():
    mlp = MLPSpec(n_inputs=2, hidden=[8], activation="relu")
    t = cost.measure_latency(mlp, batch=256)
    assert t["batch"] == 256 and t["batch_latency_s"] > 0 and t["single_latency_s"] > 0
    assert t["throughput_per_s"] == pytest.approx(256 / t["batch_latency_s"])
    assert cost.activation_ns_per_element("sigmoid", n=10_000) > 0


def test_success_rate_counts_diverged_as_failure():
    assert cost.success_rate([0.96, 0.95, None, 0.5], 0.95) == 0.5
    assert cost.success_rate([], 0.9) == 0.0


def test_cheapest_respects_the_seed_fraction():
    cfgs = [
        {"act": "a", "flops": 10, "n_params": 5, "test": [0.99] * 8 + [0.5, 0.5]},  # 80% only
        {"act": "a", "flops": 20, "n_params": 9, "test": [0.96] * 9 + [0.5]},        # 90%
        {"act": "a", "flops": 30, "n_params": 12, "test": [0.99] * 10},
        {"act": "b", "flops": 5, "n_params": 3, "test": [0.6] * 10},
    ]
    best = cost.cheapest(cfgs, target=0.95, fraction=0.9, key="test", by="act")
    assert best["a"]["flops"] == 20
    assert best["b"] is None


def test_pareto_front_keeps_the_non_dominated_points():
    flops = [10, 20, 30, 40, 15]
    acc = [0.80, 0.78, 0.90, 0.90, 0.85]
    assert cost.pareto_front(flops, acc) == [0, 4, 2]


def test_one_flop_convention_for_specs_and_reports():
    """MLPSpec counts FLOPs by the convention the reports use (actscope.nn.flops)."""
    from actscope import nn

    for act in (["relu", "relu"], ["sigmoid", "gelu"], ["leaky_relu(0.2)", "f(x) = x * tanh(x)"]):
        mlp = MLPSpec(n_inputs=3, hidden=[5, 4], activation=act, n_classes=3)
        assert mlp.flops_per_prediction() == cost.flops_per_prediction(mlp)
        per_unit = [nn.activation_flops(a) for a in mlp.activation]
        dense = (2 * 3 * 5 + 5) + (2 * 5 * 4 + 4) + (2 * 4 * 3 + 3)
        assert cost.flops_per_prediction(mlp) == dense + 5 * per_unit[0] + 4 * per_unit[1]
    assert cost.activation_flops is nn.activation_flops and cost.ACTIVATION_FLOPS is nn.ACTIVATION_FLOPS
