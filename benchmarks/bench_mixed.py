"""Many activations in one kernel call: model-epochs per second of ``engines.mixed``.

An activation search trains candidates x seeds x rates as one ensemble (``train_mixed``):
every candidate's formula runs as a register program in the generic kernels, one kernel
call per epoch for all of them. Three rows in one process, each the same members (2-8-8-1,
the moons with 240 training points, minibatch 64, float32, SGD):

  a  100 distinct formula candidates x 15 members, one call per epoch (the search's way)
  b  the same 1,500 members all relu, through the compiled table, one call per epoch
     (what the programs cost against the table)
  c  the 100 candidates one ``train_mixed`` call each (the per-group loop)

with ratios a/b and a/c of model-epochs per second. Nothing is compiled per formula: a
warm-up call loads the generic module before the timings.

Usage: python benchmarks/bench_mixed.py [--epochs 20] [--candidates 100] [--members 15]
"""

from __future__ import annotations

import argparse
import itertools
import os
import time

import numpy as np

from actscope.activations import get_activation
from actscope.config import make_dataset
from actscope.engines.fast_engine import n_threads
from actscope.engines.mixed import MixedPlan, train_mixed
from actscope.nn.model import MLPSpec, init_params
from actscope.training.stepper import batch_streams

UNARY = ["x", "tanh(x)", "sin(x)", "x**2", "exp(-x**2)", "sigmoid(x)", "abs(x)", "log(1 + abs(x))",
         "erf(x)", "softplus(x)", "cos(x)", "x**3"]
BINARY = ["({}) + ({})", "({}) * ({})", "({}) - ({})"]


def formulas(n: int) -> list[str]:
    """``n`` distinct formulas binary(unary(x), unary(x)), in a fixed order."""
    out = []
    for (u, v), b in itertools.product(itertools.combinations(UNARY, 2), BINARY):
        out.append("f(x) = " + b.format(u, v))
    return out[:n]


def rate(label: str, members: int, epochs: int, fn) -> float:
    t = time.perf_counter()
    fn()
    s = time.perf_counter() - t
    per = members * epochs / s
    print(f"{label:<58} {s:8.2f} s   {per:12,.0f} model-epochs/s")
    return per


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--candidates", type=int, default=100)
    ap.add_argument("--members", type=int, default=15)
    args = ap.parse_args(argv)
    data = make_dataset(n_samples=320, noise=0.18, random_state=42, test_size=0.25, split_seed=42)
    X, y = data.X_train, data.y_train
    acts = [get_activation(f) for f in formulas(args.candidates)]
    G, M = len(acts), args.members
    K = G * M
    spec = MLPSpec(2, (8, 8), "relu")
    seeds = [k % M for k in range(K)]
    params = init_params(spec, seeds)
    group = np.repeat(np.arange(G), M)
    lrs = np.tile(np.array([0.05, 0.2, 0.8])[np.arange(M) % 3], G)
    plan = MixedPlan(epochs=args.epochs, batch_size=64)
    evals = {"train": (X, y)}

    def run(acts_, group_, idx):
        sub = [type(p)(p.W[idx], p.b[idx]) for p in params]
        streams = batch_streams(spec, [seeds[i] for i in idx], "default")
        return train_mixed((2, 8, 8, 1), acts_, group_, lrs[idx], sub, X, y, streams, plan, evals, "float32")

    everyone = np.arange(K)
    print(f"load: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs, {n_threads()} threads; {G} candidates "
          f"x {M} members = {K}, {len(X)} points, {args.epochs} epochs, float32")
    run(acts[:2], np.repeat([0, 1], M), np.arange(2 * M))  # loads the generic module (cached)
    a = rate(f"a  {G} formulas, one call per epoch", K, args.epochs, lambda: run(acts, group, everyone))
    relu = [get_activation("relu")]
    b = rate("b  all relu (table), one call per epoch", K, args.epochs,
             lambda: run(relu, np.zeros(K, int), everyone))
    one = np.zeros(M, int)
    c = rate(f"c  {G} formulas, one train_mixed call per candidate", K, args.epochs,
             lambda: [run([act], one, np.arange(g * M, (g + 1) * M)) for g, act in enumerate(acts)])
    print(f"programs against the table (a/b): {a / b:.2f}x   one call against the per-group loop (a/c): "
          f"{a / c:.2f}x")


if __name__ == "__main__":
    main()
