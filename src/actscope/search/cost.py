"""Inference cost of a candidate activation, and the Pareto front of accuracy against it.

Two costs per candidate: the FLOPs per element of its formula (the grammar's count, under
`nn.flops`' convention: every candidate has one) and the measured seconds per element,
both in NumPy (``act.fn`` on a large float32 array) and through the compiled kernels' own
activation code (`engines.mixed.activation_values`), each the best of ``REPEATS`` timings.
Measuring is done for a few candidates (the leaderboard's top and the references), not
thousands; the report says which.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

import numpy as np

N_ELEMENTS = 1 << 18   # 262,144 values: per-call overhead well below 1% of a timing
REPEATS = 3


def seconds_per_element(fn: Callable[[np.ndarray], object], z: np.ndarray, repeats: int = 3) -> float:
    """The best of ``repeats`` wall-clock timings of ``fn(z)``, divided by ``z.size``."""
    best = np.inf
    with np.errstate(all="ignore"):
        fn(z[:1024])  # warm up (first-call dispatch, caches)
        for _ in range(repeats):
            t = time.perf_counter()
            fn(z)
            best = min(best, time.perf_counter() - t)
    return float(best / z.size)


def measure(candidates: list, dtype: str = "float32", n: int | None = None,
            repeats: int | None = None) -> dict[str, dict]:
    """Measured seconds per element of each candidate: ``numpy_s`` (``act.fn``) and
    ``kernel_s`` (`engines.mixed.activation_values`, the kernels' code path; None where the
    kernels have no code for it), on ``n`` standard normal values in ``dtype``; keyed by
    the candidate's key. The kernels' first call compiles them (once per process, not timed:
    each timing is preceded by a warm-up call)."""
    from actscope.engines.codegen.common import UnsupportedActivation
    from actscope.engines.mixed import activation_values

    n, repeats = n or N_ELEMENTS, repeats or REPEATS
    z = np.random.default_rng(0).standard_normal(n).astype(dtype)
    out = {}
    for c in candidates:
        act = c.activation()
        try:
            through = partial(activation_values, act, dtype=dtype)
            kernel: float | None = seconds_per_element(through, z, repeats)
        except UnsupportedActivation:
            kernel = None
        out[c.key] = {"numpy_s": seconds_per_element(act.fn, z, repeats), "kernel_s": kernel}
    return out


def pareto_front(cost, accuracy) -> np.ndarray:
    """Indices (ascending) of the points not dominated when lower cost and higher accuracy
    are better: no other point is at most as costly and at least as accurate, and better in
    one. Points with a NaN cost or accuracy are never on the front."""
    c, a = np.asarray(cost, dtype=np.float64), np.asarray(accuracy, dtype=np.float64)
    ok = np.flatnonzero(~(np.isnan(c) | np.isnan(a)))
    order = ok[np.lexsort((-a[ok], c[ok]))]
    front: list[int] = []
    best, i = -np.inf, 0
    while i < order.size:
        j = i
        while j < order.size and c[order[j]] == c[order[i]]:
            j += 1
        group = order[i:j]
        top = a[group].max()
        if top > best:
            front.extend(int(k) for k in group if a[k] == top)
            best = top
        i = j
    return np.array(sorted(front), dtype=np.int64)


def front_table(keys: list[str], cost: list[float], accuracy: list[float | None], what: str) -> dict:
    """The points and the front of one cost: ``{"cost": what, "points": [...], "front": [keys]}``
    (points sorted by cost, then key)."""
    acc = [np.nan if v is None else v for v in accuracy]
    idx = pareto_front(cost, acc)
    on = {keys[i] for i in idx.tolist()}
    pts = sorted(({"key": k, "cost": float(cv), "accuracy": av, "front": k in on}
                  for k, cv, av in zip(keys, cost, accuracy)), key=lambda p: (p["cost"], p["key"]))
    return {"cost": what, "points": pts, "front": [p["key"] for p in pts if p["front"]]}
