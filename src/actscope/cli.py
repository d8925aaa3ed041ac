"""The command line: parses, calls the library, prints. It holds no logic of its own.

Exit status: 0 success, 2 bad input or usage, 1 anything else. The last line a run prints
on stdout is the path of its run directory.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .errors import InputError


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


class Group(click.Group):
    """Turns InputError into one line and exit status 2, anywhere below."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except InputError as err:
            _fail(str(err), 2)


@click.group(cls=Group)
@click.version_option(package_name="actscope")
def main() -> None:
    """actscope: a laboratory for activation functions."""


def _do_run(config, out, seeds, no_report, engine, quiet) -> None:
    from .config import load_spec
    from .experiment import with_overrides
    from .pipeline import run_experiment
    from .progress import TrainingProgress

    spec = load_spec(config)
    if seeds is not None or engine is not None:
        spec = with_overrides(spec, seeds=seeds, engine=engine)
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
    if run.interrupted:
        click.echo("interrupted: the finished arms were saved", err=True)
    click.echo(str(run.path))
    if run.interrupted:
        sys.exit(130)


@main.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Run directory to write.")
@click.option("--seeds", type=click.IntRange(min=1), help="Number of seeds per arm (overrides [seeds] count).")
@click.option("--engine", type=str, help="Engine to train with (overrides [train] engine).")
@click.option("--no-report", is_flag=True, help="Skip figures and report.html.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def run(config, out, seeds, engine, no_report, quiet) -> None:
    """Run the experiment described by CONFIG (a TOML file or a preset name)."""
    _do_run(config, out, seeds, no_report, engine, quiet)


@main.command()
@click.argument("preset", type=str)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Run directory to write.")
@click.option("--seeds", type=click.IntRange(min=1), help="Number of seeds per arm.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def reproduce(preset, out, seeds, quiet) -> None:
    """Reproduce a reference article: PRESET is one of the built-in presets."""
    from .config import PRESETS_DIR, list_presets

    if preset not in list_presets():
        raise InputError(f"preset = {preset!r}: not a built-in preset; known: {', '.join(list_presets())}")
    _do_run(PRESETS_DIR / f"{preset}.toml", out, seeds, False, None, quiet)


@main.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Run directory to write.")
def demo(out) -> None:
    """Reproduce the sigmoid-vs-relu article and print where its report is."""
    from .config import PRESETS_DIR

    _do_run(PRESETS_DIR / "sigmoid-vs-relu.toml", out, None, False, None, False)


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
def report(run_dir) -> None:
    """Redraw the figures and report.html of RUN_DIR."""
    from .pipeline import rewrite_report

    if not (run_dir / "metrics.json").is_file():
        raise InputError(f"run_dir = {str(run_dir)!r}: not a run directory (no metrics.json)")
    click.echo(str(rewrite_report(run_dir)))


@main.command()
def activations() -> None:
    """List the registered activations."""
    from .activations import activation_table

    click.echo(activation_table())


if __name__ == "__main__":  # pragma: no cover
    main()
