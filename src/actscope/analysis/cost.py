"""Inference cost: parameters, FLOPs per prediction, measured latency, cheapest networks.

FLOPs follow the one convention of `actscope.nn.flops` (stated in every sweep report):
dense multiply-adds count 2, bias adds 1, each hidden unit's activation the elementary
operations of its usual formula (:data:`ACTIVATION_FLOPS`). Measured timings complement it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from actscope.activations import get_activation
from actscope.engines import get_engine
from actscope.nn.flops import ACTIVATION_FLOPS, FAMILY_FLOPS, activation_flops, activation_formula
from actscope.nn.model import MLPSpec

__all__ = ["ACTIVATION_FLOPS", "FAMILY_FLOPS", "activation_flops", "activation_ns_per_element",
           "cheapest", "convention_table", "flops_per_prediction", "measure_latency", "n_params",
           "pareto_front", "success_rate"]

def n_params(mlp: MLPSpec) -> int:
    """Weights and biases of one network."""
    return mlp.n_params


def flops_per_prediction(mlp: MLPSpec) -> int:
    """FLOPs of one forward pass of one input (dense layers + hidden activations)."""
    return int(mlp.flops_per_prediction())


def convention_table(names: Sequence[str]) -> list[dict]:
    """Rows (activation, FLOPs, formula) for the report."""
    return [{"activation": n, "flops": activation_flops(n), "formula": activation_formula(n)}
            for n in names]


# Measured timings ---------------------------------------------------------------------------

def _best_time(fn, min_time: float = 0.02, repeats: int = 5) -> float:
    """Seconds per call: the best of ``repeats`` runs of enough calls to last ``min_time``."""
    fn()
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt >= min_time or n >= 1 << 20:
            break
        n *= 2
    best = dt / n
    for _ in range(repeats - 1):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t0) / n)
    return best


def activation_ns_per_element(name: str, n: int = 200_000) -> float:
    """Measured nanoseconds per element of the activation alone (float64 NumPy)."""
    act = get_activation(name)
    z = np.random.default_rng(0).standard_normal(n)
    return 1e9 * _best_time(lambda: act.fn(z)) / n


def measure_latency(mlp: MLPSpec, engine="numpy", batch: int = 4096, seed: int = 0) -> dict:
    """Measured inference of one network on this machine: a batch and a single input.

    Returns the batch size, seconds per batch, predictions per second and seconds for one
    input (best of several repeats; the engine's own overheads included).
    """
    eng = get_engine(engine) if isinstance(engine, str) else engine
    params = eng.init(mlp, [seed])
    X = eng.asarray(np.random.default_rng(seed).standard_normal((batch, mlp.n_inputs)))
    x1 = X[:1]
    t_batch = _best_time(lambda: eng.forward(mlp, params, X))
    t_one = _best_time(lambda: eng.forward(mlp, params, x1))
    return {"batch": batch, "batch_latency_s": t_batch, "throughput_per_s": batch / t_batch,
            "single_latency_s": t_one, "engine": eng.name}


# Which network is cheapest ------------------------------------------------------------------

def success_rate(accuracies: Sequence[float | None], target: float) -> float:
    """Fraction of members whose accuracy reaches ``target`` (None = diverged = failure)."""
    vals = [a is not None and np.isfinite(a) and a >= target - 1e-12 for a in accuracies]
    return float(np.mean(vals)) if vals else 0.0


def cheapest(configs: Sequence[dict], target: float, fraction: float = 0.9,
             key: str = "test", by: str = "activation") -> dict[str, dict | None]:
    """Per ``by`` value, the config of fewest FLOPs whose members reach ``target`` accuracy
    in at least ``fraction`` of seeds (ties: fewer parameters, then higher mean accuracy).

    ``configs`` are dicts with ``flops``, ``n_params``, ``by`` and ``<key>`` (per-seed
    accuracies). None where no config qualifies.
    """
    out: dict[str, dict | None] = {}
    for c in configs:
        out.setdefault(c[by], None)
        if success_rate(c[key], target) + 1e-12 < fraction:
            continue
        best = out[c[by]]
        rank = (c["flops"], c["n_params"], -_mean(c[key]))
        if best is None or rank < (best["flops"], best["n_params"], -_mean(best[key])):
            out[c[by]] = c
    return out


def _mean(values) -> float:
    v = [a for a in values if a is not None and np.isfinite(a)]
    return float(np.mean(v)) if v else float("nan")


def pareto_front(flops: Sequence[float], accuracy: Sequence[float]) -> list[int]:
    """Indices of the non-dominated points (fewer FLOPs, higher accuracy), by FLOPs."""
    order = sorted(range(len(flops)), key=lambda i: (flops[i], -accuracy[i]))
    front, best = [], -np.inf
    for i in order:
        if np.isfinite(accuracy[i]) and accuracy[i] > best + 1e-12:
            front.append(i)
            best = accuracy[i]
    return front
