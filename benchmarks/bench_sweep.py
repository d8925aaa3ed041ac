"""The inference-cost sweep's cells on the NumPy engine against ``engine = "auto"``: by
default as the sweep runs them (``--groups``: cells that differ in rate and activation
trained as one ensemble, `sweep.groups`), or one cell at a time (``--engines``; the fast
engine forced shows what the kernels alone give).

``--groups`` (the default) takes every ``--net-stride``-th network of the grid's 24
(depth x width; offset ``--net-offset``, so that the widest are represented) with all its
cells (activations x rates, or those of ``--activations``), plans them as the sweep does
(``groups.plan_units`` under ``engine = "auto"``) and times each unit with
``groups.run_unit``, and the same cells on the NumPy engine with ``cells.run_cell``
(every ``--numpy-every``-th of them: 1 times every one; above 1 the NumPy time of a
network is the mean of the cells timed x its cells, and says so), alternating which goes
first, in this one process after an untimed warm-up of both. It prints per network the
seconds of each, the ratio, and the largest difference in a cell's mean test accuracy
between the two (float rounding only: the kernels and NumPy round differently).

The full grid (360 cells of 10 seeds) at the article's 800 epochs is too long for a shared
2-core machine, so this times an evenly spread subset of its cells (every ``--stride``-th
of the planned cells: activations, depths, widths and rates all represented; or the cells
whose hidden layers are ``--hidden``), each cell exactly as the sweep runs it
(``sweep.cells.run_cell``), once per engine, alternating in this one process, after one
untimed warm-up cell per engine (so that loading cached kernels is not charged to the
first timed cell). It prints each cell's seconds per engine, each engine's total, its
ratio to NumPy, what ``auto`` chose, and the largest difference in a cell's mean test
accuracy between an engine and NumPy (the engines must agree).

Usage: python benchmarks/bench_sweep.py [--epochs 800] [--net-stride 5] [--net-offset 0]
       [--numpy-every 1] [--activations relu,tanh]
       python benchmarks/bench_sweep.py --cells [--stride 30] [--hidden 8-8 ...]
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


def _payload(cell: dict, engine: str, epochs: int) -> dict:
    payload = copy.deepcopy(cell)
    payload["spec"]["train"].update(engine=engine, epochs=epochs, eval_every=epochs)
    return payload


def _acc(results: list[dict]) -> dict[str, float]:
    """Each cell's mean test accuracy over its finite members."""
    out = {}
    for r in results:
        if "error" in r:
            raise SystemExit(f"{r['id']}: {r['error']}")
        ok = [m["test_accuracy"] for m in r["members"] if m["test_accuracy"] is not None]
        out[r["id"]] = sum(ok) / max(1, len(ok))
    return out


def _time_units(units: list[dict]) -> tuple[float, dict[str, float], list[str]]:
    """(seconds, accuracies, what ran) of planned units run as the sweep runs them."""
    from actscope.sweep.groups import expand, run_unit

    t = time.perf_counter()
    results = [r for u in units for r in expand(run_unit(u), {})]
    seconds = time.perf_counter() - t
    return seconds, _acc(results), sorted({str(r.get("engine_chosen")) for r in results})


def _time_numpy(cells: list[dict], epochs: int) -> tuple[float, dict[str, float]]:
    from actscope.sweep.cells import run_cell

    t = time.perf_counter()
    results = [run_cell(_payload(c, "numpy", epochs)) for c in cells]
    return time.perf_counter() - t, _acc(results)


def groups_main(args) -> None:
    from actscope.sweep.plan import plan_cells
    from actscope.sweep.spec import load_sweep

    cells = plan_cells(load_sweep("inference-cost"), yes=True)
    nets = list(dict.fromkeys(c["meta"]["hidden"] for c in cells))
    nets = sorted(nets, key=lambda h: (h.count("-"), int(h.split("-")[0])))[args.net_offset::args.net_stride]
    acts = args.activations.split(",") if args.activations else None
    every = args.numpy_every
    note = f" (NumPy: every {every}th cell timed, its mean x the cells)" if every > 1 else ""
    print(f"load: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; inference-cost networks "
          f"{', '.join(nets)}, {args.epochs} epochs; auto as the sweep runs it (groups) against NumPy "
          f"cell by cell{note}")
    from actscope.engines.fast_kernels import generic_module
    from actscope.sweep.groups import plan_units

    generic_module("float64")  # warm-up, untimed: imports, the generic module loaded (compiled if new)
    _time_numpy([cells[0]], 2)
    subs = {net: [c for c in cells if c["meta"]["hidden"] == net
                  and (acts is None or c["meta"]["activation"] in acts)] for net in nets}
    t = time.perf_counter()  # planned at once, as the sweep plans its cells
    units = plan_units([_payload(c, "auto", args.epochs) for sub in subs.values() for c in sub])
    tot_g, tot_n = time.perf_counter() - t, 0.0
    print(f"  planning {sum(map(len, subs.values()))} cells into {len(units)} units: {tot_g:.2f} s")
    worst, where = 0.0, ""
    for i, (net, sub) in enumerate(subs.items()):
        mine = [u for u in units if (u.get("cells") or [u])[0]["meta"]["hidden"] == net]
        timed = sub[::args.numpy_every]
        if i % 2:
            n_s, n_acc = _time_numpy(timed, args.epochs)
            g_s, g_acc, ran = _time_units(mine)
        else:
            g_s, g_acc, ran = _time_units(mine)
            n_s, n_acc = _time_numpy(timed, args.epochs)
        n_s *= len(sub) / len(timed)
        for c in timed:
            gap = abs(g_acc[c["id"]] - n_acc[c["id"]])
            if gap > worst:
                worst, where = gap, f" ({c['meta']['activation']} {net} lr {c['meta']['lr']})"
        tot_g, tot_n = tot_g + g_s, tot_n + n_s
        print(f"  {net:<12} {len(sub):3d} cells  numpy {n_s:8.2f} s  auto {g_s:7.2f} s  {n_s / g_s:6.2f}x  "
              f"({'; '.join(ran)})")
    print(f"numpy {tot_n:.1f} s, auto (groups) {tot_g:.1f} s: {tot_n / tot_g:.2f}x faster; largest "
          f"difference in a cell's mean test accuracy {worst:.4f}{where}; load at the end "
          f"{os.getloadavg()[0]:.2f}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=800)
    ap.add_argument("--cells", action="store_true", help="one cell at a time per engine (--engines)")
    ap.add_argument("--net-stride", type=int, default=5, help="with groups: every NET_STRIDE-th network")
    ap.add_argument("--net-offset", type=int, default=0)
    ap.add_argument("--numpy-every", type=int, default=1, help="time every N-th cell on NumPy (1: all)")
    ap.add_argument("--activations", default=None, help="with groups: only these (comma-separated)")
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

    if not args.cells:
        groups_main(args)
        return
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
