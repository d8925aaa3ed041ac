"""The probes' maps over the input plane: linear regions and neuron heatmaps.

Maps show the first member of an arm that did not diverge, one panel per arm (and
layer), wrapped into a grid; a unit that is dead on the training split is labelled so
on its tile rather than left as a blank square.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from actscope.analysis import probes
from actscope.data.boundaries import grid_over
from actscope.engines import NumpyEngine
from actscope.experiment.rundir import Run
from actscope.report.layout import outside_legend, panel_grid
from actscope.report.probe_common import included, interval_note, not_measured, stat
from actscope.report.style import MUTED, RC, TEXT, arm_colors, class_color, class_name

_ENGINE = NumpyEngine()
GAP = 3  # pixels of the map between two unit tiles


def _regions_count(ax, run: Run, arms: list[str], info: dict, colors: dict) -> None:
    """The first panel: the region count at the end (bars) or over the recorded epochs."""
    over_epochs = len(info.get("epochs", [])) > 1
    for j, name in enumerate(arms):
        if not over_epochs:
            st = stat(run, name, "regions.count")
            if st is not None:
                ax.bar(j, st[0], yerr=[[max(st[0] - st[1], 0)], [max(st[2] - st[0], 0)]],
                       color=colors[name], capsize=6, alpha=0.8, width=0.5, label=name)
            continue
        R = run.arms[name].history.band("grid/regions.count")  # summaries over members
        if R is None:
            continue
        ax.plot(R[0], R[1], "o-", color=colors[name], lw=2, label=name)
        if len(run.arms[name].seeds) > 1:
            ax.fill_between(R[0], R[2], R[3], color=colors[name], alpha=0.15)
    if over_epochs:
        ax.set_xlabel("Epoch", color=MUTED)
        ax.set_title("Linear regions over training\n(mean over seeds, band: range)", color=TEXT, fontsize=10)
    else:
        ax.set_xticks(range(len(arms)))
        ax.set_xticklabels(arms, color=MUTED, rotation=30, ha="right", fontsize=8)
        ax.set_title(f"Linear regions at the end\n({interval_note(run)})", color=TEXT, fontsize=10)
    ax.set_ylabel("distinct activation patterns on the grid", color=MUTED)


def regions_figure(run: Run) -> Figure | str | None:
    """Linear regions: the count (per arm) and the region map of each arm's first member."""
    info = included(run, "regions")
    if info is None:
        return not_measured(run, "regions")
    arms = [n for n, a in run.arms.items() if probes.regions_defined(a.mlp)]
    if not arms:
        return "linear regions are defined for piecewise-linear activations only, and no arm has them"
    colors = arm_colors(list(run.arms))
    X_all = np.vstack([run.dataset.split(s)[0] for s in run.dataset.splits])
    xx, yy = grid_over(X_all, min(run.spec.probes.grid, 200))
    X, y = run.dataset.split("test")
    cmap = ListedColormap(plt.get_cmap("tab20")(np.arange(20)))
    with plt.rc_context(RC):
        fig, axes = panel_grid(1 + len(arms), run.spec.report.dpi, extra_px=(0, 120))
        _regions_count(axes[0], run, arms, info, colors)
        for ax, name in zip(axes[1:], arms):
            arm = run.arms[name]
            k = arm.first_finite()
            ids = probes.activation_regions(_ENGINE, arm.mlp, arm.member(k), xx, yy)[0]
            n = int(ids.max()) + 1
            perm = np.random.default_rng(0).permutation(n)
            ax.imshow(perm[ids] % 20, origin="lower", cmap=cmap, alpha=0.55, aspect="auto",
                      interpolation="nearest", extent=(xx.min(), xx.max(), yy.min(), yy.max()))
            ax.grid(False)
            for c in np.unique(y):
                ax.scatter(X[y == c, 0], X[y == c, 1], s=12, c=class_color(c), edgecolors="white",
                           linewidths=0.3)
            ax.set_title(f"{name} (seed {arm.seeds[k]}): {n} regions", color=colors[name], fontsize=10)
        handles = [Line2D([], [], marker="o", ls="", color=class_color(c), mec="white", ms=7,
                          label=f"test point, {class_name(run.dataset, c)}") for c in np.unique(y)]
        handles += [Line2D([], [], color=colors[n], lw=2, marker="o", ms=5, label=n) for n in arms]
        outside_legend(fig, handles, [h.get_label() for h in handles], where="bottom")
        fig.suptitle("Linear regions: each colour is one activation pattern (one affine piece)",
                     fontsize=12, color=TEXT)
    return fig


def _mosaic(H: np.ndarray, ncols: int, gap: int = GAP) -> np.ndarray:
    """Unit maps (U, ny, nx), each scaled to [0, 1] on its own, in a grid of ``ncols``
    tiles per row (the first unit top left), NaN between and after them."""
    U, ny, nx = H.shape
    nrows = -(-U // ncols)
    lo = H.reshape(U, -1).min(1)[:, None, None]
    span = np.ptp(H.reshape(U, -1), axis=1)[:, None, None]
    scaled = np.where(span > 0, (H - lo) / np.where(span > 0, span, 1.0), 0.5)
    out = np.full((nrows * (ny + gap) - gap, ncols * (nx + gap) - gap), np.nan)
    for u in range(U):
        r, c = nrows - 1 - u // ncols, u % ncols
        out[r * (ny + gap):r * (ny + gap) + ny, c * (nx + gap):c * (nx + gap) + nx] = scaled[u]
    return out


def _tile_labels(ax, H: np.ndarray, dead: np.ndarray, ncols: int, side: int) -> None:
    """Number every tile; say 'dead' (no gradient on any training point) or 'constant'
    (the same value over the whole plane) where a tile would otherwise be blank."""
    U = H.shape[0]
    nrows = -(-U // ncols)
    span = np.ptp(H.reshape(U, -1), axis=1)
    for u in range(U):
        x0 = (u % ncols) * (side + GAP)
        y0 = (nrows - 1 - u // ncols) * (side + GAP)
        ax.text(x0 + 2, y0 + side - 3, str(u + 1), fontsize=6, color=TEXT, va="top")
        what = "dead\n(train)" if dead[u] else ("constant" if span[u] == 0 else "")
        if what:
            ax.text(x0 + side / 2, y0 + side / 2, what, fontsize=7, color=TEXT, ha="center",
                    va="center", fontweight="bold")


def heatmaps_figure(run: Run, max_units: int = 16, side: int = 48) -> Figure | str | None:
    """Each hidden unit's output over the input plane (first finite member), as the
    TensorFlow Playground shows them: one panel per arm and layer, one tile per unit."""
    if included(run, "heatmaps") is None:
        return not_measured(run, "heatmaps")
    X_all = np.vstack([run.dataset.split(s)[0] for s in run.dataset.splits])
    xx, yy = grid_over(X_all, side)
    cells = [(name, i) for name, a in run.arms.items() for i in range(a.mlp.depth)]
    units = min(max_units, max(max(a.mlp.hidden) for a in run.arms.values()))
    ncols = int(np.ceil(np.sqrt(units)))
    colors = arm_colors(list(run.arms))
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="white")
    with plt.rc_context(RC):
        fig, axes = panel_grid(len(cells), run.spec.report.dpi, extra_px=(0, 90))
        for ax, (name, i) in zip(axes, cells):
            a = run.arms[name]
            member = a.member(a.first_finite())
            H = probes.unit_heatmaps(_ENGINE, a.mlp, member, xx, yy)[i][0][:units]
            dead = probes.dead_units(_ENGINE, a.mlp, member, run.dataset.X_train,
                                     run.spec.probes.saturation)[i][0][:units]
            ax.imshow(_mosaic(H, ncols), origin="lower", cmap=cmap, aspect="equal",
                      interpolation="nearest")
            _tile_labels(ax, H, dead, ncols, side)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            for sp in ax.spines.values():
                sp.set_visible(False)
            more = f", first {units} units" if a.mlp.hidden[i] > units else ""
            ax.set_title(f"{name}, layer {i + 1} ({int(dead.sum())} dead{more})", color=colors[name],
                         fontsize=10)
        fig.suptitle("Neuron heatmaps: each hidden unit's output over the input plane (blue low, "
                     "red high, colour scale per unit);\n'dead': no gradient on any training point",
                     fontsize=11, color=TEXT)
    return fig
