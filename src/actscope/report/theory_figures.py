"""Figures of the mean-field theory (``actscope.theory``): they draw, theory computes.

- `phase_diagram_figure`: log χ₁ over (σw², σb²) with the critical line, and points on it.
- `propagation_figure`: predicted against measured q^l and c^l of deep random networks.
- `init_phase_figure` / `init_phase_section`: where an experiment's initialisation sits
  in the phase diagram of each of its activations (registered in the run report).
"""

from __future__ import annotations

import html
import math
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from markupsafe import Markup
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from actscope import theory
from actscope._util.atomic import atomic_path
from actscope.experiment.arms import arm_model
from actscope.experiment.rundir import Run
from actscope.nn.meanfield import InitPoint, init_points
from actscope.report.html import add_figure, add_section
from actscope.report.layout import outside_legend, panel_grid
from actscope.report.style import CYCLE, MUTED, RC, TEXT, arm_colors, write_figure

_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]


_NICE_CHI = np.array([1.1, 1.25, 1.5, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1e3, 1e4, 1e5, 1e6])


def _colour_scale(log_chi1: np.ndarray) -> tuple[float, list[float]]:
    """A range symmetric about log χ₁ = 0 (the critical value) holding the data, and
    colourbar ticks on both sides of it: 1, and up to three χ₁ and 1/χ₁ values each side."""
    finite = np.abs(log_chi1[np.isfinite(log_chi1)])
    top = max(float(finite.max()) if finite.size else 0.0, math.log(1.25))
    nice = np.log(_NICE_CHI[np.log(_NICE_CHI) <= top * (1 + 1e-9)])
    side = sorted({float(nice[np.argmin(np.abs(nice - f * top))]) for f in (1 / 3, 2 / 3, 1.0)})
    return top, [-t for t in side[::-1]] + [0.0] + side


def _chi_label(v: float, _pos=None) -> str:
    chi = math.exp(v)
    return "1" if abs(v) < 1e-12 else f"{chi:.3g}" if chi >= 1 else f"{chi:.2g}"


def _draw_diagram(ax, d: theory.PhaseDiagram, points=(), colors=None) -> object:
    """log χ₁ as smooth colour (Gouraud-shaded between grid nodes; red chaotic, blue
    ordered, symmetric about χ₁ = 1), the critical line in black, ``points`` as markers
    kept inside the axes by a margin (σb² = 0 is the grid's bottom edge), coloured by
    ``colors`` (one per point) or a cycle."""
    top, _ = _colour_scale(d.log_chi1)
    shown = np.clip(np.nan_to_num(d.log_chi1, nan=0.0, posinf=top, neginf=-top), -top, top)
    mesh = ax.pcolormesh(d.sigma_w2, d.sigma_b2, shown, shading="gouraud", cmap="RdBu_r",
                         norm=Normalize(-top, top), rasterized=True)
    ok = np.isfinite(d.critical_w2)
    if ok.any():
        ax.plot(d.critical_w2[ok], d.critical_b2[ok], color="black", lw=2.2,
                label="critical line (χ₁ = 1 at the lowest stable q*)")
    jump = ok & ~(d.critical_continuous if d.critical_continuous is not None else ok)
    if jump.any():
        ax.plot(d.critical_w2[jump], d.critical_b2[jump], "x", color="#f4a261", ms=7, mew=2,
                label="χ₁ jumps across 1 (that q* vanishes)")
    for i, (w2, b2, label) in enumerate(points):
        color = colors[i] if colors is not None else CYCLE[i % len(CYCLE)]
        ax.plot([w2], [b2], _MARKERS[i % len(_MARKERS)], color=color, ms=10,
                mec="white", mew=1.5, label=label, clip_on=False, zorder=5)
    log_x = d.sigma_w2.max() > 10 * d.sigma_w2.min()  # a geometric grid (theory.phase_diagram)
    if log_x:
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlim(*_padded(d.sigma_w2.min(), d.sigma_w2.max(), log_x))
    ax.set_ylim(*_padded(d.sigma_b2.min(), d.sigma_b2.max(), False))
    ax.set_facecolor("#e6e6e6")  # the margin outside the computed grid
    ax.set_xlabel("σw²  (weights ~ N(0, σw²/fan_in))", color=MUTED)
    ax.set_ylabel("σb²  (biases ~ N(0, σb²))", color=MUTED)
    box = dict(boxstyle="round,pad=0.25", fc="white", ec="none", alpha=0.8)
    ax.text(0.03, 0.95, "ordered", transform=ax.transAxes, color="#1f4e9c", fontsize=11, va="top",
            bbox=box)
    ax.text(0.97, 0.95, "chaotic", transform=ax.transAxes, color="#a11d21", fontsize=11, va="top",
            ha="right", bbox=box)
    ax.grid(False)
    return mesh


MARGIN = 0.05   # of the axis span, around the grid: markers on its edge stay whole


def _padded(lo: float, hi: float, log: bool) -> tuple[float, float]:
    if log:
        a, b = math.log(lo), math.log(hi)
        return math.exp(a - MARGIN * (b - a)), math.exp(b + MARGIN * (b - a))
    span = (hi - lo) or 1.0
    return lo - MARGIN * span, hi + MARGIN * span


def _colourbar(fig: Figure, mesh, ax, d: theory.PhaseDiagram, label: str):
    """A colourbar over the whole symmetric range, ticked on both sides of χ₁ = 1."""
    _, ticks = _colour_scale(d.log_chi1)
    cb = fig.colorbar(mesh, ax=ax, label=label, ticks=ticks)
    cb.ax.yaxis.set_major_formatter(FuncFormatter(_chi_label))
    return cb


def phase_diagram_figure(diagram: theory.PhaseDiagram, points=()) -> Figure:
    """The (σw², σb²) phase diagram of one activation; ``points``: (σw², σb², label)."""
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(8, 5.5), layout="constrained")
        mesh = _draw_diagram(ax, diagram, points)
        _colourbar(fig, mesh, ax, diagram, "χ₁ = σw² E[φ'(√q* z)²]  (log scale)")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(0.0, -0.14), ncol=2, frameon=False)
        ax.set_title(f"{diagram.activation}: order-to-chaos phase diagram (mean-field theory)",
                     color=TEXT, fontsize=12)
    return fig


def propagation_figure(result: theory.Propagation) -> Figure:
    """q^l and c^l layer by layer: theory (lines) against random networks (markers, ±1 sd)."""
    layers = np.arange(1, result.depth + 1)
    with plt.rc_context(RC):
        fig, (axq, axc) = plt.subplots(1, 2, figsize=(13, 5))
        for i, q0 in enumerate(result.q0):
            col = CYCLE[i % len(CYCLE)]
            axq.plot(layers, result.q_pred[i], "-", color=col, lw=2, label=f"theory, q⁰ = {q0:g}")
            axq.errorbar(layers, result.q_meas[i], yerr=result.q_meas_std[i], fmt="o", color=col,
                         ms=4, capsize=2, label=f"measured, q⁰ = {q0:g}")
        fp = result.fixed
        if fp is not None and fp.bounded:
            axq.axhline(fp.q_star, color=MUTED, ls=":", lw=1, label=f"q* = {fp.q_star:.4g}")
        axq.set_xlabel("layer l", color=MUTED)
        axq.set_ylabel("q^l = mean squared pre-activation", color=MUTED)
        axq.set_title("length map", color=TEXT)
        axq.legend(fontsize=8)
        for i, c0 in enumerate(result.c0):
            col = CYCLE[(i + 3) % len(CYCLE)]
            axc.plot(layers, result.c_pred[i], "-", color=col, lw=2, label=f"theory, c⁰ = {c0:g}")
            axc.errorbar(layers, result.c_meas[i], yerr=result.c_meas_std[i], fmt="o", color=col,
                         ms=4, capsize=2, label=f"measured, c⁰ = {c0:g}")
        if fp is not None and math.isfinite(fp.c_star):
            axc.axhline(fp.c_star, color=MUTED, ls=":", lw=1, label=f"c* = {fp.c_star:.4g}")
        axc.set_xlabel("layer l", color=MUTED)
        axc.set_ylabel("c^l = correlation of two inputs' pre-activations", color=MUTED)
        axc.set_title("correlation map", color=TEXT)
        axc.legend(fontsize=8)
        phase = f", {fp.phase} (χ₁ = {fp.chi1:.3f})" if fp is not None else ""
        fig.suptitle(f"{result.activation}, σw² = {result.sigma_w2:g}, σb² = {result.sigma_b2:g}{phase}: "
                     f"{result.n_networks} random networks of width {result.width}", color=TEXT)
        fig.tight_layout()
    return fig


def save_figure(fig: Figure, path: str | Path, dpi: int = 110) -> Path:
    """Write ``fig`` to ``path`` (format from the suffix) atomically; close it."""
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            write_figure(fig, tmp, dpi, bbox_inches="tight", format=path.suffix.lstrip(".") or "png")
    finally:
        plt.close(fig)
    return path


def experiment_init_points(run: Run) -> list[InitPoint]:
    """`init_points` of every arm of a Run (or anything with ``.arms`` of ArmResults)."""
    return [p for name, arm in run.arms.items() for p in init_points(arm.mlp, name)]


def _by_activation(points: list[InitPoint]) -> dict[str, list[tuple[float, float, str]]]:
    """Distinct (σw², σb², label) per activation, layers of an arm merged."""
    out: dict[str, dict[tuple, list]] = {}
    for p in points:
        key = (p.point.sigma_w2, p.point.sigma_b2, p.arm)
        out.setdefault(p.activation, {}).setdefault(key, []).append(p.layer)
    return {act: [(w2, b2, f"{arm} ({_layers(ls)})") for (w2, b2, arm), ls in d.items()]
            for act, d in out.items()}


def _layers(ls: list[int]) -> str:
    return f"layer {ls[0]}" if len(ls) == 1 else f"layers {min(ls)}-{max(ls)}"


def init_phase_figure(run: Run) -> Figure | None:
    """One phase diagram per activation of the run, with each arm's initialisation, in a
    grid of 3 to 4 columns (`report.layout`), the legend below the panels."""
    groups = _by_activation(experiment_init_points(run))
    if not groups:
        return None
    spec = getattr(run, "spec", None)
    dpi = spec.report.dpi if spec is not None else 110
    with plt.rc_context(RC):
        fig, axes = panel_grid(len(groups), dpi, cell_px=(520, 400), extra_px=(0, 150), max_cols=3)
        colors = arm_colors(list(run.arms))
        for ax, (act, pts) in zip(axes, groups.items()):
            d = _init_diagram(act, tuple((w, b) for w, b, _ in pts))
            mesh = _draw_diagram(ax, d, pts, [colors[label.rsplit(" (", 1)[0]] for _, _, label in pts])
            _colourbar(fig, mesh, ax, d, "χ₁ (log scale)")
            ax.set_title(f"{act}", color=TEXT, fontsize=12)
        outside_legend(fig, where="bottom")
        fig.suptitle("Where each arm's initialisation sits in the mean-field phase diagram",
                     color=TEXT, fontsize=12)
    return fig


INIT_GRID = (40, 16)   # (σw², σb²) nodes of the report's diagrams, shaded smoothly between


@lru_cache(maxsize=16)
def _init_diagram(activation: str, include: tuple[tuple[float, float], ...]) -> theory.PhaseDiagram:
    """The phase diagram of ``init_phase_figure`` (its quadrature is most of its cost)."""
    return theory.phase_diagram(activation, n_w=INIT_GRID[0], n_b=INIT_GRID[1], include=include,
                                rtol=1e-4)  # a line 1e-4 off is the same line on screen


def prepare_init_phase(spec) -> None:
    """Compute the diagrams of ``spec``'s arms before the run exists. The arms are modelled
    on 2-D data, whose first layer sits where it does on any data for the usual inits; where
    a run's points differ, its figure computes the diagram it lacks."""
    shape: Any = SimpleNamespace(n_features=2, n_classes=2)  # what arm_model reads of a Dataset
    points = [p for arm in spec.arms for p in init_points(arm_model(spec, arm, shape), arm.name)]
    for act, pts in _by_activation(points).items():
        _init_diagram(act, tuple((w, b) for w, b, _ in pts))


def _num(v: float) -> str:
    return "inf" if math.isinf(v) else f"{v:.4g}"


def _other_stable(f: theory.FixedPoint) -> str:
    """The stable fixed points besides q*, for the table: '' where there are none."""
    others = [r for r in f.stable_roots if not r.q == f.q_star]
    return "; ".join(("q* = inf" if math.isinf(r.q) else f"q* = {r.q:.4g}") + f" (χ₁ = {r.chi1:.3g})"
                     for r in others)


def init_phase_section(run: Run) -> Markup | None:
    """HTML table: per arm and hidden layer, (σw², σb²), q*, χ₁, phase and ξ_c at the lowest
    stable fixed point, and the other stable fixed points where the length map has several."""
    points = experiment_init_points(run)
    if not points:
        return None
    rows, seen = [], dict[tuple, list]()
    for p in points:
        seen.setdefault((p.arm, p.activation, p.point.sigma_w2, p.point.sigma_b2), []).append(p)
    for (arm, act, _, _), ps in seen.items():
        f = ps[0].point
        cells = [arm, _layers([p.layer for p in ps]), act, ps[0].init, _num(f.sigma_w2),
                 _num(f.sigma_b2), _num(f.q_star), _num(f.chi1), f.phase, _num(f.xi_c),
                 _other_stable(f) or "none"]
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    head = ("<tr><th>arm</th><th>hidden</th><th>activation</th><th>init</th><th>σw²</th><th>σb²</th>"
            "<th>q*</th><th>χ₁</th><th>phase</th><th>ξ_c</th><th>other stable q*</th></tr>")
    note = ("<p class=\"note\">Mean-field theory of wide random networks (Poole et al. 2016, "
            "Schoenholz et al. 2017): with weights ~ N(0, σw²/fan_in) and biases ~ N(0, σb²), "
            "χ₁ &lt; 1 is the ordered phase (inputs' correlations go to 1, gradients vanish), "
            "χ₁ &gt; 1 the chaotic one; ξ_c is the depth over which correlations can be told apart. "
            "q*, χ₁ and the phase are those of the lowest stable fixed point of the length map, "
            "where the critical line is defined (Hayou et al. 2019); where the map has other "
            "stable fixed points, inputs long enough reach those instead. "
            "The first layer sees the data, so for it these are a guide only.</p>")
    return Markup(f"{note}<table>{head}{''.join(rows)}</table>")


add_figure("theory_phase_diagram", init_phase_figure, heavy=True, prepare=prepare_init_phase,
           from_arms=True)
add_section("Signal propagation (mean-field theory)", init_phase_section)
