"""Figures and a section for the second reference article (with vs without activations).

- ``activation_function_comparison``: the article's figure, train and validation accuracy
  per epoch of every arm, then each arm's decision boundary over the test set with its
  test accuracy in the title (drawn only for runs with a validation split).
- ``collapse``: every member of each arm without nonlinearities, its network boundary and
  the line of its single affine map (``collapse.py``) drawn over it.
- the section "Collapse into one affine map": W_eff, b_eff and how exactly they agree.
"""

from __future__ import annotations

import html

import matplotlib.pyplot as plt
import numpy as np
from markupsafe import Markup
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from actscope.analysis import collapse, probes
from actscope.engines import NumpyEngine
from actscope.experiment.rundir import Run
from actscope.report.html import add_figure, add_section
from actscope.report.layout import outside_legend, panel_grid
from actscope.report.style import MUTED, RC, TEXT, arm_colors, class_name

_ENGINE = NumpyEngine()
MAX_MEMBERS = 4  # members drawn per affine arm in the collapse figure






def _article_grid(X: np.ndarray, step: float = 0.02, pad: float = 1.0, max_side: int = 500):
    """The article's mesh: step 0.02 over the data range padded by 1."""
    return probes.input_grid(X, step=step, pad=pad, max_side=max_side)


def _band(ax, hist, key: str, color: str, style: str, label: str) -> None:
    ep, mean, lo, hi = hist.band(key)  # the evaluated epochs' summaries over members
    ax.plot(ep, mean, style, color=color, lw=2, label=label)
    if len(hist.seeds) > 1:
        ax.fill_between(ep, lo, hi, color=color, alpha=0.12)


def _draw_boundary(ax, arm, k: int, X: np.ndarray, y: np.ndarray, color: str, n_classes: int,
                   lw: float = 1.5):
    """The article's boundary panel for member ``k``; returns the grid limits."""
    xx, yy = _article_grid(X)
    Z = probes.predict_grid(_ENGINE, arm.mlp, arm.member(k), xx, yy)[0]
    if n_classes == 2:
        ax.contourf(xx, yy, Z, levels=20, cmap="RdBu", alpha=0.8)
        ax.contour(xx, yy, Z, levels=[0.5], colors=[color], linewidths=lw)
    else:
        ax.contourf(xx, yy, Z, levels=np.arange(n_classes + 1) - 0.5, cmap="RdBu", alpha=0.8)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="RdBu", edgecolors="k", s=22, linewidths=0.6)
    return (xx.min(), xx.max()), (yy.min(), yy.max())


def _draw_affine_line(ax, arm, k: int, xlim, ylim) -> None:
    W_eff, b_eff = collapse.collapse(arm.mlp, arm.member(k))
    xs, ys = collapse.boundary_segment(W_eff, b_eff, xlim, ylim)
    ax.plot(xs, ys, "--", color="black", lw=1.5, label="x·W_eff + b_eff = 0")
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)


def _legend(fig, dataset, y: np.ndarray) -> None:
    """One legend below the panels: every curve and line drawn, then the classes of the points."""
    handles, labels = [], []
    for ax in fig.axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    C = max(dataset.n_classes - 1, 1)
    for c in np.unique(y):
        handles.append(Line2D([], [], marker="o", ls="", mec="k", ms=7,
                              color=plt.get_cmap("RdBu")(c / C)))
        labels.append(f"test point, {class_name(dataset, c)}")
    outside_legend(fig, handles, labels, where="bottom")


def _has_val(run: Run) -> bool:
    return any("val/accuracy" in a.history for a in run.arms.values())


def _collapsible_binary_2d(run: Run, arm) -> bool:
    return run.dataset.is_2d and arm.mlp.n_outputs == 1 and collapse.is_collapsible(arm.mlp)


def activation_comparison_figure(run: Run) -> Figure | None:
    """The article's figure: accuracy curves, then one test-set boundary per arm."""
    if not run.arms or not _has_val(run):
        return None
    d = run.dataset
    X, y = d.split("test")
    colors = arm_colors(list(run.arms))
    with plt.rc_context(RC):
        fig, axes = panel_grid(len(run.arms) + 1, run.spec.report.dpi, extra_px=(0, 110))
        ax = axes[0]
        for name, arm in run.arms.items():
            h = arm.history
            if "train/running_accuracy" in h:
                _band(ax, h, "train/running_accuracy", colors[name], "-", f"{name} train")
            if "val/accuracy" in h:
                _band(ax, h, "val/accuracy", colors[name], "--", f"{name} validation")
        ax.set_xlabel("Epoch", color=MUTED)
        ax.set_ylabel("Accuracy", color=MUTED)
        n_seeds = len(next(iter(run.arms.values())).seeds)
        ax.set_title("Train and validation accuracy" + (f"\n(mean of {n_seeds} seeds, band: range)"
                                                         if n_seeds > 1 else ""), color=TEXT, fontsize=11)
        for ax, (name, arm) in zip(axes[1:], run.arms.items()):
            ok = arm.finite_members()
            if not d.is_2d or not ok:
                ax.text(0.5, 0.5, "needs 2-D inputs" if ok else "every member diverged",
                        ha="center", transform=ax.transAxes)
                continue
            k = ok[0]
            xlim, ylim = _draw_boundary(ax, arm, k, X, y, colors[name], d.n_classes)
            if _collapsible_binary_2d(run, arm):
                _draw_affine_line(ax, arm, k, xlim, ylim)
            _, acc = _ENGINE.loss_and_accuracy(arm.mlp, arm.member(k), X, y)
            ax.set_title(f"{name}: decision boundary (seed {arm.seeds[k]})\nTest accuracy: {acc[0]:.4f}",
                         color=colors[name], fontsize=11)
            ax.set_xlabel("x₁", color=MUTED)
            ax.set_ylabel("x₂", color=MUTED)
        _legend(fig, run.dataset, y)
        fig.suptitle(f"Accuracy per epoch, and each arm's boundary over the test split ({len(y)} points)",
                     color=TEXT, fontsize=12)
    return fig


def collapse_figure(run: Run) -> Figure | None:
    """Each member of every affine arm: the network's boundary and its collapsed line."""
    arms = [(n, a) for n, a in run.arms.items() if _collapsible_binary_2d(run, a) and a.finite_members()]
    if not arms:
        return None
    X, y = run.dataset.split("test")
    colors = arm_colors(list(run.arms))
    cells = [(name, arm, k) for name, arm in arms for k in arm.finite_members()[:MAX_MEMBERS]]
    with plt.rc_context(RC):
        fig, axes = panel_grid(len(cells), run.spec.report.dpi, extra_px=(0, 120))
        for ax, (name, arm, k) in zip(axes, cells):
            xlim, ylim = _draw_boundary(ax, arm, k, X, y, colors[name], 2, lw=5)
            _draw_affine_line(ax, arm, k, xlim, ylim)
            gap = _max_logit_gap(arm, k, X)
            ax.set_title(f"{name}, seed {arm.seeds[k]}\nmax |logit − affine| = {gap:.1e}",
                         color=colors[name], fontsize=10)
        _legend(fig, run.dataset, y)
        fig.suptitle("Without activations the network is one affine map: its boundary (solid) "
                     f"is the line of the product of its layers (dashed); test split, first "
                     f"{MAX_MEMBERS} members at most", fontsize=11, color=TEXT)
    return fig


def _max_logit_gap(arm, k: int, X: np.ndarray) -> float:
    params = arm.member(k)
    W_eff, b_eff = collapse.collapse(arm.mlp, params)
    net = _ENGINE.forward(arm.mlp, params, X).logits
    return float(np.max(np.abs(net - collapse.affine_logits(W_eff, b_eff, X))))


def collapse_section(run: Run) -> Markup | None:
    """A table of every affine arm's single map and how exactly it reproduces the network."""
    arms = [(n, a) for n, a in run.arms.items() if collapse.is_collapsible(a.mlp)]
    if not arms:
        return None
    X = run.dataset.split("test")[0]
    rows = []
    for name, arm in arms:
        params = arm.params
        W_eff, b_eff = collapse.collapse(arm.mlp, params)
        net = _ENGINE.forward(arm.mlp, params, X)
        gap = np.abs(np.asarray(net.logits) - collapse.affine_logits(W_eff, b_eff, X)).max(axis=(1, 2))
        if arm.mlp.n_outputs == 1:
            pred = (np.asarray(net.logits)[..., 0] >= 0).astype(np.int64)
        else:
            pred = np.asarray(net.logits).argmax(axis=-1)
        agree = (pred == collapse.affine_predict(W_eff, b_eff, X)).mean(axis=1)
        for k in arm.finite_members():
            w = ", ".join(f"{v:+.4f}" for v in W_eff[k].ravel())
            b = ", ".join(f"{v:+.4f}" for v in b_eff[k])
            rows.append(f"<tr><td>{html.escape(name)}</td><td>{arm.seeds[k]}</td><td>[{w}]</td>"
                        f"<td>[{b}]</td><td>{gap[k]:.2e}</td><td>{100 * agree[k]:.1f}%</td></tr>")
    sizes = "-".join(map(str, arms[0][1].mlp.sizes))
    return Markup(f"<p>A {sizes} network whose hidden activations are affine computes "
            "<code>x · W_eff + b_eff</code>, with <code>W_eff = W1 W2 … WL</code> and "
            "<code>b_eff</code> the biases carried through the later layers: one affine map, "
            "so a straight decision boundary whatever its depth. The table compares that single "
            "map with the trained network on the test set.</p>"
            "<table><tr><th>arm</th><th>seed</th><th>W_eff</th><th>b_eff</th>"
            "<th>max |logit difference|</th><th>same predictions</th></tr>"
            + "".join(rows) + "</table>")


add_figure("activation_function_comparison", activation_comparison_figure)
add_figure("collapse", collapse_figure)
add_section("Collapse into one affine map", collapse_section)
