"""The ``sweep`` command: a grid of experiments, resumable."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from actscope._util.interrupt import interrupt_status
from actscope.cli.group import fail, main
from actscope.cli.logs import quieter
from actscope.cli.options import JSON, MAX_MEMORY, SET
from actscope.errors import input_error

log = logging.getLogger(__name__)
NO_PARQUET = ("results.parquet was skipped: pyarrow is not installed (pip install 'actscope[sweep]'); "
              "results.csv holds the same table")


def load_sweep_with(config, sets):
    """The sweep CONFIG names, with ``--set`` applied (``sweep.*`` fields included) before
    it is validated."""
    from actscope.config import load_toml, resolve_config_path  # deferred: pydantic
    from actscope.config.overrides import apply_sets, name_the_set
    from actscope.errors import InputError
    from actscope.sweep.spec import SweepTable, parse_sweep

    p = resolve_config_path(config)
    data = load_toml(p)
    if sets:
        data = apply_sets(data, sets, sections={"sweep": SweepTable})
    try:
        return parse_sweep(data, source=str(p))
    except InputError as err:
        raise name_the_set(err, str(p), sets) from None


def redraw_sweep(folder: Path) -> Path:
    """Redraw the figures and report.html of a sweep folder from its sweep.toml and table."""
    from actscope.report.sweep_report import write_sweep_report  # deferred: matplotlib
    from actscope.sweep import load_sweep
    from actscope.sweep.analysis import analyse
    from actscope.sweep.tables import read_table

    if not (folder / "results.csv").is_file() and not (folder / "results.parquet").is_file():
        raise input_error(None, "RUN_DIR", str(folder), "a sweep folder with no results table yet: "
                          "run the sweep (the same --out resumes it)")
    sweep = load_sweep(folder / "sweep.toml")
    return write_sweep_report(sweep, analyse(sweep, read_table(folder)), folder)


@main.command(short_help="Run a sweep: a grid of experiments, resumable.")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Sweep directory (default runs/<name>); the same directory resumes a sweep.")
@click.option("--executor", type=click.Choice(["inprocess", "processes", "ray"]), default="inprocess",
              show_default=True, help="Where cells run.")
@click.option("--workers", type=click.IntRange(min=1), help="Processes; with Ray the most cells running "
              "at once (and a local Ray's CPUs); implies --executor processes when no executor is named.")
@click.option("--address", type=str, help="Ray cluster address (with --executor ray; default $RAY_ADDRESS, "
              "else a local Ray); every node needs actscope's dependencies.")
@click.option("--yes", is_flag=True, help="Run a grid of more than 10,000 cells.")
@click.option("--retry-failed", is_flag=True, help="Run again the cells an earlier run recorded failed.")
@click.option("--no-report", is_flag=True, help="Skip figures and report.html.")
@click.option("--quiet", is_flag=True, help="No progress bar, and only warnings on stderr.")
@MAX_MEMORY
@SET
@JSON
@click.pass_context
def sweep(ctx, config, out, executor, workers, address, yes, retry_failed, no_report, quiet,
          max_memory, sets, as_json) -> None:
    """Run the sweep described by CONFIG (a TOML file with a [sweep] table, or a preset name)."""
    from actscope.cli.output import echo_json
    from actscope.config.budget import limit_memory  # deferred: pydantic
    from actscope.report.sweep_report import closing_note  # deferred: matplotlib
    from actscope.sweep import run_sweep  # deferred: pydantic, NumPy, ...
    from actscope.sweep.ray_cluster import ClusterLostError

    quieter(quiet)
    src = ctx.get_parameter_source("executor")
    if workers is not None and src is click.core.ParameterSource.DEFAULT:
        executor = "processes"
    if address is not None and executor != "ray":
        raise input_error(None, "--address", address, "only with --executor ray")
    with limit_memory(max_memory):  # each cell's estimate is checked when the grid is planned
        spec = load_sweep_with(config, sets)
        try:
            res = run_sweep(spec, out=out, executor=executor, workers=workers, address=address, yes=yes,
                            progress=not (quiet or as_json), report=not no_report, echo=log.info,
                            retry_failed=retry_failed)
        except ClusterLostError as err:
            fail(str(err), 1)
        except KeyboardInterrupt:
            log.warning("interrupted: every finished cell is saved; run the same command again to resume")
            sys.exit(interrupt_status())
    log.info("%d cells run, %d skipped (already finished), %.1f s", res.n_run, res.n_skipped, res.elapsed_s)
    has_parquet = (res.path / "results.parquet").is_file()
    if not has_parquet:
        log.info(NO_PARQUET)
    if as_json:
        echo_json(sweep_summary(res, has_parquet))
    else:
        for line in closing_note(res.analysis):
            click.echo(line)
        if res.report is not None:
            click.echo(f"report: {res.report}")
        click.echo(str(res.path))
    if res.problem:
        fail(res.problem, 1)


def sweep_summary(res, has_parquet: bool) -> dict:
    """What ``sweep --json`` prints: the folder, its report and tables, and the cell counts."""
    return {"sweep_dir": str(res.path), "report": None if res.report is None else str(res.report),
            "results": [str(res.path / n) for n in ("results.csv", "results.parquet")
                        if n == "results.csv" or has_parquet],
            "cells": res.n_cells, "run": res.n_run, "skipped": res.n_skipped,
            "failed": res.n_failed + res.n_failed_before, "lost": res.n_lost,
            "elapsed_s": round(res.elapsed_s, 3), "problem": res.problem}
