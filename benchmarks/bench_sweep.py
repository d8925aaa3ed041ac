"""The inference-cost sweep's cells on the NumPy engine against ``engine = "auto"``.

The full grid (360 cells of 10 seeds) at the article's 800 epochs is too long for a shared
2-core machine, so this times an evenly spread subset of its cells (every ``--stride``-th
of the planned cells: activations, depths, widths and rates all represented), each cell
exactly as the sweep runs it (``sweep.cells.run_cell``), once with ``engine = "numpy"``
and once with ``engine = "auto"``, alternating in this one process. It prints each
engine's seconds, their ratio, what ``auto`` chose, and the largest difference in a
cell's mean test accuracy between the two (the engines must agree).

Usage: python benchmarks/bench_sweep.py [--epochs 800] [--stride 30]
"""

from __future__ import annotations

import argparse
import copy
import os
import time


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=800)
    ap.add_argument("--stride", type=int, default=30, help="time every STRIDE-th cell of the grid")
    args = ap.parse_args(argv)
    from actscope.experiment import run_experiment  # noqa: F401 - imports before the clock
    from actscope.sweep.cells import run_cell
    from actscope.sweep.plan import plan_cells
    from actscope.sweep.spec import load_sweep

    cells = plan_cells(load_sweep("inference-cost"), yes=True)[::args.stride]
    print(f"load: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; {len(cells)} cells of the "
          f"inference-cost grid, {args.epochs} epochs each")
    totals = {"numpy": 0.0, "auto": 0.0}
    worst, chosen = 0.0, {}
    for cell in cells:
        accs = {}
        for engine in ("numpy", "auto"):
            payload = copy.deepcopy(cell)
            payload["spec"]["train"].update(engine=engine, epochs=args.epochs, eval_every=args.epochs)
            t = time.perf_counter()
            out = run_cell(payload)
            totals[engine] += time.perf_counter() - t
            if "error" in out:
                raise SystemExit(f"{cell['id']}: {out['error']}")
            ok = [m["test_accuracy"] for m in out["members"] if m["test_accuracy"] is not None]
            accs[engine] = sum(ok) / max(1, len(ok))
            if engine == "auto":
                chosen[out["engine"]] = chosen.get(out["engine"], 0) + 1
        worst = max(worst, abs(accs["numpy"] - accs["auto"]))
        m = cell["meta"]
        print(f"  {m['activation']:<9} {m['hidden']:<12} lr {m['lr']:<5} acc numpy {accs['numpy']:.3f} "
              f"auto {accs['auto']:.3f}")
    print(f"numpy {totals['numpy']:.1f} s, auto {totals['auto']:.1f} s: auto is "
          f"{totals['numpy'] / totals['auto']:.2f}x faster (engines used by auto: {chosen}); "
          f"largest difference in a cell's mean test accuracy {worst:.4f}")


if __name__ == "__main__":
    main()
