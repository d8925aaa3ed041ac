"""The command line: parses, calls the library, prints. It holds no logic of its own.

Exit status: 0 success, 2 bad input or usage, 1 anything else. The last line a run prints
on stdout is the path of its run directory.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from actscope.errors import InputError


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


def _do_run(config, out, seeds, no_report, engine, quiet, rng=None) -> None:
    from actscope.cli.progress import TrainingProgress
    from actscope.config import load_spec, with_overrides
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
    _do_run(config, out, seeds, no_report, engine, quiet, rng)


@main.command()
@click.argument("preset", type=str)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Run directory to write.")
@click.option("--seeds", type=click.IntRange(min=1), help="Number of seeds per arm.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def reproduce(preset, out, seeds, quiet) -> None:
    """Reproduce a reference article: PRESET is one of the built-in presets."""
    from actscope.config import PRESETS_DIR, list_presets

    if preset in list_presets("sweep"):
        raise InputError(f"preset = {preset!r} is a sweep: run it with `actscope sweep {preset}`")
    if preset not in list_presets():
        raise InputError(f"preset = {preset!r}: not a built-in preset; known: {', '.join(list_presets())}")
    _do_run(PRESETS_DIR / f"{preset}.toml", out, seeds, False, None, quiet)


@main.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Run directory to write.")
def demo(out) -> None:
    """Reproduce the sigmoid-vs-relu article and print where its report is."""
    from actscope.config import PRESETS_DIR

    _do_run(PRESETS_DIR / "sigmoid-vs-relu.toml", out, None, False, None, False)


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
def report(run_dir) -> None:
    """Redraw the figures and report.html of RUN_DIR."""
    from actscope.pipeline import rewrite_report

    if not (run_dir / "metrics.json").is_file():
        raise InputError(f"run_dir = {str(run_dir)!r}: not a run directory (no metrics.json)")
    click.echo(str(rewrite_report(run_dir)))


@main.command()
def activations() -> None:
    """List the registered activations."""
    from actscope.activations import activation_table

    click.echo(activation_table())


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind (localhost only by default).")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(1, 65535),
              help="Port to listen on.")
def serve(host, port) -> None:
    """Start the playground: a live side-by-side comparison in the browser."""
    try:
        from actscope.serve.server import serve as run_server
    except ImportError as err:
        raise InputError(f"the playground needs the web extra ({err.name} is missing): "
                         "pip install 'actscope[serve]'") from None
    click.echo(f"actscope playground on http://{host}:{port}/  (Ctrl+C to stop)")
    run_server(host=host, port=port)


@main.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Sweep directory (default runs/<name>); the same directory resumes a sweep.")
@click.option("--executor", type=click.Choice(["inprocess", "processes", "ray"]), default="inprocess",
              show_default=True, help="Where cells run.")
@click.option("--workers", type=click.IntRange(min=1), help="Processes (or local Ray CPUs); implies "
              "--executor processes when no executor is named.")
@click.option("--address", type=str, help="Ray cluster address (with --executor ray).")
@click.option("--yes", is_flag=True, help="Run a grid of more than 10,000 cells.")
@click.option("--no-report", is_flag=True, help="Skip figures and report.html.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def sweep(ctx, config, out, executor, workers, address, yes, no_report, quiet) -> None:
    """Run the sweep described by CONFIG (a TOML file with a [sweep] table, or a preset name)."""
    from actscope.report.sweep_report import closing_note
    from actscope.sweep import load_sweep, run_sweep

    src = ctx.get_parameter_source("executor")
    if workers is not None and src is click.core.ParameterSource.DEFAULT:
        executor = "processes"
    if address is not None and executor != "ray":
        raise InputError(f"--address = {address!r}: only with --executor ray")
    spec = load_sweep(config)
    try:
        res = run_sweep(spec, out=out, executor=executor, workers=workers, address=address, yes=yes,
                        progress=not quiet, report=not no_report, echo=lambda m: click.echo(m, err=True))
    except KeyboardInterrupt:
        click.echo("interrupted: every finished cell is saved; run the same command again to resume",
                   err=True)
        sys.exit(130)
    click.echo(f"{res.n_run} cells run, {res.n_skipped} skipped (already finished), "
               f"{res.elapsed_s:.1f} s", err=True)
    for line in closing_note(res.analysis):
        click.echo(line)
    click.echo(str(res.path))
    if res.n_failed:
        _fail(f"{res.n_failed} cells failed (see {res.path / 'failed'}); run again to retry them", 1)


@main.group()
def theory() -> None:
    """Mean-field signal propagation (Poole et al. 2016, Schoenholz et al. 2017).

    Weights ~ N(0, σw²/fan_in), biases ~ N(0, σb²). An activation with no critical point
    in the searched σw² range is reported in one line with exit status 2.
    """


_ACT = click.option("--activation", required=True, help="A registered activation name.")
_SB2 = click.option("--sigma-b2", type=float, default=0.0, show_default=True, help="Bias variance σb².")


@theory.command("critical")
@_ACT
@_SB2
@click.option("--search", nargs=2, type=float, default=(0.01, 1000.0), show_default=True,
              help="The σw² range searched (low high).")
def theory_critical(activation, sigma_b2, search) -> None:
    """Print the critical σw² (χ₁ = 1): a plain number on the last line."""
    from actscope import theory as mft

    cp = mft.critical_point(activation, sigma_b2, tuple(search))
    click.echo(f"critical σw² of {activation} at σb² = {sigma_b2:g} (χ₁ = 1):")
    if cp.note():
        click.echo(cp.note())
    click.echo(f"{cp.sigma_w2:.10g}")


@theory.command("fixed-point")
@_ACT
@click.option("--sigma-w2", type=float, required=True, help="Weight variance σw² (times 1/fan_in).")
@_SB2
@click.option("--q0", type=float, default=1.0, show_default=True, help="Length the maps start from.")
def theory_fixed_point(activation, sigma_w2, sigma_b2, q0) -> None:
    """Print q*, c*, χ₁ (and the phase), χ_c, ξ_q and ξ_c."""
    from actscope import theory as mft

    click.echo("\n".join(mft.fixed_point(activation, sigma_w2, sigma_b2, q0).lines()))


@theory.command("diagram")
@_ACT
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Image to write [default: theory-diagram-ACTIVATION.png].")
@click.option("--sigma-w2", "mark_w2", type=float, help="Mark this point (with --sigma-b2).")
@_SB2
@click.option("--resolution", type=click.IntRange(min=4, max=400), default=50, show_default=True,
              help="Grid points along σw² (0.6 times as many along σb²).")
def theory_diagram(activation, out, mark_w2, sigma_b2, resolution) -> None:
    """Write the (σw², σb²) phase diagram, coloured by log χ₁, with the critical line."""
    from actscope import theory as mft
    from actscope.report.theory_figures import phase_diagram_figure, save_figure

    points = [] if mark_w2 is None else [(mark_w2, sigma_b2, f"σw² = {mark_w2:g}, σb² = {sigma_b2:g}")]
    d = mft.phase_diagram(activation, n_w=resolution, n_b=max(3, round(0.6 * resolution)),
                          include=[p[:2] for p in points])
    for b2, w2 in list(zip(d.critical_b2, d.critical_w2))[:: max(1, len(d.critical_b2) // 5)]:
        click.echo(f"σb² = {b2:.4g}: critical σw² = {w2:.6g}")
    click.echo(str(save_figure(phase_diagram_figure(d, points), out or f"theory-diagram-{activation}.png")))


@theory.command("propagate")
@_ACT
@click.option("--sigma-w2", type=float, required=True, help="Weight variance σw² (times 1/fan_in).")
@_SB2
@click.option("--depth", type=click.IntRange(min=1), default=30, show_default=True)
@click.option("--width", type=click.IntRange(min=2, max=5000), default=1000, show_default=True)
@click.option("--networks", type=click.IntRange(min=1), default=4, show_default=True,
              help="Random networks averaged.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Image to write [default: theory-propagate-ACTIVATION.png].")
def theory_propagate(activation, sigma_w2, sigma_b2, depth, width, networks, seed, out) -> None:
    """Predicted q^l and c^l against deep random networks: a table and a figure."""
    from actscope import theory as mft
    from actscope.report.theory_figures import propagation_figure, save_figure

    res = mft.propagate(activation, sigma_w2, sigma_b2, depth=depth, width=width,
                        n_networks=networks, seed=seed)
    click.echo("\n".join(res.fixed.lines()))
    click.echo(f"q0 = {res.q0[0]:g}, c0 = {res.c0[0]:g}; mean of {networks} networks:")
    click.echo(res.table())
    click.echo(str(save_figure(propagation_figure(res), out or f"theory-propagate-{activation}.png")))


if __name__ == "__main__":  # pragma: no cover
    main()
