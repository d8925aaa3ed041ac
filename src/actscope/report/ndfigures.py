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
        fig, ax = plt.subplots(figsize=(7, 5))
        for c in np.unique(y):
            name = d.class_names[c] if c < len(d.class_names) else str(c)
            ax.scatter(P[y == c, 0], P[y == c, 1], s=18, c=CLASS_COLORS[int(c) % len(CLASS_COLORS)],
                       edgecolors="white", linewidths=0.3, alpha=0.85, label=name)
        ax.set_xlabel(f"PC 1 ({var[0]:.0%} of variance)", color=MUTED)
        ax.set_ylabel(f"PC 2 ({var[1]:.0%} of variance)" if len(var) > 1 else "", color=MUTED)
        ax.set_title(f"{d.name}: {d.n_features} features, projected on 2 principal components "
                     f"({len(y)} points)", color=TEXT, fontsize=11)
        ax.legend(fontsize=8, ncol=2 if d.n_classes > 5 else 1)
        fig.tight_layout()
    return fig


def confusion_figure(run: Run, split: str = "test") -> Figure | None:
    """Each arm's confusion matrix (its first member) on a split, for more than two classes."""
    d = run.dataset
    if d.n_classes <= 2 or not run.arms:
        return None
    X, y = d.split(split)
    n = len(run.arms)
    cols = min(n, 4)
    rows = (n + cols - 1) // cols
    with plt.rc_context(RC):
        fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 4 * rows), squeeze=False)
        for ax in axes.flat[n:]:
            ax.set_visible(False)
        for ax, (name, arm) in zip(axes.flat, run.arms.items()):
            k = arm.first_finite()
            pred = predictions(_ENGINE, arm.mlp, _ENGINE.from_numpy(arm.member(k)), X)[0]
            cm = confusion(y, pred, d.n_classes)
            ax.imshow(cm, cmap="Blues")
            ax.grid(False)
            if d.n_classes <= 12:
                for (i, j), v in np.ndenumerate(cm):
                    ax.text(j, i, str(v), ha="center", va="center", fontsize=7,
                            color="white" if v > cm.max() / 2 else TEXT)
            acc = np.trace(cm) / max(cm.sum(), 1)
            ax.set_title(f"{name} (seed {arm.seeds[k]}): {acc:.1%}", fontsize=10, color=TEXT)
            ax.set_xlabel("predicted", color=MUTED)
            ax.set_ylabel("true", color=MUTED)
        fig.suptitle(f"Confusion matrices on the {d.name} {split} set", color=TEXT, fontsize=12)
        fig.tight_layout()
    return fig


add_figure("dataset_pca", dataset_pca_figure)
add_figure("confusion", confusion_figure)
