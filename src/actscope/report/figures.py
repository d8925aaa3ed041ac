"""The report's figures: one function per figure, each returning a matplotlib Figure.

They draw what a Run holds; the forward passes they need are probes (pure inference).
Per-arm panels wrap into a grid (``layout.panel_grid``), legends sit outside the axes,
and a figure with nothing to show returns the reason instead (the report prints it).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from actscope.analysis import probes
from actscope.engines import NumpyEngine
from actscope.experiment.rundir import Run
from actscope.report.layout import new_figure, outside_legend, panel_grid
from actscope.report.style import MUTED, RC, TEXT, arm_colors, class_color, class_name

_ENGINE = NumpyEngine()
MAX_ANNOTATED_ARMS = 2  # value labels on the signal trace beyond this would collide


def _scatter_classes(ax, X, y, dataset, s=35) -> None:
    for c in np.unique(y):
        ax.scatter(X[y == c, 0], X[y == c, 1], c=class_color(c), s=s, edgecolors="white",
                   linewidths=0.4, alpha=0.9, label=class_name(dataset, c))


def _class_handles(dataset, y) -> list[Line2D]:
    return [Line2D([], [], marker="o", ls="", color=class_color(c), mec="white", ms=8,
                   label=class_name(dataset, c)) for c in np.unique(y)]


def _dpi(run: Run) -> int:
    return run.spec.report.dpi


def dataset_figure(run: Run) -> Figure:
    """The data: every split, coloured by class (the first two features)."""
    d = run.dataset
    with plt.rc_context(RC):
        fig = new_figure(_dpi(run), 820, 500)
        ax = fig.subplots()
        X = np.vstack([d.split(s)[0] for s in d.splits])
        y = np.concatenate([d.split(s)[1] for s in d.splits])
        _scatter_classes(ax, X[:, :2], y, d, s=40)
        sizes = ", ".join(f"{len(d.split(s)[1])} {s}" for s in d.splits)
        ax.set_title(f"{d.name} -- our dataset ({len(y)} points: {sizes})", color=TEXT, fontsize=12)
        ax.set_xlabel("x₁", color=MUTED)
        ax.set_ylabel("x₂", color=MUTED)
        outside_legend(fig, fontsize=10)
    return fig


def loss_curves_figure(run: Run) -> Figure:
    """Training loss (mean of minibatch losses per epoch) per arm; each arm's final value
    is in its legend entry, so no label sits on another.

    With several seeds the line is the mean over members and the band their range.
    """
    colors = arm_colors(list(run.arms))
    with plt.rc_context(RC):
        fig = new_figure(_dpi(run), 1250, 520)
        ax = fig.subplots()
        for name, arm in run.arms.items():
            ep, mean, lo, hi = arm.history.band("train/running_loss")  # summaries over members
            ax.plot(ep, mean, color=colors[name], lw=2.5, label=f"{name}  (final: {mean[-1]:.4f})")
            if len(arm.seeds) > 1:
                ax.fill_between(ep, lo, hi, color=colors[name], alpha=0.15)
        ax.set_xlabel("Epoch", color=MUTED)
        ax.set_ylabel("Training loss (cross-entropy)", color=MUTED)
        seeds = len(run.spec.seeds.as_list())
        band = f"; mean of {seeds} seeds, band: range" if seeds > 1 else ""
        ax.set_title("Training Loss -- only the activation differs\n(same architecture, init and "
                     f"LR{band})", color=TEXT, fontsize=11)
        outside_legend(fig, fontsize=10, title="arm (final loss)")
    return fig


def decision_boundaries_figure(run: Run, split: str = "test") -> Figure:
    """Each arm's decision boundary (its first finite member), with the points of a split
    coloured by class, and that member's accuracy on the split in its title."""
    d = run.dataset
    X, y = d.split(split)
    colors = arm_colors(list(run.arms))
    xx, yy = probes.input_grid(X)
    with plt.rc_context(RC):
        fig, axes = panel_grid(len(run.arms), _dpi(run), extra_px=(0, 130))
        for ax, (name, arm) in zip(axes, run.arms.items()):
            k = arm.first_finite()
            params = arm.member(k)
            Z = probes.predict_grid(_ENGINE, arm.mlp, params, xx, yy)[0]
            if d.n_classes == 2:
                ax.contourf(xx, yy, Z, levels=[0.0, 0.5, 1.0], colors=["#fde8c8", "#c8ece9"], alpha=0.85)
                ax.contour(xx, yy, Z, levels=[0.5], colors=[colors[name]], linewidths=2)
            else:
                ax.contourf(xx, yy, Z, levels=np.arange(d.n_classes + 1) - 0.5,
                            colors=[class_color(c) for c in range(d.n_classes)], alpha=0.3)
            _scatter_classes(ax, X, y, d, s=22)
            _, acc = _ENGINE.loss_and_accuracy(arm.mlp, _ENGINE.from_numpy(params), X, y)
            ax.set_title(f"{name}  (seed {arm.seeds[k]})\n{split} accuracy: {acc[0]:.1%}",
                         color=colors[name], fontsize=11)
            ax.set_xlabel("x₁", color=MUTED)
            ax.set_ylabel("x₂", color=MUTED)
        handles = _class_handles(d, y)
        if d.n_classes == 2:
            handles.append(Line2D([], [], color=MUTED, lw=2, label="boundary: p(class 1) = 0.5"))
        outside_legend(fig, handles, [h.get_label() for h in handles], where="bottom")
        fig.suptitle(f"Decision boundaries learned on {d.name}; points: the {split} split "
                     f"({len(y)} points)", fontsize=13, color=TEXT)
    return fig


def signal_trace_figure(run: Run) -> Figure | str:
    """Mean |value| at every stage for each named point, one panel per point."""
    points = run.metrics.get("points", {})
    stages = run.metrics.get("stages", [])
    if not points:
        return "no points are named in [[probes.points]], so there is no trace to draw"
    colors = arm_colors(list(run.arms))
    markers = ["o-", "s-", "^-", "D-", "v-", "P-", "X-", "*-"]
    annotate = len(run.arms) <= MAX_ANNOTATED_ARMS
    with plt.rc_context(RC):
        fig, axes = panel_grid(len(points), _dpi(run), cell_px=(560, 440), extra_px=(0, 110))
        for ax, pname in zip(axes, points):
            x_pos = np.arange(len(stages))
            for i, (name, arm) in enumerate(run.arms.items()):
                k = arm.first_finite()
                trace = run.metrics["arms"][name]["members"][k]["signal_trace"].get(pname)
                if not trace:
                    continue
                ax.plot(x_pos, trace, markers[i % len(markers)], color=colors[name], lw=2.5,
                        markersize=7, label=name)
                for j, v in enumerate(trace if annotate else []):
                    ax.annotate(f"{v:.3f}", (j, v), textcoords="offset points",
                                xytext=(0, 8 if i % 2 else -14), ha="center", fontsize=8,
                                color=colors[name])
            ax.set_xticks(x_pos)
            ax.set_xticklabels(stages, color=MUTED, fontsize=9)
            ax.set_ylabel("Mean |activation|", color=MUTED)
            xy = ", ".join(f"{v:.2f}" for v in points[pname])
            ax.set_title(f"{pname}  ({xy})", color=TEXT, fontsize=11)
        outside_legend(fig, where="bottom", fontsize=10)
        fig.suptitle("Layer-by-layer signal magnitude -- points far from the boundary "
                     "(first member of each arm)", fontsize=12, color=TEXT)
    return fig


def hidden_space_figure(run: Run, split: str = "test") -> Figure:
    """Units 1 and 2 of every hidden layer on a split, per arm, with the layer's std:
    one panel per (arm, layer), arm by arm."""
    d = run.dataset
    X, y = d.split(split)
    colors = arm_colors(list(run.arms))
    cells = [(name, i) for name, arm in run.arms.items() for i in range(arm.mlp.depth)]
    with plt.rc_context(RC):
        fig, axes = panel_grid(len(cells), _dpi(run), extra_px=(0, 110))
        outs = {}
        for ax, (name, row) in zip(axes, cells):
            arm = run.arms[name]
            k = arm.first_finite()
            if name not in outs:
                outs[name] = _ENGINE.forward(arm.mlp, _ENGINE.from_numpy(arm.member(k)), X, record=True)
            H = outs[name].a[row][0]
            P = H[:, :2] if H.shape[1] >= 2 else np.c_[H[:, 0], np.zeros(len(H))]
            _scatter_classes(ax, P, y, d, s=22)
            ax.text(0.04, 0.96, f"std: {H.std():.4f}", transform=ax.transAxes, fontsize=9,
                    va="top", color=TEXT,
                    bbox=dict(boxstyle="round,pad=0.3", fc="white", ec=colors[name], alpha=0.85))
            ax.set_title(f"{name} (seed {arm.seeds[k]}) -- layer {row + 1}", color=colors[name],
                         fontsize=11)
            ax.set_xlabel("unit 1", color=MUTED)
            ax.set_ylabel("unit 2" if H.shape[1] >= 2 else "", color=MUTED)
        handles = _class_handles(d, y)
        outside_legend(fig, handles, [h.get_label() for h in handles], where="bottom")
        fig.suptitle(f"Hidden-space representations on the {d.name} {split} split ({len(y)} points)",
                     fontsize=13, color=TEXT)
    return fig


# name -> (function, needs 2-D inputs)
FIGURES = {
    "dataset": (dataset_figure, True),
    "loss_curves": (loss_curves_figure, False),
    "decision_boundaries": (decision_boundaries_figure, True),
    "signal_trace": (signal_trace_figure, False),
    "hidden_space": (hidden_space_figure, False),
}
