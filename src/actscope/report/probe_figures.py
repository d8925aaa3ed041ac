"""The report of the probes (issue 4): a figure per probe, the probe table, the verdicts.

Per-layer figures show each arm's mean over seeds with its 95% interval (error bars,
absent with one seed); over-epoch figures show the mean over seeds with the range as a
band. Maps (regions, heatmaps) show the first member that did not diverge.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from actscope.analysis import probes
from actscope.data.boundaries import grid_over
from actscope.engines import NumpyEngine
from actscope.experiment.rundir import Run
from actscope.report.html import add_figure
from actscope.report.style import CLASS_COLORS, MUTED, RC, TEXT, arm_colors

_ENGINE = NumpyEngine()


def probe_info(run: Run) -> dict | None:
    return run.metrics.get("probes")


def _included(run: Run, probe: str) -> dict | None:
    """The run's probe info when ``probe`` was measured, else None (no figure)."""
    info = probe_info(run)
    return info if info and probe in info["include"] else None


def _dodge(j: int, run: Run) -> float:
    """x offset of arm ``j``, so that the arms' error bars do not overlap."""
    return 0.06 * (j - (len(run.arms) - 1) / 2)


def _stat(run: Run, arm: str, key: str) -> tuple[float, float, float] | None:
    """(mean, lo, hi) of a metric over an arm's seeds; lo = hi = mean without an interval."""
    s = run.metrics["arms"][arm]["summary"].get(key)
    if not s or s.get("mean") is None:
        return None
    ci = s.get("ci95") or [s["mean"], s["mean"]]
    return s["mean"], ci[0], ci[1]


def _layers(run: Run, arm: str, base: str, start: int = 1) -> tuple[list[int], list, list, list]:
    """Layers where ``base.L<i>`` has a value, with means and interval bounds."""
    idx, m, lo, hi = [], [], [], []
    depth = run.arms[arm].mlp.depth
    for i in range(start, depth + 2):
        st = _stat(run, arm, f"{base}.L{i}")
        if st is not None:
            idx.append(i)
            m.append(st[0])
            lo.append(st[0] - st[1])
            hi.append(st[2] - st[0])
    return idx, m, lo, hi


def _errorbar(ax, x, m, lo, hi, color, label, style="o-", offset=0.0) -> None:
    if not x:
        return
    ax.errorbar(np.asarray(x, dtype=float) + offset, m, yerr=[lo, hi], fmt=style, color=color,
                lw=2, ms=7, capsize=4, label=label)






def interval_note(run: Run) -> str:
    n = len(run.spec.seeds.as_list())
    return "mean ± 95% t-interval over seeds" if n > 1 else "one seed: no interval can be given"


def signal_figure(run: Run) -> Figure | None:
    """Mean |z| and |a| per layer, and the saturated / dead fractions, per arm."""
    info = _included(run, "signal")
    if info is None:
        return None
    colors = arm_colors(list(run.arms))
    with plt.rc_context(RC):
        fig, axes = plt.subplots(1, 3, figsize=(17, 5))
        for j, name in enumerate(run.arms):
            off = _dodge(j, run)
            _errorbar(axes[0], *_layers(run, name, "signal.z_abs_mean"), colors[name], name, "o-", off)
            _errorbar(axes[1], *_layers(run, name, "signal.a_abs_mean"), colors[name], None, "o-", off)
            _errorbar(axes[1], *_layers(run, name, "signal.a_abs_std"), colors[name], None, "s--", off)
            for base, style in (("signal.saturated", "o-"), ("signal.dead", "s--")):
                x, m, lo, hi = _layers(run, name, base)
                _errorbar(axes[2], x, [100 * v for v in m], [100 * v for v in lo], [100 * v for v in hi],
                          colors[name], None, style, off)
        titles = ("Mean |z| (pre-activation)", "|a| (post-activation): mean (o), std (s --)",
                  "% saturated (o; saturating) / dead units (s --; ReLU family)")
        for ax, title in zip(axes, titles):
            ax.set_title(title, color=TEXT, fontsize=10)
            ax.set_xlabel("hidden layer", color=MUTED)
            ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        axes[0].legend(fontsize=9)
        fig.suptitle(f"Signal propagation on the {info['split']} split ({interval_note(run)})",
                     fontsize=12, color=TEXT)
        fig.subplots_adjust(left=0.05, right=0.99, bottom=0.12, top=0.86, wspace=0.22)
    return fig


def _smooth(v: np.ndarray, w: int = 10) -> np.ndarray:
    """Trailing moving average over ``w`` points (shorter at the start)."""
    c = np.cumsum(np.insert(v, 0, 0.0))
    n = np.minimum(np.arange(1, len(v) + 1), w)
    return (c[1:] - c[np.arange(1, len(v) + 1) - n]) / n


def gradients_figure(run: Run) -> Figure | None:
    """Minibatch gradient norm per layer over the epochs; full-batch norm per layer at the end."""
    if _included(run, "gradients") is None:
        return None
    colors = arm_colors(list(run.arms))
    styles = ["-", "--", ":", "-."]
    with plt.rc_context(RC):
        fig, axes = plt.subplots(1, 2, figsize=(15, 5))
        for name, arm in run.arms.items():
            for i in range(1, arm.mlp.depth + 2):
                G = arm.history.values.get(f"train/batch_grad_norm.L{i}")
                if G is None:
                    continue
                rows = np.where(np.isfinite(G).any(axis=1))[0]
                with np.errstate(all="ignore"):
                    mean = _smooth(np.nanmean(G[rows], axis=1))
                every = max(1, len(rows) // 200)  # 200 points draw the same curve faster
                rows, mean = rows[::every], mean[::every]
                out = " (output)" if i == arm.mlp.depth + 1 else ""
                axes[0].plot(rows + 1, mean, styles[(i - 1) % 4], color=colors[name], lw=1.6,
                             label=f"{name} layer {i}{out}")
            _errorbar(axes[1], *_layers(run, name, "grad_norm"), colors[name], None)
        axes[0].set_yscale("log")
        axes[0].yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))  # no mathtext: faster
        axes[0].yaxis.set_minor_formatter(NullFormatter())
        axes[0].set_title("Minibatch gradient norm per layer (mean over seeds, 10-epoch moving "
                          "average)", color=TEXT, fontsize=11)
        axes[0].set_xlabel("Epoch", color=MUTED)
        axes[1].set_title("Full-batch gradient norm at the end (last = output layer)", color=TEXT,
                          fontsize=11)
        axes[1].set_xlabel("layer", color=MUTED)
        axes[1].xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        if axes[0].get_legend_handles_labels()[0]:
            axes[0].legend(fontsize=8)
        fig.suptitle("Gradient norms -- vanishing or exploding gradients", fontsize=12, color=TEXT)
        fig.subplots_adjust(left=0.06, right=0.99, bottom=0.12, top=0.86, wspace=0.18)
    return fig


def context_figure(run: Run) -> Figure | None:
    """Spearman rho between distance to the boundary and ||h|| per layer (and |logit|)."""
    info = _included(run, "context")
    if info is None:
        return None
    colors = arm_colors(list(run.arms))
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(10, 5.5))
        depth = max(a.mlp.depth for a in run.arms.values())
        for j, name in enumerate(run.arms):
            off = _dodge(j, run)
            for suffix, style, what in (("", "o-", "learned"), ("_true", "s--", "true")):
                x, m, lo, hi = _layers(run, name, f"context.rho_norm{suffix}")
                st = _stat(run, name, f"context.rho_logit{suffix}")
                if st is not None:
                    x, m = x + [depth + 1], m + [st[0]]
                    lo, hi = lo + [st[0] - st[1]], hi + [st[2] - st[0]]
                _errorbar(ax, x, m, lo, hi, colors[name], f"{name}, {what} boundary", style, off)
        ax.set_xticks(range(1, depth + 2))
        ax.set_xticklabels([f"‖h{i}‖" for i in range(1, depth + 1)] + ["|logit|"], color=MUTED)
        ax.axhline(0, color=MUTED, lw=0.8)
        ax.set_ylabel("Spearman ρ with distance to the boundary", color=MUTED)
        ax.legend(fontsize=9)
        ax.set_title(f"Geometric context: does a layer's magnitude encode distance to the boundary?\n"
                     f"{info['split']} split, {interval_note(run)}", color=TEXT, fontsize=11)
        fig.subplots_adjust(left=0.09, right=0.99, bottom=0.08, top=0.88)
    return fig


def representation_figure(run: Run) -> Figure | None:
    """Participation ratio and linear-probe accuracy per layer (layer 0: the input)."""
    info = _included(run, "representation")
    if info is None:
        return None
    colors = arm_colors(list(run.arms))
    base = info.get("baseline", {})
    with plt.rc_context(RC):
        fig, axes = plt.subplots(1, 2, figsize=(15, 5))
        for j, name in enumerate(run.arms):
            off = _dodge(j, run)
            for ax, key, scale in ((axes[0], "repr.pr", 1.0), (axes[1], "repr.probe_acc", 100.0)):
                x, m, lo, hi = _layers(run, name, key)
                if base.get(f"{key}.L0") is not None:  # None: the probe had one class to fit
                    x, m, lo, hi = [0] + x, [base[f"{key}.L0"]] + m, [0.0] + lo, [0.0] + hi
                _errorbar(ax, x, [scale * v for v in m], [scale * v for v in lo], [scale * v for v in hi],
                          colors[name], name if scale == 1.0 else None, "o-", off)
        axes[0].set_title("Participation ratio (effective dimensionality)", color=TEXT, fontsize=11)
        axes[1].set_title("Linear probe accuracy, % (fit on train, scored on "
                          f"{info['split']})", color=TEXT, fontsize=11)
        for ax in axes:
            ax.set_xlabel("layer (0 = input)", color=MUTED)
            ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        if axes[0].get_legend_handles_labels()[0]:
            axes[0].legend(fontsize=9)
        fig.suptitle(f"Representation geometry ({interval_note(run)})", fontsize=12, color=TEXT)
        fig.subplots_adjust(left=0.06, right=0.99, bottom=0.12, top=0.86, wspace=0.18)
    return fig


def regions_figure(run: Run) -> Figure | None:
    """Linear regions: the count over recorded epochs and the region map of one member."""
    info = _included(run, "regions")
    arms = [n for n, a in run.arms.items() if probes.regions_defined(a.mlp)]
    if info is None or not arms or not run.dataset.is_2d:
        return None
    colors = arm_colors(list(run.arms))
    X_all = np.vstack([run.dataset.split(s)[0] for s in run.dataset.splits])
    xx, yy = grid_over(X_all, min(run.spec.probes.grid, 200))
    with plt.rc_context(RC):
        fig, axes = plt.subplots(1, 1 + len(arms), figsize=(6.5 * (1 + len(arms)), 5.5), squeeze=False)
        ax = axes[0, 0]
        if len(info.get("epochs", [])) < 2:  # measured at the end only: one bar per arm
            for j, name in enumerate(arms):
                st = _stat(run, name, "regions.count")
                if st is not None:
                    ax.bar(j, st[0], yerr=[[st[0] - st[1]], [st[2] - st[0]]], color=colors[name],
                           capsize=6, alpha=0.8, width=0.5)
            ax.set_xlim(-0.8, max(len(arms), 2) - 0.2)
            ax.set_xticks(range(len(arms)))
            ax.set_xticklabels(arms, color=MUTED)
        for name in arms if len(info.get("epochs", [])) > 1 else []:
            R = run.arms[name].history.values.get("grid/regions.count")
            if R is None:
                continue
            rows = np.where(np.isfinite(R).any(axis=1))[0]
            with np.errstate(all="ignore"):
                mean = np.nanmean(R[rows], axis=1)
            ax.plot(rows + 1, mean, "o-", color=colors[name], lw=2, label=name)
            if R.shape[1] > 1:
                ax.fill_between(rows + 1, np.nanmin(R[rows], axis=1), np.nanmax(R[rows], axis=1),
                                color=colors[name], alpha=0.15)
        if len(info.get("epochs", [])) > 1:
            ax.set_xlabel("Epoch", color=MUTED)
            ax.set_title("Linear regions (mean over seeds, band: range)", color=TEXT, fontsize=11)
        else:
            ax.set_title(f"Linear regions at the end ({interval_note(run)})", color=TEXT, fontsize=11)
        ax.set_ylabel("distinct activation patterns on the grid", color=MUTED)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=9)
        for ax, name in zip(axes[0, 1:], arms):
            arm = run.arms[name]
            k = arm.first_finite()
            ids = probes.activation_regions(_ENGINE, arm.mlp, arm.member(k), xx, yy)[0]
            n = int(ids.max()) + 1
            perm = np.random.default_rng(0).permutation(n)
            cmap = ListedColormap(plt.get_cmap("tab20")(np.arange(20) % 20))
            ax.imshow(perm[ids] % 20, origin="lower", cmap=cmap, alpha=0.55, aspect="auto",
                      interpolation="nearest", extent=(xx.min(), xx.max(), yy.min(), yy.max()))
            ax.grid(False)
            X, y = run.dataset.split("test")
            for c in np.unique(y):
                ax.scatter(X[y == c, 0], X[y == c, 1], s=14, c=CLASS_COLORS[int(c) % len(CLASS_COLORS)],
                           edgecolors="white", linewidths=0.3)
            ax.set_title(f"{name} (seed {arm.seeds[k]}): {n} regions", color=colors[name], fontsize=11)
        fig.subplots_adjust(left=0.07, right=0.99, bottom=0.08, top=0.92, wspace=0.18)
    return fig


def _mosaic(H: np.ndarray, gap: int = 3) -> np.ndarray:
    """Unit maps (U, ny, nx), each scaled to [0, 1] on its own, side by side with NaN gaps."""
    U, ny, nx = H.shape
    lo = H.reshape(U, -1).min(1)[:, None, None]
    span = np.ptp(H.reshape(U, -1), axis=1)[:, None, None]
    scaled = np.where(span > 0, (H - lo) / np.where(span > 0, span, 1.0), 0.5)
    out = np.full((ny, U * (nx + gap) - gap), np.nan)
    for u in range(U):
        out[:, u * (nx + gap):u * (nx + gap) + nx] = scaled[u]
    return out


def heatmaps_figure(run: Run, max_units: int = 16, side: int = 64) -> Figure | None:
    """Each hidden unit's output over the input plane (first member), as the TensorFlow
    Playground shows them: one row per arm and layer, one tile per unit."""
    info = _included(run, "heatmaps")
    if info is None or not run.dataset.is_2d:
        return None
    X_all = np.vstack([run.dataset.split(s)[0] for s in run.dataset.splits])
    xx, yy = grid_over(X_all, side)
    rows = [(name, i) for name, a in run.arms.items() for i in range(a.mlp.depth)]
    cols = min(max_units, max(max(a.mlp.hidden) for a in run.arms.values()))
    colors = arm_colors(list(run.arms))
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="white")
    with plt.rc_context(RC):
        fig, axes = plt.subplots(len(rows), 1, figsize=(1.25 * cols + 1.2, 1.45 * len(rows) + 0.6),
                                 squeeze=False)
        for ax, (name, i) in zip(axes[:, 0], rows):
            a = run.arms[name]
            H = probes.unit_heatmaps(_ENGINE, a.mlp, a.member(a.first_finite()), xx, yy)[i][0][:cols]
            ax.imshow(_mosaic(H), origin="lower", cmap=cmap, aspect="equal", interpolation="nearest")
            ax.set_xticks([(u + 0.5) * side + u * 3 for u in range(H.shape[0])])
            ax.set_xticklabels([f"unit {u + 1}" for u in range(H.shape[0])], fontsize=7, color=MUTED)
            ax.set_yticks([])
            ax.grid(False)
            for sp in ax.spines.values():
                sp.set_visible(False)
            ax.set_ylabel(f"{name}\nlayer {i + 1}", color=colors[name], fontsize=9)
        fig.suptitle("Neuron heatmaps: each hidden unit's output over the input plane\n"
                     "(blue low, red high, colour scale per unit)", fontsize=10, color=TEXT)
        fig.subplots_adjust(left=0.08, right=0.99, top=0.86, bottom=0.04, hspace=0.35)
    return fig


def over_epochs_figure(run: Run) -> Figure | None:
    """The main probes of the last hidden layer at every recorded epoch (if more than one)."""
    info = probe_info(run)
    if not info or len(info.get("epochs", [])) < 2:
        return None
    colors = arm_colors(list(run.arms))
    s = info["split"]
    panels = [("context.rho_norm_true", "ρ(distance to true boundary, ‖h_L‖)"),
              ("context.rho_norm", "ρ(distance to learned boundary, ‖h_L‖)"),
              ("repr.pr", "participation ratio, last layer"),
              ("repr.probe_acc", "linear probe accuracy, last layer"),
              ("signal.saturated", "saturated fraction, last layer"),
              ("signal.dead", "dead units, last layer")]
    with plt.rc_context(RC):
        fig, axes = plt.subplots(2, 3, figsize=(17, 9))
        for ax, (base, title) in zip(axes.ravel(), panels):
            for name, arm in run.arms.items():
                V = arm.history.values.get(f"{s}/{base}.L{arm.mlp.depth}")
                if V is None:
                    continue
                rows = np.where(np.isfinite(V).any(axis=1))[0]
                with np.errstate(all="ignore"):
                    mean = np.nanmean(V[rows], axis=1)
                ax.plot(rows + 1, mean, "o-", color=colors[name], lw=2, label=name)
                if V.shape[1] > 1:
                    ax.fill_between(rows + 1, np.nanmin(V[rows], axis=1), np.nanmax(V[rows], axis=1),
                                    color=colors[name], alpha=0.15)
            ax.set_title(title, color=TEXT, fontsize=10)
            ax.set_xlabel("Epoch", color=MUTED)
        if axes[0, 0].get_legend_handles_labels()[0]:
            axes[0, 0].legend(fontsize=8)
        fig.suptitle("Probes over training (mean over seeds, band: range)", fontsize=12, color=TEXT)
        fig.subplots_adjust(left=0.05, right=0.99, bottom=0.07, top=0.92, wspace=0.2, hspace=0.3)
    return fig


add_figure("probe_signal", signal_figure)
add_figure("probe_gradients", gradients_figure)
add_figure("probe_context", context_figure)
add_figure("probe_representation", representation_figure)
add_figure("probe_regions", regions_figure, needs_2d=True)
add_figure("probe_heatmaps", heatmaps_figure, needs_2d=True)
add_figure("probes_over_epochs", over_epochs_figure)
