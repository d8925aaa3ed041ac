"""Mean-field features of search candidates: `search.features.mean_field` against `theory`.

For N candidates of the size-3 search space (`search.strategies.exhaustive`), q* and χ₁ at
σw² = 1.5, σb² = 0.1, both at the lowest stable fixed point and reached from q0 = 1.6:

  a  theory: `theory.fixed_point_q` + `theory.gradient_gain` per candidate (baseline)
  b  search.features.mean_field: one quadrature on a fixed grid of q per candidate

Prints seconds per candidate, the ratio a / b, and the largest relative difference of q*
and χ₁ between the two where both are finite (the agreement the tests check on a few).
Activations are built before timing (a search has built them to train them).

Usage: python benchmarks/bench_search_features.py [--n 200]
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="candidates (default 200)")
    args = ap.parse_args()
    from actscope.search.features import mean_field
    from actscope.search.strategies import exhaustive
    from actscope.theory.length import fixed_point_q, gradient_gain

    acts = [c.activation() for c in itertools.islice(exhaustive(3, args.n), args.n)]
    for a in acts:
        a.fn(np.zeros(4)), a.grad(np.zeros(4))  # compile lazily built callables before timing
    sw2, sb2, q0 = 1.5, 0.1, 1.6
    t = time.perf_counter()
    ref = []
    for a in acts:
        row = []
        for start in (0.0, q0):
            q = float(fixed_point_q(a, sw2, sb2, start))
            row += [q, float(gradient_gain(a, q, sw2))]
        ref.append(row)
    t_theory = time.perf_counter() - t
    K = len(acts)
    t = time.perf_counter()
    got = mean_field(acts, np.full(K, sw2), np.full(K, sb2), np.full(K, q0))
    t_fast = time.perf_counter() - t
    ref_a = np.array(ref)
    mine = np.stack([got["q_star"], got["chi1"], got["q_star_data"], got["chi1_data"]], axis=1)
    ok = np.isfinite(ref_a) & np.isfinite(mine) & (np.abs(ref_a) > 1e-9)
    rel = np.abs(mine[ok] - ref_a[ok]) / np.abs(ref_a[ok])
    print(f"{K} candidates")
    print(f"a  theory      {1e3 * t_theory / K:8.2f} ms per candidate")
    print(f"b  mean_field  {1e3 * t_fast / K:8.2f} ms per candidate   a / b = {t_theory / t_fast:.1f}")
    print(f"relative difference where finite: median {np.median(rel):.2e}, "
          f"95th percentile {np.quantile(rel, 0.95):.2e}, max {rel.max():.2e} "
          f"({(rel > 1e-2).sum()} of {rel.size} above 1%)")


if __name__ == "__main__":
    main()
