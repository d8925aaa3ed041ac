"""Running a sweep: every unfinished cell, then the table, the analysis and the report.

The sweep directory (default ``runs/<name>``; the same command resumes it)::

    sweep.toml              the sweep as resolved
    cells/<id>.json         one finished cell (written atomically); <id> hashes its spec
    failed/<id>.txt         a cell that raised (retried on restart)
    results.parquet|.csv    tidy: one row per cell and seed
    configs.csv             one row per arm configuration: naive and tuned rates, accuracy
    analysis.json           fair comparison, cheapest networks, measured latency
    figures/*.png, report.html
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from actscope._util.atomic import atomic_write
from actscope.config import register_custom_activations
from actscope.errors import InputError
from actscope.experiment.rundir import to_json
from actscope.sweep.analysis import analyse, configs_csv_rows
from actscope.sweep.cells import run_cell
from actscope.sweep.executors import check_executor, execute
from actscope.sweep.plan import plan_cells
from actscope.sweep.progress import SweepProgress
from actscope.sweep.spec import Sweep, load_sweep
from actscope.sweep.tables import finished_cells, normalise_columns, table_rows, write_csv, write_parquet


@dataclass
class SweepResult:
    """What a sweep produced: its directory, the table and the analysis."""

    path: Path
    rows: list[dict]
    analysis: dict
    n_cells: int
    n_skipped: int
    n_run: int
    elapsed_s: float
    report: Path | None = None
    n_failed: int = 0


def default_sweep_dir(name: str, root: str | Path = "runs") -> Path:
    """``runs/<name>``: no time stamp, so the same command resumes the same sweep."""
    return Path(root) / name


def run_sweep(
    sweep: Sweep | str | Path,
    out: str | Path | None = None,
    executor: str = "inprocess",
    workers: int | None = None,
    address: str | None = None,
    yes: bool = False,
    progress: bool = True,
    report: bool = True,
    echo: Callable[[str], None] = print,
) -> SweepResult:
    """Run every unfinished cell of ``sweep``, then write the table, analysis and report.

    Bad input is refused before any work. Each cell's result is written atomically when it
    finishes; a KeyboardInterrupt propagates and loses no finished cell, and running the
    same sweep into the same directory again skips them (and says how many).
    """
    if not isinstance(sweep, Sweep):
        sweep = load_sweep(sweep)
    check_executor(executor, workers)
    cells = plan_cells(sweep, yes=yes)
    out = Path(out) if out is not None else default_sweep_dir(sweep.name)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out = {str(out)!r}: exists and is not a directory")
    register_custom_activations(sweep.base.activations)  # the sweep starts: its formulas by name
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "sweep.toml", sweep.to_toml())
    ids = {c["id"] for c in cells}
    results = {i: r for i, r in finished_cells(out).items() if i in ids}
    todo = [c for c in cells if c["id"] not in results]
    n_skipped = len(cells) - len(todo)
    if n_skipped:
        echo(f"resuming {out}: {n_skipped} of {len(cells)} cells already finished, skipped")
    started = time.perf_counter()
    with SweepProgress(len(todo), enabled=progress) as bar:
        kwargs = {"progress": bar} if executor == "inprocess" else {}
        results_iter = execute(executor, run_cell, todo, workers=workers, address=address, **kwargs)
        n_failed = _record_cells(results_iter, out, results, bar, echo)
    elapsed = time.perf_counter() - started
    result = finish_sweep(sweep, out, cells, results, report=report)
    result.n_skipped, result.n_run, result.elapsed_s = n_skipped, len(todo) - n_failed, elapsed
    result.n_failed = n_failed
    return result


def _record_cells(finished, out: Path, results: dict[str, dict], bar: SweepProgress,
                  echo: Callable[[str], None]) -> int:
    """Write each cell's result as it arrives (``cells/<id>.json``, or ``failed/<id>.txt``
    for one that raised) and add it to ``results``; returns how many failed."""
    n_failed = 0
    for res in finished:
        failed_file = out / "failed" / f"{res['id']}.txt"
        if "error" in res:
            n_failed += 1
            atomic_write(failed_file, json.dumps(res["meta"]) + "\n" + res["error"] + "\n")
            echo(f"cell {res['id']} failed ({res['error'].splitlines()[0][:200]}); "
                 "it will be retried on restart")
            continue
        atomic_write(out / "cells" / f"{res['id']}.json", json.dumps(res))
        failed_file.unlink(missing_ok=True)
        results[res["id"]] = res
        bar.cell_done(res)
    return n_failed


def finish_sweep(sweep: Sweep, out: Path, cells: list[dict], results: dict[str, dict],
                 report: bool = True) -> SweepResult:
    """Write the table, the per-configuration summary, the analysis and the report."""
    rows = normalise_columns(table_rows(cells, results))
    write_csv(out / "results.csv", rows)
    write_parquet(out / "results.parquet", rows)
    analysis = analyse(sweep, rows)
    crow = configs_csv_rows(analysis)
    if crow:
        write_csv(out / "configs.csv", crow)
    atomic_write(out / "analysis.json", to_json(analysis))
    html = None
    if report:
        from actscope.report.sweep_report import write_sweep_report  # deferred: matplotlib, only for a report

        html = write_sweep_report(sweep, analysis, out)
    return SweepResult(out, rows, analysis, len(cells), 0, 0, 0.0, html)
