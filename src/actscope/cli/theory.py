"""The ``theory`` commands: mean-field signal propagation from the command line."""

from __future__ import annotations

from pathlib import Path

import click

from actscope.cli.group import main
from actscope.cli.options import JSON

# The library loads inside each command (pydantic, NumPy, SciPy...), so that
# `actscope --help` loads click alone.


@main.group(short_help="Mean-field theory of signal propagation.")
def theory() -> None:
    """Mean-field signal propagation (Poole et al. 2016, Schoenholz et al. 2017).

    Weights ~ N(0, σw²/fan_in), biases ~ N(0, σb²). χ₁ and the phase are taken at the
    lowest stable fixed point of the length map (Hayou et al. 2019 define the edge of
    chaos at a stable fixed point); every fixed point is listed by fixed-point. An
    activation with no critical point in the searched σw² range is reported in one line
    with exit status 2.
    """


_ACT = click.option("--activation", required=True, help="A registered activation name.")
_SB2 = click.option("--sigma-b2", type=float, default=0.0, show_default=True, help="Bias variance σb².")


@theory.command("critical")
@_ACT
@_SB2
@click.option("--search", nargs=2, type=float, default=(0.01, 1000.0), show_default=True,
              help="The σw² range searched (low high).")
@JSON
def theory_critical(activation, sigma_b2, search, as_json) -> None:
    """Print the critical σw² (χ₁ = 1): a plain number on the last line."""
    from actscope import theory as mft  # deferred: SciPy

    cp = mft.critical_point(activation, sigma_b2, tuple(search))
    if as_json:
        return _echo_dataclass(cp, note=cp.note())
    click.echo(f"critical σw² of {activation} at σb² = {sigma_b2:g} (χ₁ = 1 at the lowest stable "
               f"fixed point of the length map, q* = {cp.q_star:.6g}):")
    if cp.note():
        click.echo(cp.note())
    click.echo(f"{cp.sigma_w2:.10g}")


@theory.command("fixed-point")
@_ACT
@click.option("--sigma-w2", type=float, required=True, help="Weight variance σw² (times 1/fan_in).")
@_SB2
@click.option("--q0", type=float, default=0.0, show_default=True,
              help="Length the maps start from; 0: the lowest stable fixed point.")
@JSON
def theory_fixed_point(activation, sigma_w2, sigma_b2, q0, as_json) -> None:
    """Print q*, c*, χ₁ (and the phase), χ_c, ξ_q and ξ_c, then every fixed point of the
    length map with its stability (|slope| < 1) and χ₁."""
    from actscope import theory as mft  # deferred: SciPy

    fp = mft.fixed_point(activation, sigma_w2, sigma_b2, q0)
    if as_json:
        return _echo_dataclass(fp)
    click.echo("\n".join(fp.lines()))


def _echo_dataclass(obj, **extra) -> None:
    """A theory result as one JSON document (its fields; NaN and infinities as null)."""
    import dataclasses

    from actscope.cli.output import echo_json

    echo_json({**dataclasses.asdict(obj), **extra})


def _figure_line(path) -> str:
    """Where a figure went, as an absolute path (the default is the current folder)."""
    return f"figure: {Path(path).absolute()}"


@theory.command("diagram")
@_ACT
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Image to write [default: theory-diagram-ACTIVATION.png in the current folder].")
@click.option("--sigma-w2", "mark_w2", type=float, help="Mark this point (with --sigma-b2).")
@_SB2
@click.option("--resolution", type=click.IntRange(min=4, max=400), default=50, show_default=True,
              help="Grid points along σw² (0.6 times as many along σb²).")
def theory_diagram(activation, out, mark_w2, sigma_b2, resolution) -> None:
    """Write the (σw², σb²) phase diagram, coloured by log χ₁, with the critical line."""
    from actscope import theory as mft  # deferred: SciPy
    from actscope.report.theory_figures import phase_diagram_figure, save_figure  # deferred: matplotlib

    points = [] if mark_w2 is None else [(mark_w2, sigma_b2, f"σw² = {mark_w2:g}, σb² = {sigma_b2:g}")]
    d = mft.phase_diagram(activation, n_w=resolution, n_b=max(3, round(0.6 * resolution)),
                          include=[p[:2] for p in points])
    for b2, w2 in list(zip(d.critical_b2, d.critical_w2))[:: max(1, len(d.critical_b2) // 5)]:
        click.echo(f"σb² = {b2:.4g}: critical σw² = {w2:.6g}")
    fig = phase_diagram_figure(d, points)
    click.echo(_figure_line(save_figure(fig, out or f"theory-diagram-{activation}.png")))


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
              help="Image to write [default: theory-propagate-ACTIVATION.png in the current folder].")
def theory_propagate(activation, sigma_w2, sigma_b2, depth, width, networks, seed, out) -> None:
    """Predicted q^l and c^l against deep random networks: a table, and a figure whose path
    is the last line printed."""
    from actscope import theory as mft  # deferred: SciPy
    from actscope.report.theory_figures import propagation_figure, save_figure  # deferred: matplotlib

    res = mft.propagate(activation, sigma_w2, sigma_b2, depth=depth, width=width,
                        n_networks=networks, seed=seed)
    if res.fixed is not None:  # propagate always sets it
        click.echo("\n".join(res.fixed.lines()))
    click.echo(f"q0 = {res.q0[0]:g}, c0 = {res.c0[0]:g}; mean of {networks} networks:")
    click.echo(res.table())
    fig = propagation_figure(res)
    click.echo(_figure_line(save_figure(fig, out or f"theory-propagate-{activation}.png")))
