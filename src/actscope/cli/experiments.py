"""Commands that run an experiment (run, reproduce, demo) or redraw a run's report."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from actscope.cli.group import main
from actscope.errors import InputError

# The library loads inside each command (pydantic, NumPy, SciPy...), so that
# `actscope --help` loads click alone.


def run_and_print(config, out, seeds, no_report, engine, quiet, rng=None) -> None:
    """Run an experiment file with the command line's overrides; print each arm's test
    accuracy, the headline verdicts and, last, the run directory."""
    from actscope.cli.progress import TrainingProgress  # deferred: rich
    from actscope.config import load_spec, with_overrides  # deferred, as every import below
    from actscope.pipeline import run_experiment

    spec = load_spec(config)
    if seeds is not None or engine is not None or rng is not None:
        spec = with_overrides(spec, seeds=seeds, engine=engine, rng=rng)
    if out is not None and Path(out).exists() and any(Path(out).iterdir()):
        raise InputError(f"--out = {out!r}: the directory exists and is not empty")
    with TrainingProgress(enabled=not quiet) as progress:
        run = run_experiment(spec, out=out, report=False if no_report else None, progress=progress)
    for name, arm in run.metrics["arms"].items():
        s = arm["summary"]["test_accuracy"]
        ci = s.get("ci95")
        ci_txt = f"  95% CI [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""
        fl = arm["summary"].get("final_train_loss", {}).get("mean")
        fl_txt = f"  final train loss {fl:.4f}" if fl is not None else ""
        mean = s.get("mean")
        acc_txt = "n/a" if mean is None else f"{mean:.4f}"
        click.echo(f"{name:<12} test accuracy {acc_txt} (n={s['n']}){ci_txt}{fl_txt}")
    for c in run.metrics.get("comparisons", []):  # the headline verdicts (all in the report)
        if c["metric"] == "test_accuracy":
            click.echo(c["verdict"])
    has_report = (run.path / "report.html").is_file()
    if run.interrupted:
        click.echo("interrupted: the finished arms were saved", err=True)
        if not no_report and spec.report.enabled and not has_report:
            click.echo(f"the report was not drawn: `actscope report {run.path}` draws it", err=True)
    if has_report:
        click.echo(f"report: {run.path / 'report.html'}")
    click.echo(str(run.path))
    if run.interrupted:
        sys.exit(130)


@main.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Run directory to write.")
@click.option("--seeds", type=click.IntRange(min=1),
              help="Number of seeds per arm (overrides [seeds] count).")
@click.option("--engine", type=str, help="Engine to train with (overrides [train] engine).")
@click.option("--rng", type=click.Choice(["default", "article"]),
              help="Random-number protocol (overrides [train] rng): 'default' draws independent "
                   "streams per seed, 'article' replays the first article's np.random.seed protocol.")
@click.option("--no-report", is_flag=True, help="Skip figures and report.html.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def run(config, out, seeds, engine, rng, no_report, quiet) -> None:
    """Run the experiment described by CONFIG (a TOML file or a preset name)."""
    run_and_print(config, out, seeds, no_report, engine, quiet, rng)


@main.command()
@click.argument("preset", type=str)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Run directory to write.")
@click.option("--seeds", type=click.IntRange(min=1), help="Number of seeds per arm.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def reproduce(preset, out, seeds, quiet) -> None:
    """Reproduce a reference article: PRESET is one of the built-in presets."""
    from actscope.config import PRESETS_DIR, list_presets  # deferred: pydantic

    if preset in list_presets("sweep"):
        raise InputError(f"preset = {preset!r} is a sweep: run it with `actscope sweep {preset}`")
    if preset not in list_presets():
        raise InputError(f"preset = {preset!r}: not a built-in preset; known: {', '.join(list_presets())}")
    run_and_print(PRESETS_DIR / f"{preset}.toml", out, seeds, False, None, quiet)


@main.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Run directory to write.")
def demo(out) -> None:
    """Reproduce the sigmoid-vs-relu article and print where its report is."""
    from actscope.config import PRESETS_DIR  # deferred: pydantic

    run_and_print(PRESETS_DIR / "sigmoid-vs-relu.toml", out, None, False, None, False)


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
def report(run_dir) -> None:
    """Redraw the figures and report.html of RUN_DIR."""
    from actscope.pipeline import rewrite_report  # deferred: the whole library

    if not (run_dir / "metrics.json").is_file():
        raise InputError(f"run_dir = {str(run_dir)!r}: not a run directory (no metrics.json)")
    click.echo(str(rewrite_report(run_dir)))


