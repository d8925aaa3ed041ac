"""The search report's figures. Each takes numbers already computed (`search.report`) and
draws them; none computes a result. Sizes in pixels through `report.layout`."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from actscope.report.layout import CELL_PX, new_figure, outside_legend, panel_grid
from actscope.report.style import MUTED, RC, arm_colors


def functions_figure(z: np.ndarray, curves: list[dict], dpi: int) -> Figure:
    """f and f' of the top functions (solid) beside the references (dashed); ``curves``:
    ``{"label", "reference", "f", "df"}``."""
    colors = arm_colors([c["label"] for c in curves])
    with plt.rc_context(RC):
        fig, axes = panel_grid(2, dpi, cell_px=(560, 420), extra_px=(330, 60))
        for c in curves:
            ls, lw = ("--", 1.4) if c["reference"] else ("-", 1.8)
            axes[0].plot(z, c["f"], color=colors[c["label"]], label=c["label"], ls=ls, lw=lw)
            axes[1].plot(z, c["df"], color=colors[c["label"]], ls=ls, lw=lw)
        for ax, what, col in zip(axes, ("f(x)", "f'(x)"), ("f", "df")):
            v = np.concatenate([np.asarray(c[col], dtype=float) for c in curves])
            v = v[np.isfinite(v)]
            if v.size:  # a steep top function should not flatten the others
                lo, hi = np.percentile(v, [5, 95])
                pad = 0.25 * max(hi - lo, 1.0)
                ax.set_ylim(min(lo, -1.0) - pad, max(hi, 1.0) + pad)
            ax.set_xlabel("x")
            ax.set_title(what, fontsize=10)
            ax.axhline(0, color=MUTED, lw=0.6)
        outside_legend(fig)
    return fig


def accuracy_figure(rows: list[dict], dpi: int) -> Figure:
    """Overall test accuracy (mean over seeds, 95% interval where there is one) of the
    listed leaderboard rows ``{"label", "mean", "ci95", "reference"}``, best on top."""
    n = len(rows)
    with plt.rc_context(RC):
        fig = new_figure(dpi, CELL_PX[0] * 2.4, 110 + 26 * max(n, 2))
        ax = fig.subplots()
        y = np.arange(n)[::-1]
        for yi, r in zip(y, rows):
            color = MUTED if r["reference"] else "#2a9d8f"
            if r["ci95"]:
                lo, hi = r["ci95"]
                ax.plot([100 * lo, 100 * hi], [yi, yi], color=color, lw=2)
            ax.plot([100 * r["mean"]], [yi], "o", color=color)
        ax.set_yticks(y, [r["label"] for r in rows], fontsize=8)
        ax.set_xlabel("overall test accuracy, % (mean over seeds of the mean over tasks)")
        ax.set_title("Top candidates and references (grey): mean with 95% interval", fontsize=10)
    return fig


def pareto_figure(panels: list[dict], dpi: int) -> Figure:
    """Accuracy against each cost: all points, the front as a step line; ``panels``:
    ``{"xlabel", "cost", "accuracy", "front" (indices), "log"}``."""
    with plt.rc_context(RC):
        fig, axes = panel_grid(len(panels), dpi, cell_px=(520, 420))
        for ax, p in zip(axes, panels):
            x, a = np.asarray(p["cost"], dtype=float), 100 * np.asarray(p["accuracy"], dtype=float)
            ax.scatter(x, a, s=10, color="#3a7bd5", alpha=0.35)
            fr = np.asarray(p["front"], dtype=int)
            if fr.size:
                o = fr[np.argsort(x[fr])]
                ax.step(x[o], a[o], where="post", color="#e05c5c", lw=2, marker="o", ms=4)
            if p.get("log"):
                ax.set_xscale("log")
                ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels collide on a short range
            ax.set_xlabel(p["xlabel"])
            ax.set_ylabel("accuracy, %")
            ax.set_title(p.get("title", ""), fontsize=9)
    return fig


def features_figure(panels: list[dict], dpi: int) -> Figure:
    """Each feature at init (as ranks: what Spearman's ρ sees) against final accuracy,
    titled with ρ and its interval; ``panels``: ``{"feature", "x", "accuracy", "title"}``."""
    with plt.rc_context(RC):
        fig, axes = panel_grid(len(panels), dpi, cell_px=(360, 330))
        for ax, p in zip(axes, panels):
            ax.scatter(p["x"], 100 * np.asarray(p["accuracy"], dtype=float), s=6, alpha=0.4,
                       color="#2a9d8f")
            ax.set_xlabel(p["feature"], fontsize=8)
            ax.set_ylabel("accuracy, %", fontsize=8)
            ax.set_title(p["title"], fontsize=8)
    return fig
