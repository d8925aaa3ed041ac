"""The phase-diagram figures: smooth colour, a colourbar ticked on both sides of χ₁ = 1,
markers inside the axes, and a grid of panels for many activations."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import QuadMesh

from actscope import MLPSpec, theory
from actscope.report import layout, theory_figures


def _mesh(ax) -> QuadMesh:
    (mesh,) = [c for c in ax.collections if isinstance(c, QuadMesh)]
    return mesh


def _colourbar_ticks(fig) -> list[np.ndarray]:
    return [np.asarray(ax.get_yticks()) for ax in fig.axes if ax.get_label() == "<colorbar>"]


@pytest.fixture(scope="module")
def ordered_only():
    """A diagram whose every cell is ordered (χ₁ < 1): the colourbar must still show both sides."""
    return theory.phase_diagram("tanh", sigma_w2=np.linspace(0.2, 0.9, 12), sigma_b2=np.linspace(0, 0.3, 6))


def test_colourbar_is_symmetric_about_one_and_ticked_on_both_sides(ordered_only):
    assert np.nanmax(ordered_only.log_chi1) < 0  # the data are one-sided
    fig = theory_figures.phase_diagram_figure(ordered_only)
    (ticks,) = _colourbar_ticks(fig)
    assert ticks.min() < 0 < ticks.max() and 0 in ticks
    assert np.allclose(np.sort(-ticks), ticks)             # as many χ₁ as 1/χ₁ ticks
    norm = _mesh(fig.axes[0]).norm
    assert norm.vmin == -norm.vmax and norm.vmax >= np.nanmax(np.abs(ordered_only.log_chi1))
    plt.close(fig)


def test_markers_on_the_grid_edge_are_whole(ordered_only):
    pts = [(0.2, 0.0, "corner"), (0.9, 0.3, "other corner")]
    fig = theory_figures.phase_diagram_figure(ordered_only, pts)
    ax = fig.axes[0]
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    marks = [ln for ln in ax.get_lines() if ln.get_label() in ("corner", "other corner")]
    assert len(marks) == 2
    for ln in marks:
        (x,), (y,) = ln.get_xdata(), ln.get_ydata()
        assert not ln.get_clip_on()
        # inside the limits by a margin of at least 4% of the span on every side
        assert x0 + 0.04 * (x1 - x0) <= x <= x1 - 0.04 * (x1 - x0)
        assert y0 + 0.04 * (y1 - y0) <= y <= y1 - 0.04 * (y1 - y0)
    plt.close(fig)


def test_the_diagram_is_shaded_smoothly_not_in_blocks():
    """A blocky mesh has one colour per cell; Gouraud shading has many more."""
    d = theory.phase_diagram("relu", sigma_w2=np.linspace(1.0, 3.0, 8), sigma_b2=np.linspace(0, 0.5, 4))
    fig = theory_figures.phase_diagram_figure(d)
    fig.canvas.draw()
    ax = fig.axes[0]
    img = np.asarray(fig.canvas.buffer_rgba())[..., :3]
    box = ax.get_window_extent()
    h = img.shape[0]
    crop = img[int(h - box.y1) + 5:int(h - box.y0) - 5, int(box.x0) + 5:int(box.x1) - 5]
    colours = len(np.unique(crop.reshape(-1, 3), axis=0))
    assert colours > 10 * d.log_chi1.size
    plt.close(fig)


def test_the_report_grid_is_fine_enough():
    rows, cols = theory_figures.INIT_GRID[1], theory_figures.INIT_GRID[0]
    assert cols >= 40 and rows >= 16


class _Arm:
    def __init__(self, mlp):
        self.mlp = mlp


class _Run:
    def __init__(self, **arms):
        self.arms = {name: _Arm(mlp) for name, mlp in arms.items()}


def test_eight_activations_wrap_into_a_grid_of_readable_panels(monkeypatch):
    monkeypatch.setattr(theory_figures, "INIT_GRID", (10, 5))
    theory_figures._init_diagram.cache_clear()
    acts = ["relu", "tanh", "identity", "leaky_relu", "hard_tanh", "softsign", "elu", "sine"]
    run = _Run(**{a: MLPSpec(n_inputs=2, hidden=[8, 8], activation=a) for a in acts})
    fig = theory_figures.init_phase_figure(run)
    theory_figures._init_diagram.cache_clear()
    sizes = layout.panel_sizes(fig, 110)
    assert len(sizes) == 8
    assert fig.get_size_inches()[0] * 110 <= layout.MAX_WIDTH_PX
    assert min(w for w, _ in sizes) >= layout.MIN_PANEL_PX
    assert not layout.legend_overlaps(fig, 110)
    plt.close(fig)


def test_the_report_table_names_other_stable_fixed_points():
    act = "f(x) = 1.2 * x * sigmoid(x)"   # with He's σw² = 2: q* = 0 is stable, and so is inf
    run = _Run(big=MLPSpec(n_inputs=2, hidden=[8, 8], activation=act, init="he"),
               relu=MLPSpec(n_inputs=2, hidden=[8, 8], activation="relu", init="he"))
    html = theory_figures.init_phase_section(run)
    fp = theory.fixed_point(act, 2.0, 0.0)
    assert fp.q_star == 0 and fp.chi1 == pytest.approx(0.72) and math.isinf(fp.stable_roots[-1].q)
    assert "other stable q*" in html and f"q* = inf (χ₁ = {fp.stable_roots[-1].chi1:.3g})" in html
    assert html.count("<td>none</td>") == 1      # relu at σw² = 2 has no other
