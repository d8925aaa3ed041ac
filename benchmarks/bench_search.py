"""``actscope search`` end to end on this machine, and what evaluating many candidates in
one ensemble gains over evaluating them one at a time.

Runs the ``search-small`` preset (or ``--quick``: the same search with 256 candidates and
a quarter of the epochs) into a fresh folder, exactly as ``actscope search`` does
(proposals and canonicalisation, every stage, the results and the report), and prints the
distinct candidates, tasks, seeds, rates and epochs of each stage, the wall and process
CPU time, the load average around the run, candidates per minute and candidate-task-seed
evaluations (each with its rate tuned over the grid) per minute. The machine may be shared:
the CPU time divided by the cores the kernels use is the estimate for a quiet machine.

Then, in the same process, the baseline: a sample of stage-0 candidates on the first task
evaluated one at a time as a user would, a plain ``actscope run`` of each cell (one
candidate, one rate, the stage's seeds, ``engine = "fast"``, the candidate as a formula)
against one search cell of ``chunk`` candidates (`search.evaluate.evaluate_cell`), per
candidate; and the same plain runs again, their kernels now cached, to show how much of
the baseline is compiling. The sample's test accuracies must agree between the two.

Usage: python benchmarks/bench_search.py [--quick] [--preset search-small] [--sample 3]
       [--no-baseline] [--out DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path


def _spec(preset: str, quick: bool):
    from actscope.search.spec import Stage, load_search

    spec = load_search(preset)
    if quick:
        stages = tuple(Stage(s.seeds, max(1, s.epochs // 4), s.keep) for s in spec.stages)
        spec = dataclasses.replace(spec, candidates=256, stages=stages)
    return spec


def _search(spec, out: Path) -> dict:
    """Run the search; its numbers and timings."""
    from actscope._util.cores import usable_cores
    from actscope.search.run import run_search

    marks: dict[int, float] = {}
    cpu_cells = [0.0]

    def progress(p: dict) -> None:
        marks[p["stage"]] = p["elapsed_s"]
        cpu_cells[0] = time.process_time() - cpu0

    load0, cpu0, t0 = os.getloadavg()[0], time.process_time(), time.perf_counter()
    try:
        res = run_search(spec, out, progress=progress)
    except BaseException:
        print(f"failed after {time.perf_counter() - t0:.0f} s (process CPU {time.process_time() - cpu0:.0f} "
              f"s, {cpu_cells[0]:.0f} s of it to the last cell; stage ends at {marks} s)", flush=True)
        raise
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {"res": res, "wall": wall, "cpu": cpu, "cpu_cells": cpu_cells[0],
            "load": (load0, os.getloadavg()[0]), "marks": marks, "cores": usable_cores()}


def _report_search(spec, out: Path, m: dict) -> None:
    res, wall = m["res"], m["wall"]
    n_refs = len(spec.references)
    rejected = json.loads((out / "rejected.json").read_text())
    print(f"search {spec.name}: strategy {spec.strategy}, size <= {spec.max_size}; "
          f"{res.stage_candidates[0]} distinct candidates after deduplication and screening "
          f"({rejected.get('raw', '?')} terms proposed, {rejected.get('duplicates', '?')} duplicates, "
          f"rejected {rejected.get('rejected', {})}) + {n_refs} references")
    print(f"tasks {', '.join(spec.tasks)}; {len(spec.lr_grid)} rates {list(spec.lr_grid)} tuned per "
          f"candidate and task on validation; {spec.hidden} hidden, {spec.dtype}")
    evals = members = 0
    prev = 0.0
    for i, (st, n) in enumerate(zip(spec.stages, res.stage_candidates)):
        e = (n + n_refs) * len(spec.tasks) * st.seeds
        evals, members = evals + e, members + e * len(spec.lr_grid)
        print(f"  stage {i}: {n} candidates + {n_refs} references x {st.seeds} seeds x "
              f"{st.epochs} epochs: {e:,} candidate-task-seed evaluations "
              f"({e * len(spec.lr_grid):,} networks), {m['marks'].get(i, prev) - prev:.0f} s")
        prev = m["marks"].get(i, prev)
    # the kernels spread over every core; proposing and the results run mostly on one
    quiet = m["cpu_cells"] / m["cores"] + (m["cpu"] - m["cpu_cells"])
    print(f"wall {wall:.0f} s ({wall / 60:.1f} min; results and report {wall - prev:.0f} s); process CPU "
          f"{m['cpu']:.0f} s ({m['cpu'] - m['cpu_cells']:.0f} s after the last cell); load average "
          f"{m['load'][0]:.1f} before, {m['load'][1]:.1f} after, on {m['cores']} cores: a quiet "
          f"machine's wall estimated as the cells' CPU / cores + the rest's CPU = {quiet:.0f} s "
          f"({quiet / 60:.1f} min)")
    n0 = res.stage_candidates[0]
    for label, t in (("measured", wall), ("quiet estimate", min(wall, quiet))):
        print(f"  {label}: {n0 / (t / 60):,.0f} candidates per minute, {evals / (t / 60):,.0f} "
              f"candidate-task-seed evaluations per minute ({members / (t / 60):,.0f} networks per minute)")


def _baseline(spec, out: Path, sample: int) -> None:
    """Per candidate: plain fast-engine runs (one per rate) against one search cell."""
    from actscope.experiment.run import run_experiment
    from actscope.search.evaluate import evaluate_cell
    from actscope.search.spec import cell_spec
    from actscope.search.store import read_candidates

    cands = [c for c in read_candidates(out) if c.origin != "reference"]
    st, task = spec.stages[0], next(iter(spec.tasks))
    picked = [c for c in cands if c.builtin is None][:sample]
    t = time.perf_counter()
    rows = evaluate_cell(spec, 0, task, cands[:spec.chunk])
    mixed = (time.perf_counter() - t) / min(spec.chunk, len(cands))
    plain, cached, worst = 0.0, 0.0, 0.0
    for c in picked:
        for rnd in (0, 1):
            for lr in spec.lr_grid:
                exp = cell_spec(spec, "found", task, lr, st.seeds, st.epochs, formula=c.formula,
                                family=c.family)
                t = time.perf_counter()
                hist = next(iter(run_experiment(exp).arms.values())).history
                dt = time.perf_counter() - t
                plain, cached = (plain + dt, cached) if rnd == 0 else (plain, cached + dt)
                sel = (rows["key"] == c.key) & (rows["lr"] == lr)
                if sel.any():
                    got, want = rows["test_acc"][sel], hist.last("test/accuracy").astype(float)
                    both = ~(got != got) & ~(want != want)
                    worst = max(worst, float(abs(got[both] - want[both]).max(initial=0.0)))
    n = max(1, len(picked))
    print(f"baseline on {task}, stage 0 ({st.seeds} seeds x {len(spec.lr_grid)} rates x {st.epochs} "
          f"epochs per candidate), {len(picked)} candidates one at a time with the fast engine: "
          f"{plain / n:.2f} s per candidate ({cached / n:.2f} s with its kernels cached); one search "
          f"cell of {min(spec.chunk, len(cands))} candidates: {mixed:.3f} s per candidate: "
          f"{plain / n / mixed:.0f}x faster ({cached / n / mixed:.0f}x against cached kernels); "
          f"largest difference in a member's test accuracy {worst:.2g}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="search-small")
    ap.add_argument("--quick", action="store_true", help="256 candidates, a quarter of the epochs")
    ap.add_argument("--sample", type=int, default=3, help="candidates in the one-at-a-time baseline")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--out", default=None, help="the search's folder (default: a fresh temporary one)")
    args = ap.parse_args(argv)
    import actscope.search.report  # noqa: F401 - imports before the clock, as the CLI has them
    from actscope.search.run import run_search  # noqa: F401

    spec = _spec(args.preset, args.quick)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out) if args.out else Path(tmp) / "search"
        if out.exists() and any(out.iterdir()):
            raise SystemExit(f"--out {out}: give a new or empty folder (a resumed search is not a benchmark)")
        m = _search(spec, out)
        _report_search(spec, out, m)
        if not args.no_baseline:
            _baseline(spec, out, args.sample)
    print(f"load at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
