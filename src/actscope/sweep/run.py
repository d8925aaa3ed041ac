"""Running a sweep: every unfinished cell, then the table, the analysis and the report.

The sweep directory (default ``runs/<name>``; the same command resumes it)::

    sweep.toml              the sweep as resolved
    cells/<id>.json         one finished cell (written atomically); <id> hashes its spec
    failed/<id>.json        a cell whose own work raised: its error; skipped on restart
                            unless ``retry_failed`` (``--retry-failed``)
    results.parquet|.csv    tidy: one row per cell and seed
    configs.csv             one row per arm configuration: naive and tuned rates, accuracy
    analysis.json           fair comparison, cheapest networks, measured latency
    figures/*.png, report.html

A cell lost to a system failure (its Ray worker or node died, after Ray's retries) is
neither finished nor failed: the next run of the same sweep runs it again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from actscope._util.atomic import atomic_write
from actscope._util.runlock import FolderLock, lock_folder
from actscope.config import register_custom_activations
from actscope.errors import InputError
from actscope.experiment.rundir import to_json
from actscope.sweep import display
from actscope.sweep.analysis import analyse, configs_csv_rows
from actscope.sweep.executors import check_executor, open_executor
from actscope.sweep.groups import expand, plan_units, run_unit
from actscope.sweep.plan import plan_cells
from actscope.sweep.progress import SweepProgress
from actscope.sweep.spec import Sweep, load_sweep
from actscope.sweep.tables import finished_cells, normalise_columns, table_rows, write_csv, write_parquet


@dataclass
class SweepResult:
    """What a sweep produced: its directory, the table and the analysis.

    ``n_failed`` counts the cells whose own work raised in this run, ``n_failed_before``
    those skipped because an earlier run recorded them failed, ``n_lost`` those lost to a
    system failure (run again on restart).
    """

    path: Path
    rows: list[dict]
    analysis: dict
    n_cells: int
    n_skipped: int
    n_run: int
    elapsed_s: float
    report: Path | None = None
    n_failed: int = 0
    n_failed_before: int = 0
    n_lost: int = 0

    @property
    def problem(self) -> str | None:
        """One line saying which cells did not finish and what to do, or None."""
        parts = []
        n_failed = self.n_failed + self.n_failed_before
        if n_failed:
            parts.append(f"{n_failed} cells failed (errors in {self.path / 'failed'}; skipped on "
                         "restart: --retry-failed runs them again)")
        if self.n_lost:
            parts.append(f"{self.n_lost} cells lost to system failures (a worker, node or memory "
                         "lost; every finished cell is saved: run the same command again to resume)")
        return "; ".join(parts) or None

    # notebooks (`sweep.display`): a one-line repr, an HTML view, the table as a DataFrame
    __repr__ = display.result_repr
    _repr_html_ = display.result_html
    results_frame = display.results_frame


def default_sweep_dir(name: str, root: str | Path = "runs") -> Path:
    """``runs/<name>``: no time stamp, so the same command resumes the same sweep."""
    return Path(root) / name


def failed_cells(out: Path) -> dict[str, dict]:
    """The cells recorded failed in ``out/failed`` (``{"id", "meta", "error"}`` each)."""
    failed = {}
    for p in sorted((out / "failed").glob("*.json")):
        try:
            rec = json.loads(p.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(rec, dict) and rec.get("id") == p.stem:
            failed[p.stem] = rec
    return failed


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
    retry_failed: bool = False,
) -> SweepResult:
    """Run every unfinished cell of ``sweep``, then write the table, analysis and report.

    Bad input is refused before any work, and before anything is written (the executor
    included: a Ray address is reached and checked first). Each cell's result is written
    atomically when it finishes; a KeyboardInterrupt propagates and loses no finished cell,
    and running the same sweep into the same directory again skips them (and says how many).
    A cell whose own work raised is recorded in ``failed/`` and skipped on restart unless
    ``retry_failed``.
    """
    if not isinstance(sweep, Sweep):
        sweep = load_sweep(sweep)
    check_executor(executor, workers, address)
    cells = plan_cells(sweep, yes=yes)
    out = Path(out) if out is not None else default_sweep_dir(sweep.name)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out = {str(out)!r}: exists and is not a directory")
    ids = {c["id"] for c in cells}
    results = {i: r for i, r in finished_cells(out).items() if i in ids}
    failed = {} if retry_failed else {i: r for i, r in failed_cells(out).items()
                                      if i in ids and i not in results}
    todo = [c for c in cells if c["id"] not in results and c["id"] not in failed]
    n_done = len(results)
    started = time.perf_counter()
    with open_executor(executor if todo else "inprocess", workers, address) as run:
        lock = claim_sweep_dir(out)
        try:
            register_custom_activations(sweep.base.activations)  # the sweep starts: its formulas
            atomic_write(out / "sweep.toml", sweep.to_toml())
            _say_skipped(out, len(cells), n_done, len(failed), echo)
            units = plan_units(todo)  # cells alone, or groups trained as one ensemble (groups.py)
            with SweepProgress(len(todo), enabled=progress) as bar:
                kwargs = {"progress": bar} if executor == "inprocess" else {}
                by_id = {u["id"]: u for u in units}
                finished = (r for res in run(run_unit, units, **kwargs) for r in expand(res, by_id))
                n_failed, n_lost = _record_cells(finished, out, results, bar, echo)
        finally:
            lock.release()
    elapsed = time.perf_counter() - started
    result = finish_sweep(sweep, out, cells, results, report=report)
    result.n_skipped, result.n_run, result.elapsed_s = n_done, len(todo) - n_failed - n_lost, elapsed
    result.n_failed, result.n_failed_before, result.n_lost = n_failed, len(failed), n_lost
    return result


def claim_sweep_dir(out: Path) -> FolderLock:
    """Create ``out`` and lock it for this process (one sweep writes a folder at a time)."""
    return lock_folder(out, "sweep")


def _say_skipped(out: Path, n_cells: int, n_done: int, n_failed: int, echo: Callable[[str], None]) -> None:
    if n_done:
        echo(f"resuming {out}: {n_done} of {n_cells} cells already finished, skipped")
    if n_failed:
        echo(f"{n_failed} cells failed in an earlier run, skipped (errors in {out / 'failed'}; "
             "--retry-failed runs them again)")


def _record_cells(finished, out: Path, results: dict[str, dict], bar: SweepProgress,
                  echo: Callable[[str], None]) -> tuple[int, int]:
    """Write each cell's result as it arrives (``cells/<id>.json``, or ``failed/<id>.json``
    for one whose work raised) and add it to ``results``; returns (failed, lost)."""
    n_failed = n_lost = 0
    for res in finished:
        failed_file = out / "failed" / f"{res['id']}.json"
        if "lost" in res:  # a system failure: not the cell's fault, run again on restart
            n_lost += 1
            continue
        if "error" in res:
            n_failed += 1
            atomic_write(failed_file, json.dumps(res) + "\n")
            echo(f"cell {res['id']} failed ({res['error'].splitlines()[0][:200]}); "
                 "skipped on restart unless --retry-failed")
            continue
        atomic_write(out / "cells" / f"{res['id']}.json", json.dumps(res))
        failed_file.unlink(missing_ok=True)
        results[res["id"]] = res
        bar.cell_done(res)
    return n_failed, n_lost


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
