"""The inference-cost sweep's cells on the NumPy engine against ``engine = "auto"`` (and,
with ``--engines``, against the fast engine forced, which shows what the kernels alone
would give the sweep).

The full grid (360 cells of 10 seeds) at the article's 800 epochs is too long for a shared
2-core machine, so this times an evenly spread subset of its cells (every ``--stride``-th
of the planned cells: activations, depths, widths and rates all represented; or the cells
whose hidden layers are ``--hidden``), each cell exactly as the sweep runs it
(``sweep.cells.run_cell``), once per engine, alternating in this one process, after one
untimed warm-up cell per engine (so that loading cached kernels is not charged to the
first timed cell). It prints each cell's seconds per engine, each engine's total, its
ratio to NumPy, what ``auto`` chose, and the largest difference in a cell's mean test
accuracy between an engine and NumPy (the engines must agree).

Usage: python benchmarks/bench_sweep.py [--epochs 800] [--stride 30] [--hidden 8-8 ...]
       [--engines numpy,auto,fast] [--seeds 30]
"""

from __future__ import annotations

import argparse
import copy
import os
import time


def _run(cell: dict, engine: str, epochs: int, seeds: int | None = None) -> tuple[float, float, str]:
    """(seconds, mean test accuracy, engine used) of one cell on ``engine`` (with ``seeds``
    members instead of the cell's own count, where given)."""
    from actscope.sweep.cells import run_cell

    payload = copy.deepcopy(cell)
    payload["spec"]["train"].update(engine=engine, epochs=epochs, eval_every=epochs)
    if seeds is not None:
        payload["spec"]["seeds"] = {"start": 0, "count": seeds}
    t = time.perf_counter()
    out = run_cell(payload)
    seconds = time.perf_counter() - t
    if "error" in out:
        raise SystemExit(f"{cell['id']}: {out['error']}")
    ok = [m["test_accuracy"] for m in out["members"] if m["test_accuracy"] is not None]
    return seconds, sum(ok) / max(1, len(ok)), str(out.get("engine_chosen") or out["engine"])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=800)
    ap.add_argument("--stride", type=int, default=30, help="time every STRIDE-th cell of the grid")
    ap.add_argument("--hidden", nargs="*", default=None,
                    help="time the cells with these hidden layers instead (e.g. 8-8 64-64-64-64)")
    ap.add_argument("--activation", default=None, help="with --hidden: only this activation")
    ap.add_argument("--engines", default="numpy,auto", help="comma-separated; the first is the baseline")
    ap.add_argument("--seeds", type=int, default=None,
                    help="members per cell instead of the preset's 10 (30: what training the three "
                         "rates of one network as one ensemble would cost)")
    args = ap.parse_args(argv)
    from actscope.experiment import run_experiment  # noqa: F401 - imports before the clock
    from actscope.sweep.plan import plan_cells
    from actscope.sweep.spec import load_sweep

    cells = plan_cells(load_sweep("inference-cost"), yes=True)
    if args.hidden:
        cells = [c for c in cells if c["meta"]["hidden"] in args.hidden
                 and args.activation in (None, c["meta"]["activation"])]
    else:
        cells = cells[::args.stride]
    engines = args.engines.split(",")
    seeds = args.seeds or cells[0]["spec"]["seeds"]["count"]
    print(f"load: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; {len(cells)} cells of the "
          f"inference-cost grid, {args.epochs} epochs each, {seeds} seeds each; "
          f"engines {', '.join(engines)}")
    for engine in engines:  # warm-up, untimed: imports, cached kernels loaded
        _run(cells[0], engine, 2)
    totals = dict.fromkeys(engines, 0.0)
    worst, chosen = dict.fromkeys(engines, 0.0), {}
    for cell in cells:
        res = {e: _run(cell, e, args.epochs, args.seeds) for e in engines}
        for e, (s, acc, used) in res.items():
            totals[e] += s
            worst[e] = max(worst[e], abs(acc - res[engines[0]][1]))
            chosen.setdefault(e, {})[used] = chosen.get(e, {}).get(used, 0) + 1
        m = cell["meta"]
        times = "  ".join(f"{e} {s:6.2f} s" for e, (s, _, _) in res.items())
        print(f"  {m['activation']:<9} {m['hidden']:<12} lr {m['lr']:<5} {times}  "
              f"acc {res[engines[0]][1]:.3f}")
    base = engines[0]
    for e in engines[1:]:
        print(f"{base} {totals[base]:.1f} s, {e} {totals[e]:.1f} s: {e} is "
              f"{totals[base] / totals[e]:.2f}x faster (what it ran, per cell: {chosen[e]}); "
              f"largest difference in a cell's mean test accuracy {worst[e]:.4f}")
    print(f"load at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
