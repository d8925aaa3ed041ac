"""Figures for data that is not 2-D or not binary: the data in its PCA plane, and the
confusion matrices of a multi-class task. Each returns None where it does not apply."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from actscope.analysis.classmetrics import confusion, predictions
from actscope.engines import NumpyEngine
from actscope.experiment.rundir import Run
from actscope.report.html import add_figure
from actscope.report.layout import new_figure, outside_legend, panel_grid
from actscope.report.style import CLASS_COLORS, MUTED, RC, TEXT

_ENGINE = NumpyEngine()


def pca_2d(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Projection of X on its first two principal axes and their explained variance ratios."""
    Xc = X - X.mean(axis=0)
    _, s, vt = np.linalg.svd(Xc, full_matrices=False)
    var = s**2 / max(float((s**2).sum()), 1e-300)
    return Xc @ vt[:2].T, var[:2]


def dataset_pca_figure(run: Run) -> Figure | None:
    """The n-D data projected on its first two principal components (all splits)."""
    d = run.dataset
    if d.is_2d:
        return None
    X = np.vstack([d.split(s)[0] for s in d.splits])
    y = np.concatenate([d.split(s)[1] for s in d.splits])
    P, var = pca_2d(X)
    with plt.rc_context(RC):
        fig = new_figure(run.spec.report.dpi, 900, 520)
        ax = fig.subplots()
        for c in np.unique(y):
            name = d.class_names[c] if c < len(d.class_names) else str(c)
            ax.scatter(P[y == c, 0], P[y == c, 1], s=18, c=CLASS_COLORS[int(c) % len(CLASS_COLORS)],
                       edgecolors="white", linewidths=0.3, alpha=0.85, label=name)
        ax.set_xlabel(f"PC 1 ({var[0]:.0%} of variance)", color=MUTED)
        ax.set_ylabel(f"PC 2 ({var[1]:.0%} of variance)" if len(var) > 1 else "", color=MUTED)
        ax.set_title(f"{d.name}: {d.n_features} features, projected on 2 principal components "
                     f"({len(y)} points)", color=TEXT, fontsize=11)
        outside_legend(fig, fontsize=8, ncol=2 if d.n_classes > 10 else 1)
    return fig


def _confusion_panel(ax, cm: np.ndarray, labels: list[str]) -> None:
    """One confusion matrix: counts in the cells, class names on integer tick positions."""
    C = cm.shape[0]
    ax.imshow(cm, cmap="Blues")
    ax.grid(False)
    if C <= 12:
        for (i, j), v in np.ndenumerate(cm):
            ax.text(j, i, str(v), ha="center", va="center", fontsize=7,
                    color="white" if v > cm.max() / 2 else TEXT)
    ticks = np.arange(C)
    ax.set_xticks(ticks, labels, rotation=45 if C > 3 else 0, ha="right" if C > 3 else "center",
                  fontsize=7)
    ax.set_yticks(ticks, labels, fontsize=7)
    ax.set_xlabel("predicted", color=MUTED)
    ax.set_ylabel("true", color=MUTED)


def confusion_figure(run: Run, split: str = "test") -> Figure | None:
    """Each arm's confusion matrix (its first finite member) on a split, for more than two
    classes: true classes in rows, named as the data names them."""
    d = run.dataset
    if d.n_classes <= 2 or not run.arms:
        return None
    X, y = d.split(split)
    names = d.class_names if len(d.class_names) == d.n_classes else [str(c) for c in range(d.n_classes)]
    with plt.rc_context(RC):
        fig, axes = panel_grid(len(run.arms), run.spec.report.dpi, cell_px=(400, 420))
        for ax, (name, arm) in zip(axes, run.arms.items()):
            k = arm.first_finite()
            pred = predictions(_ENGINE, arm.mlp, _ENGINE.from_numpy(arm.member(k)), X)[0]
            cm = confusion(y, pred, d.n_classes)
            _confusion_panel(ax, cm, [str(v) for v in names])
            acc = np.trace(cm) / max(cm.sum(), 1)
            ax.set_title(f"{name} (seed {arm.seeds[k]}): {acc:.1%}", fontsize=10, color=TEXT)
        fig.suptitle(f"Confusion matrices on the {d.name} {split} split ({len(y)} points; "
                     "rows: true class)", color=TEXT, fontsize=12)
    return fig


add_figure("dataset_pca", dataset_pca_figure)
add_figure("confusion", confusion_figure)
