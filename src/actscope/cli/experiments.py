"""Commands that run an experiment (run, reproduce, demo) or redraw a run's report."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from actscope._util.interrupt import interrupt_status
from actscope.cli.group import main
from actscope.cli.interop import MLFLOW_HELP, log_to_mlflow, open_tracking
from actscope.cli.logs import quieter
from actscope.cli.options import JSON, MAX_MEMORY, SET
from actscope.errors import input_error

log = logging.getLogger(__name__)

# The library loads inside each command (pydantic, NumPy, SciPy...), so that
# `actscope --help` loads click alone.


def run_and_print(config, out, seeds, no_report, engine, quiet, rng=None, max_memory=None,
                  sets=(), as_json=False) -> Path:
    """Run an experiment file with the command line's overrides; print each arm's test
    accuracy, the headline verdicts and, last, the run directory (or all of it as JSON)."""
    from actscope.cli.output import echo_json, run_lines, run_summary  # deferred, as every import below
    from actscope.cli.progress import TrainingProgress  # rich
    from actscope.config import with_overrides
    from actscope.config.against_data import check_from_spec
    from actscope.config.budget import limit_memory
    from actscope.config.overrides import load_spec_with
    from actscope.pipeline import run_experiment

    with limit_memory(max_memory):  # refuses a bad SIZE at once
        spec = load_spec_with(config, sets)
        if seeds is not None or engine is not None or rng is not None:
            spec = with_overrides(spec, seeds=seeds, engine=engine, rng=rng)
        check_from_spec(spec, source=str(config))  # again with the data's own shape once loaded
        with TrainingProgress(enabled=not quiet) as progress:
            run = run_experiment(spec, out=out, report=False if no_report else None,
                                 progress=False if quiet else progress)  # quiet: arms send nothing
    path = run.path
    assert path is not None  # the command line always writes a run directory
    has_report = (path / "report.html").is_file()
    summary = run_summary(run.metrics, path, path / "report.html" if has_report else None)
    if run.interrupted:
        log.warning("interrupted: the finished arms were saved")
        if not no_report and spec.report.enabled and not has_report:
            log.warning("the report was not drawn: `actscope report %s` draws it", path)
    if as_json:
        echo_json(summary)
    else:
        for line in run_lines(summary):
            click.echo(line)
        if has_report:
            click.echo(f"report: {path / 'report.html'}")
        click.echo(str(path))
    if run.interrupted:
        sys.exit(interrupt_status())
    return path


@main.command(short_help="Run an experiment (a TOML file or a preset).")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Run directory to write.")
@click.option("--seeds", type=click.IntRange(min=1),
              help="Number of seeds per arm (overrides [seeds] count).")
@click.option("--engine", type=str, help="Engine to train with (overrides [train] engine).")
@click.option("--rng", type=click.Choice(["default", "article"]),
              help="Random-number protocol (overrides [train] rng): 'default' draws independent "
                   "streams per seed, 'article' replays the first article's np.random.seed protocol.")
@click.option("--no-report", is_flag=True, help="Skip figures and report.html.")
@click.option("--quiet", is_flag=True, help="No progress bar, and only warnings on stderr.")
@MAX_MEMORY
@click.option("--mlflow", metavar="[URI]", is_flag=False, flag_value="", default=None, help=MLFLOW_HELP)
@SET
@JSON
def run(config, out, seeds, engine, rng, no_report, quiet, max_memory, mlflow, sets, as_json) -> None:
    """Run the experiment described by CONFIG (a TOML file or a preset name)."""
    quieter(quiet)
    tracker = open_tracking(mlflow)  # a bad URI or a missing extra: refused before any work
    path = run_and_print(config, out, seeds, no_report, engine, quiet or as_json, rng, max_memory,
                         sets, as_json)
    if tracker is not None:
        log_to_mlflow(tracker, path)


def _presets_help() -> str:
    """The built-in experiment presets, read from the presets folder without pydantic."""
    import tomllib
    from importlib.resources import files

    folder = files("actscope.config").joinpath("presets")
    names = sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")
                   and not {"sweep", "search"} & tomllib.loads(p.read_text(encoding="utf-8")).keys())
    return ", ".join(names)


class _ReproduceCommand(click.Command):
    """``reproduce --help`` names the presets (read when the help is shown, not at import)."""

    def format_help_text(self, ctx, formatter):
        super().format_help_text(ctx, formatter)
        with formatter.indentation():
            formatter.write_paragraph()
            formatter.write_text(f"Presets: {_presets_help()}.")


@main.command(cls=_ReproduceCommand, short_help="Reproduce a reference article (a preset).")
@click.argument("preset", type=str)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Run directory to write.")
@click.option("--seeds", type=click.IntRange(min=1), help="Number of seeds per arm.")
@click.option("--quiet", is_flag=True, help="No progress bar, and only warnings on stderr.")
@MAX_MEMORY
@SET
@JSON
def reproduce(preset, out, seeds, quiet, max_memory, sets, as_json) -> None:
    """Reproduce a reference article: PRESET is one of the built-in presets."""
    from actscope.config import PRESETS_DIR, list_presets  # deferred: pydantic

    quieter(quiet)

    if preset in list_presets("sweep"):
        raise input_error(None, "PRESET", preset, f"a sweep: run it with `actscope sweep {preset}`")
    if preset in list_presets("search"):
        raise input_error(None, "PRESET", preset, f"a search: run it with `actscope search {preset}`")
    if preset not in list_presets():
        raise input_error(None, "PRESET", preset,
                          f"not a built-in preset; known: {', '.join(list_presets())}")
    run_and_print(PRESETS_DIR / f"{preset}.toml", out, seeds, False, None, quiet or as_json,
                  max_memory=max_memory, sets=sets, as_json=as_json)


@main.command(short_help="Reproduce sigmoid-vs-relu; print its report.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Run directory to write.")
@MAX_MEMORY
def demo(out, max_memory) -> None:
    """Reproduce the sigmoid-vs-relu article and print where its report is."""
    from actscope.config import PRESETS_DIR  # deferred: pydantic

    run_and_print(PRESETS_DIR / "sigmoid-vs-relu.toml", out, None, False, None, False, max_memory=max_memory)


@main.command(short_help="Redraw the report of a run or a sweep folder.")
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
def report(run_dir) -> None:
    """Redraw the figures and report.html of RUN_DIR (a run directory or a sweep folder)."""
    if (Path(run_dir) / "sweep.toml").is_file():  # a sweep folder: its own report
        from actscope.cli.sweeps import redraw_sweep  # deferred: matplotlib

        click.echo(str(redraw_sweep(Path(run_dir))))
        return
    from actscope.pipeline import rewrite_report  # deferred: the whole library

    click.echo(str(rewrite_report(run_dir)))  # a damaged run directory: one line, exit 2


