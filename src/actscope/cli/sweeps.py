"""The ``sweep`` command: a grid of experiments, resumable."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from actscope.cli.experiments import MAX_MEMORY
from actscope.cli.group import fail, main
from actscope.errors import input_error


@main.command()
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
@click.option("--quiet", is_flag=True, help="No progress bar.")
@MAX_MEMORY
@click.pass_context
def sweep(ctx, config, out, executor, workers, address, yes, retry_failed, no_report, quiet,
          max_memory) -> None:
    """Run the sweep described by CONFIG (a TOML file with a [sweep] table, or a preset name)."""
    from actscope.config.budget import limit_memory  # deferred: pydantic
    from actscope.report.sweep_report import closing_note  # deferred: matplotlib
    from actscope.sweep import load_sweep, run_sweep  # deferred: pydantic, NumPy, ...
    from actscope.sweep.ray_cluster import ClusterLostError

    src = ctx.get_parameter_source("executor")
    if workers is not None and src is click.core.ParameterSource.DEFAULT:
        executor = "processes"
    if address is not None and executor != "ray":
        raise input_error(None, "--address", address, "only with --executor ray")
    with limit_memory(max_memory):  # each cell's estimate is checked when the grid is planned
        spec = load_sweep(config)
        try:
            res = run_sweep(spec, out=out, executor=executor, workers=workers, address=address, yes=yes,
                            progress=not quiet, report=not no_report, echo=lambda m: click.echo(m, err=True),
                            retry_failed=retry_failed)
        except ClusterLostError as err:
            fail(str(err), 1)
        except KeyboardInterrupt:
            click.echo("interrupted: every finished cell is saved; run the same command again to resume",
                       err=True)
            sys.exit(130)
    click.echo(f"{res.n_run} cells run, {res.n_skipped} skipped (already finished), "
               f"{res.elapsed_s:.1f} s", err=True)
    for line in closing_note(res.analysis):
        click.echo(line)
    click.echo(str(res.path))
    if res.problem:
        fail(res.problem, 1)
