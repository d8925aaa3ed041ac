"""The fast engine's *generic* kernels (any width, depth and activation, nothing compiled per
architecture): microseconds per model-epoch, GFLOP/s and share of one core's FMA peak, each
row against the NumPy engine on the same network and members in the same process.

FLOPs are 6 x parameters x points per model-epoch (forward, backward, gradient: two FLOPs a
multiply-accumulate each); 240 points of the moons, minibatches of 64, SGD with momentum.
The last row also runs the specialised kernel (unrolled for the one architecture) as a
second baseline. Timings alternate kernel and baseline and keep the best of several
repeats; the load average is printed beside them (the development machine is shared).

    python benchmarks/bench_generic.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_ensemble import machine_peak  # noqa: E402

from actscope.config import make_dataset  # noqa: E402
from actscope.engines import NumpyEngine  # noqa: E402
from actscope.engines.base import EpochPlan  # noqa: E402
from actscope.engines.fast_engine import FastEngine  # noqa: E402
from actscope.nn.model import MLPSpec  # noqa: E402

N_POINTS, BATCH, LR = 240, 64, 0.05
# (hidden, activation, members, dtype, threads, with the specialised kernel too)
ACTS = ("identity", "relu", "sigmoid", "tanh", "gelu")
ROWS = [([16, 16, 16], a, 16, "float64", 1, False) for a in ACTS] + [
    ([64, 64], "relu", 16, "float64", 1, False),
    ([2], "relu", 16, "float64", 1, False),
    ([8, 8], "relu", 16, "float32", 1, False),
    ([8, 8], "relu", 1000, "float32", 2, True),
]


def _plan(K: int) -> EpochPlan:
    return EpochPlan(optimizer="momentum", lr=LR, momentum=0.9, betas=(0.9, 0.999), eps=1e-8,
                     weight_decay=0.0, batch_size=BATCH, shuffle=True,
                     streams=[np.random.default_rng(s) for s in range(K)], epochs=100)


def _kernel_epoch(kernel: str, spec: MLPSpec, K: int, dtype: str, X, y):
    """A function running one epoch of ``kernel`` on K members (compiled and warmed up)."""
    eng = FastEngine(dtype=dtype, kernel=kernel)
    runner = eng.epoch_runner(spec, eng.init(spec, list(range(K))), X, y, _plan(K))
    assert runner is not None and runner.ks.kind == kernel
    keep = np.ones(K, bool)
    runner.run_epoch(keep)
    return lambda: runner.run_epoch(keep)


def _numpy_epoch(spec: MLPSpec, K: int, X, y):
    """A function running one epoch of minibatch SGD steps on the NumPy engine."""
    eng = NumpyEngine("float64")
    params = eng.init(spec, list(range(K)))
    order = np.random.default_rng(0).permutation(len(X))

    def epoch():
        for i in range(0, len(X), BATCH):
            idx = order[i:i + BATCH]
            _, grads = eng.loss_and_grad(spec, params, X[idx], y[idx])
            for (W, b), (gW, gb) in zip(params, grads):
                W -= LR * gW  # in place: the arrays the next step reads
                b -= LR * gb
    epoch()
    return epoch


def _best(fns, repeats: int, calls: int) -> list[float]:
    """Seconds per call of each function: best of ``repeats``, the functions alternating."""
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            t = time.perf_counter()
            for _ in range(calls):
                fn()
            best[i] = min(best[i], (time.perf_counter() - t) / calls)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    args = ap.parse_args()
    d = make_dataset(n_samples=400, noise=0.18, random_state=42, standardize="all")
    X, y = d.X_train[:N_POINTS], d.y_train[:N_POINTS]
    peak32, how = machine_peak()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    print(f"peak: {how} = {peak32:.0f} GFLOP/s float32, {peak32 / 2:.0f} float64 (all cores)")
    print(f"{'network':28s} {'K':>5s} {'thr':>3s} {'us/model-epoch':>14s} {'GFLOP/s':>8s} {'% peak':>7s}"
          f" {'NumPy us':>9s} {'x NumPy':>8s}  load")
    repeats = 3 if args.quick else 5
    for hidden, act, K, dt, threads, special in ROWS:
        os.environ["ACTSCOPE_THREADS"] = str(threads)
        spec = MLPSpec(2, hidden, act)
        fns = [_kernel_epoch("generic", spec, K, dt, X, y), _numpy_epoch(spec, K, X, y)]
        if special:
            fns.append(_kernel_epoch("specialised", spec, K, dt, X, y))
        calls = max(2, int(2e5 // (K * spec.n_params)))
        secs = _best(fns, repeats, calls)
        us = [s / K * 1e6 for s in secs]
        gflops = 6 * spec.n_params * N_POINTS / us[0] / 1e3
        peak = (peak32 if dt == "float32" else peak32 / 2) * threads / cores
        name = f"2-{'-'.join(map(str, hidden))}-1 {act} {dt}"
        print(f"{name:28s} {K:5d} {threads:3d} {us[0]:14.2f} {gflops:8.2f} {100 * gflops / peak:6.1f}%"
              f" {us[1]:9.1f} {us[1] / us[0]:7.1f}x  {os.getloadavg()[0]:.2f}")
        if special:
            print(f"{'  specialised kernel, same':28s} {K:5d} {threads:3d} {us[2]:14.2f}"
                  f"   generic / specialised = {us[0] / us[2]:.2f}")


if __name__ == "__main__":
    main()
