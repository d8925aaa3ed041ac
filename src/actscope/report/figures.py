"""The report's figures: one function per figure, each returning a matplotlib Figure.

They draw what a Run holds; the forward passes they need are probes (pure inference).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from actscope.analysis import probes
from actscope.engines import NumpyEngine
from actscope.experiment.rundir import Run
from actscope.report.style import CLASS_COLORS, MUTED, RC, TEXT, arm_colors

_ENGINE = NumpyEngine()






def _scatter_classes(ax, X, y, s=35) -> None:
    for c in np.unique(y):
        ax.scatter(X[y == c, 0], X[y == c, 1], c=CLASS_COLORS[int(c) % len(CLASS_COLORS)], s=s,
                   edgecolors="white", linewidths=0.4, alpha=0.9, label=f"Class {c}")


def dataset_figure(run: Run) -> Figure:
    """The data: every split, coloured by class (the first two features)."""
    d = run.dataset
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(7, 5))
        X = np.vstack([d.split(s)[0] for s in d.splits])
        y = np.concatenate([d.split(s)[1] for s in d.splits])
        _scatter_classes(ax, X[:, :2], y, s=40)
        ax.set_title(f"{d.name} -- our dataset ({len(y)} points)", color=TEXT, fontsize=13)
        ax.set_xlabel("x₁", color=MUTED)
        ax.set_ylabel("x₂", color=MUTED)
        ax.legend(fontsize=10)
        fig.tight_layout()
    return fig


def loss_curves_figure(run: Run) -> Figure:
    """Training loss (mean of minibatch losses per epoch) per arm, final values annotated.

    With several seeds the line is the mean over members and the band their range.
    """
    colors = arm_colors(list(run.arms))
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(10, 5))
        for i, (name, arm) in enumerate(run.arms.items()):
            L = arm.history.values["train/running_loss"]
            ep = np.arange(1, L.shape[0] + 1)
            mean = np.nanmean(L, axis=1) if L.shape[1] > 1 else L[:, 0]
            ax.plot(ep, mean, color=colors[name], lw=2.5, label=name)
            if L.shape[1] > 1:
                ax.fill_between(ep, np.nanmin(L, axis=1), np.nanmax(L, axis=1),
                                color=colors[name], alpha=0.15)
            final = mean[-1]
            ax.annotate(f"  final: {final:.4f}", xy=(ep[-1], final), color=colors[name],
                        fontsize=9, va="bottom" if i % 2 == 0 else "top")
        ax.set_xlabel("Epoch", color=MUTED)
        ax.set_ylabel("Training loss (cross-entropy)", color=MUTED)
        ax.set_title("Training Loss -- same architecture, same init, same LR\n"
                     "only the activation differs", color=TEXT, fontsize=12)
        ax.legend(fontsize=11)
        fig.tight_layout()
    return fig


def decision_boundaries_figure(run: Run, split: str = "test") -> Figure:
    """Each arm's decision boundary (its first member) over a split, accuracy in the title."""
    d = run.dataset
    X, y = d.split(split)
    colors = arm_colors(list(run.arms))
    xx, yy = probes.input_grid(X)
    n = len(run.arms)
    with plt.rc_context(RC):
        fig, axes = plt.subplots(1, n, figsize=(6.5 * n, 5.5), squeeze=False)
        for ax, (name, arm) in zip(axes[0], run.arms.items()):
            k = arm.first_finite()
            params = arm.member(k)
            Z = probes.predict_grid(_ENGINE, arm.mlp, params, xx, yy)[0]
            if d.n_classes == 2:
                ax.contourf(xx, yy, Z, levels=[0.0, 0.5, 1.0], colors=["#fde8c8", "#c8ece9"], alpha=0.85)
                ax.contour(xx, yy, Z, levels=[0.5], colors=[colors[name]], linewidths=2)
            else:
                ax.contourf(xx, yy, Z, levels=np.arange(d.n_classes + 1) - 0.5,
                            colors=CLASS_COLORS[:d.n_classes], alpha=0.3)
            _scatter_classes(ax, X, y)
            _, acc = _ENGINE.loss_and_accuracy(arm.mlp, _ENGINE.from_numpy(params), X, y)
            seed = arm.seeds[k]
            ax.set_title(f"{name}  (seed {seed})\n{split.capitalize()} acc: {acc[0]:.1%}",
                         color=colors[name], fontsize=12)
            ax.set_xlabel("x₁", color=MUTED)
            ax.set_ylabel("x₂", color=MUTED)
        fig.suptitle(f"Decision Boundaries learned on {d.name}", fontsize=13, color=TEXT)
        fig.tight_layout()
    return fig


def signal_trace_figure(run: Run) -> Figure:
    """Mean |value| at every stage for each named point, one panel per point."""
    points = run.metrics.get("points", {})
    stages = run.metrics.get("stages", [])
    colors = arm_colors(list(run.arms))
    n = max(len(points), 1)
    markers = ["o-", "s-", "^-", "D-", "v-", "P-", "X-", "*-"]
    with plt.rc_context(RC):
        fig, axes = plt.subplots(1, n, figsize=(6.5 * n, 5.5), squeeze=False)
        if not points:
            axes[0, 0].text(0.5, 0.5, "no points named in [probes]", ha="center")
        for ax, pname in zip(axes[0], points):
            x_pos = np.arange(len(stages))
            for i, (name, arm) in enumerate(run.arms.items()):
                k = arm.first_finite()
                trace = run.metrics["arms"][name]["members"][k]["signal_trace"].get(pname)
                if not trace:
                    continue
                ax.plot(x_pos, trace, markers[i % len(markers)], color=colors[name], lw=2.5,
                        markersize=8, label=name)
                for j, v in enumerate(trace):
                    ax.annotate(f"{v:.3f}", (j, v), textcoords="offset points",
                                xytext=(0, 8 if i % 2 else -14), ha="center", fontsize=8,
                                color=colors[name])
            ax.set_xticks(x_pos)
            ax.set_xticklabels(stages, color=MUTED, fontsize=9)
            ax.set_ylabel("Mean |activation|", color=MUTED)
            xy = ", ".join(f"{v:.2f}" for v in points[pname])
            ax.set_title(f"{pname}  ({xy})", color=TEXT, fontsize=11)
            ax.legend(fontsize=10)
        fig.suptitle("Layer-by-layer signal magnitude -- points far from the boundary",
                     fontsize=12, color=TEXT)
        fig.tight_layout()
    return fig


def hidden_space_figure(run: Run, split: str = "test") -> Figure:
    """Units 1 and 2 of every hidden layer on a split, per arm, with the layer's std."""
    d = run.dataset
    X, y = d.split(split)
    colors = arm_colors(list(run.arms))
    names = list(run.arms)
    depth = max(arm.mlp.depth for arm in run.arms.values())
    with plt.rc_context(RC):
        fig, axes = plt.subplots(depth, len(names), figsize=(6.5 * len(names), 5 * depth), squeeze=False)
        for col, name in enumerate(names):
            arm = run.arms[name]
            k = arm.first_finite()
            out = _ENGINE.forward(arm.mlp, _ENGINE.from_numpy(arm.member(k)), X, record=True)
            for row in range(depth):
                ax = axes[row][col]
                if row >= arm.mlp.depth:
                    ax.set_visible(False)
                    continue
                H = out.a[row][0]
                if H.shape[1] >= 2:
                    _scatter_classes(ax, H[:, :2], y, s=40)
                else:
                    _scatter_classes(ax, np.c_[H[:, 0], np.zeros(len(H))], y, s=40)
                ax.text(0.04, 0.96, f"std: {H.std():.4f}", transform=ax.transAxes, fontsize=9,
                        va="top", color=TEXT,
                        bbox=dict(boxstyle="round,pad=0.3", fc="white", ec=colors[name], alpha=0.85))
                ax.set_title(f"{name}  --  Layer {row + 1} hidden space", color=colors[name], fontsize=11)
                ax.set_xlabel("Unit 1", color=MUTED)
                ax.set_ylabel("Unit 2", color=MUTED)
                if row == 0 and col == 0:
                    ax.legend(fontsize=9)
        fig.suptitle(f"Hidden-space representations on the {d.name} {split} set", fontsize=13, color=TEXT)
        fig.tight_layout()
    return fig


# name -> (function, needs 2-D inputs)
FIGURES = {
    "dataset": (dataset_figure, True),
    "loss_curves": (loss_curves_figure, False),
    "decision_boundaries": (decision_boundaries_figure, True),
    "signal_trace": (signal_trace_figure, False),
    "hidden_space": (hidden_space_figure, False),
}
