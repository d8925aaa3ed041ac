"""The report of the probes (issue 4): a figure per probe.

Per-layer figures show each arm's mean over seeds with its 95% interval (error bars,
absent with one seed); over-epoch figures show the mean over seeds with the range as a
band. Maps (regions, heatmaps: ``map_figures``) show the first member that did not
diverge. Legends sit outside the axes; a figure whose probe did not run says why.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from actscope.experiment.rundir import Run
from actscope.report.html import add_figure
from actscope.report.layout import new_figure, outside_legend
from actscope.report.map_figures import heatmaps_figure, regions_figure
from actscope.report.probe_common import (
    dodge,
    errorbar,
    included,
    interval_note,
    layers,
    not_measured,
    probe_info,
    smooth,
    stat,
)
from actscope.report.style import MUTED, RC, TEXT, arm_colors

__all__ = ["interval_note", "probe_info"]  # what the probes' sections read from here (re-exported)
LEGEND_PX = 230  # room on the right of a figure for its legend


def _arm_handles(run: Run, colors: dict) -> list[Line2D]:
    return [Line2D([], [], color=colors[n], lw=2, marker="o", ms=5, label=n) for n in run.arms]


def _style_handles(pairs) -> list[Line2D]:
    return [Line2D([], [], color=MUTED, ls=ls, marker=m, ms=5, label=lab) for ls, m, lab in pairs]


def _legend(fig: Figure, handles: list) -> None:
    outside_legend(fig, handles, [h.get_label() for h in handles], fontsize=8)


def _figure(run: Run, n: int, height: int = 460) -> tuple[Figure, list]:
    """``n`` panels side by side with room for a legend on the right."""
    fig = new_figure(run.spec.report.dpi, n * 440 + LEGEND_PX, height)
    return fig, list(np.atleast_1d(fig.subplots(1, n)))


def signal_figure(run: Run) -> Figure | tuple[Figure, str | None] | str | None:
    """Mean |z| and |a| per layer, and the saturated / dead fractions, per arm."""
    info = included(run, "signal")
    if info is None:
        return not_measured(run, "signal")
    colors = arm_colors(list(run.arms))
    fractions = any(layers(run, n, b)[0] for n in run.arms for b in ("signal.saturated", "signal.dead"))
    with plt.rc_context(RC):
        fig, axes = _figure(run, 3 if fractions else 2)
        for j, name in enumerate(run.arms):
            off = dodge(j, run)
            errorbar(axes[0], *layers(run, name, "signal.z_abs_mean"), colors[name], None, "o-", off)
            errorbar(axes[1], *layers(run, name, "signal.a_abs_mean"), colors[name], None, "o-", off)
            errorbar(axes[1], *layers(run, name, "signal.a_abs_std"), colors[name], None, "s--", off)
            for base, style in (("signal.saturated", "o-"), ("signal.dead", "s--")) if fractions else ():
                x, m, lo, hi = layers(run, name, base)
                errorbar(axes[2], x, [100 * v for v in m], [100 * v for v in lo], [100 * v for v in hi],
                         colors[name], None, style, off)
        titles = (f"Mean |z| (pre-activation)\n{info['split']} split",
                  f"|a| (post-activation)\n{info['split']} split",
                  f"% saturated ({info['split']} split)\n% dead units (train split)")
        for ax, title in zip(axes, titles):
            ax.set_title(title, color=TEXT, fontsize=10)
            ax.set_xlabel("hidden layer", color=MUTED)
            ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        if fractions:
            axes[2].set_ylim(-3, 103)
        _legend(fig, _arm_handles(run, colors) + _style_handles(
            [("-", "o", "mean |a| / saturated"), ("--", "s", "std |a| / dead")]))
        fig.suptitle(f"Signal propagation ({interval_note(run)})", fontsize=12, color=TEXT)
    if not fractions:
        return fig, ("No saturated or dead fractions: no layer is saturating (sigmoid, tanh, ...) "
                     "or piecewise linear (ReLU family).")
    return fig


def _batch_norms(ax, run: Run, colors: dict, styles: list[str]) -> int:
    """The minibatch gradient norm of every layer over the epochs; returns the most layers."""
    most = 0
    for name, arm in run.arms.items():
        for i in range(1, arm.mlp.depth + 2):
            G = arm.history.band(f"train/batch_grad_norm.L{i}")  # summaries over members
            if G is None:
                continue
            most = max(most, i)
            rows, mean = G[0] - 1, smooth(G[1])
            every = max(1, len(rows) // 200)  # 200 points draw the same curve faster
            ax.plot(rows[::every] + 1, mean[::every], styles[(i - 1) % 4], color=colors[name], lw=1.6)
    return most


def gradients_figure(run: Run) -> Figure | tuple[Figure, str | None] | str | None:
    """Minibatch gradient norm per layer over the epochs; full-batch norm per layer at the end."""
    if included(run, "gradients") is None:
        return not_measured(run, "gradients")
    colors = arm_colors(list(run.arms))
    styles = ["-", "--", ":", "-."]
    batch = any("train/batch_grad_norm.L1" in arm.history for arm in run.arms.values())
    with plt.rc_context(RC):
        fig, axes = _figure(run, 2 if batch else 1)
        most = _batch_norms(axes[0], run, colors, styles) if batch else 0
        for name in run.arms:
            errorbar(axes[-1], *layers(run, name, "grad_norm"), colors[name], None)
        if most:
            axes[0].set_yscale("log")
            axes[0].yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))  # labels within a decade
            axes[0].yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))  # no mathtext: faster
            axes[0].yaxis.set_minor_formatter(NullFormatter())
            axes[0].set_title("Minibatch gradient norm per layer\n(mean over seeds, 10-epoch moving "
                              "average)", color=TEXT, fontsize=10)
            axes[0].set_xlabel("Epoch", color=MUTED)
        axes[-1].set_title("Full-batch gradient norm at the end\n(last = output layer)", color=TEXT,
                           fontsize=10)
        axes[-1].set_xlabel("layer", color=MUTED)
        axes[-1].xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        depth = max(a.mlp.depth for a in run.arms.values())
        _legend(fig, _arm_handles(run, colors) + _style_handles(
            [(styles[(i - 1) % 4], None, f"layer {i}" + (" (output)" if i == depth + 1 else ""))
             for i in range(1, most + 1)]))
        fig.suptitle("Gradient norms -- vanishing or exploding gradients", fontsize=12, color=TEXT)
    if not most:
        return fig, ("Minibatch gradient norms were not recorded (an engine that fuses whole "
                     "epochs, batch_gradients = \"auto\"): only the final full-batch norms are shown.")
    return fig


def context_figure(run: Run) -> Figure | str | None:
    """Spearman rho between distance to the boundary and ||h|| per layer (and |logit|)."""
    info = included(run, "context")
    if info is None:
        return not_measured(run, "context")
    colors = arm_colors(list(run.arms))
    with plt.rc_context(RC):
        fig = new_figure(run.spec.report.dpi, 900 + LEGEND_PX, 520)
        ax = fig.subplots()
        depth = max(a.mlp.depth for a in run.arms.values())
        for j, name in enumerate(run.arms):
            for suffix, style in (("", "o-"), ("_true", "s--")):
                x, m, lo, hi = layers(run, name, f"context.rho_norm{suffix}")
                st = stat(run, name, f"context.rho_logit{suffix}")
                if st is not None:
                    x, m = x + [depth + 1], m + [st[0]]
                    lo, hi = lo + [max(st[0] - st[1], 0)], hi + [max(st[2] - st[0], 0)]
                errorbar(ax, x, m, lo, hi, colors[name], None, style, dodge(j, run))
        ax.set_xticks(range(1, depth + 2))
        ax.set_xticklabels([f"‖h{i}‖" for i in range(1, depth + 1)] + ["|logit|"], color=MUTED)
        ax.axhline(0, color=MUTED, lw=0.8)
        ax.set_ylim(-1.05, 1.05)  # the range of a correlation
        ax.set_ylabel("Spearman ρ with distance to the boundary", color=MUTED)
        _legend(fig, _arm_handles(run, colors) + _style_handles(
            [("-", "o", "learned boundary"), ("--", "s", "true boundary")]))
        ax.set_title(f"Geometric context: does a layer's magnitude encode distance to the boundary?\n"
                     f"{info['split']} split, {interval_note(run)}", color=TEXT, fontsize=11)
    return fig


def representation_figure(run: Run) -> Figure | str | None:
    """Participation ratio and linear-probe accuracy per layer (layer 0: the input)."""
    info = included(run, "representation")
    if info is None:
        return not_measured(run, "representation")
    colors = arm_colors(list(run.arms))
    base = info.get("baseline", {})
    with plt.rc_context(RC):
        fig, axes = _figure(run, 2)
        for j, name in enumerate(run.arms):
            for ax, key, scale in ((axes[0], "repr.pr", 1.0), (axes[1], "repr.probe_acc", 100.0)):
                x, m, lo, hi = layers(run, name, key)
                if base.get(f"{key}.L0") is not None:  # None: the probe had one class to fit
                    x, m, lo, hi = [0] + x, [base[f"{key}.L0"]] + m, [0.0] + lo, [0.0] + hi
                errorbar(ax, x, [scale * v for v in m], [scale * v for v in lo], [scale * v for v in hi],
                         colors[name], None, "o-", dodge(j, run))
        axes[0].set_title("Participation ratio\n(effective dimensionality)", color=TEXT, fontsize=10)
        axes[1].set_title("Linear probe accuracy, %\n(fit on train, scored on "
                          f"{info['split']})", color=TEXT, fontsize=10)
        for ax in axes:
            ax.set_xlabel("layer (0 = input)", color=MUTED)
            ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        _legend(fig, _arm_handles(run, colors))
        fig.suptitle(f"Representation geometry ({interval_note(run)})", fontsize=12, color=TEXT)
    return fig


EPOCH_PANELS = [("context.rho_norm_true", "ρ(distance to true boundary, ‖h_L‖)", "context"),
                ("context.rho_norm", "ρ(distance to learned boundary, ‖h_L‖)", "context"),
                ("repr.pr", "participation ratio, last layer", "representation"),
                ("repr.probe_acc", "linear probe accuracy, last layer", "representation"),
                ("signal.saturated", "saturated fraction, last layer", "signal"),
                ("signal.dead", "dead units (train split), last layer", "signal")]


def _series(run: Run, split: str, base: str) -> dict[str, tuple]:
    """Per arm, ``History.band`` of ``base`` at its last layer (epochs, mean, min, max), where any."""
    split = "train" if base == "signal.dead" else split
    out = {}
    for name, arm in run.arms.items():
        V = arm.history.band(f"{split}/{base}.L{arm.mlp.depth}")
        if V is not None and len(V[0]):
            out[name] = V
    return out


def over_epochs_figure(run: Run) -> Figure | tuple[Figure, str | None] | str | None:
    """The main probes of the last hidden layer at every recorded epoch (if more than one);
    only the panels with values, and a note naming the others and why they are absent."""
    info = probe_info(run)
    if not info or len(info.get("epochs", [])) < 2:
        return None
    colors = arm_colors(list(run.arms))
    drawn = [(p, _series(run, info["split"], p[0])) for p in EPOCH_PANELS]
    missing = [(title, probe) for (_, title, probe), s in drawn if not s]
    drawn = [(p, s) for p, s in drawn if s]
    if not drawn:
        return "no probe with values over the epochs was measured"
    cols = min(3, len(drawn))
    rows = -(-len(drawn) // cols)
    with plt.rc_context(RC):
        fig = new_figure(run.spec.report.dpi, cols * 440 + LEGEND_PX, rows * 380 + 60)
        axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
        for ax in axes[len(drawn):]:
            fig.delaxes(ax)
        for ax, ((_, title, _), series) in zip(axes, drawn):
            for name, (ep, mean, lo, hi) in series.items():
                ax.plot(ep, mean, "o-", color=colors[name], lw=2)
                if len(run.arms[name].seeds) > 1:
                    ax.fill_between(ep, lo, hi, color=colors[name], alpha=0.15)
            ax.set_title(title, color=TEXT, fontsize=10)
            ax.set_xlabel("Epoch", color=MUTED)
        _legend(fig, _arm_handles(run, colors))
        fig.suptitle("Probes over training (mean over seeds, band: range)", fontsize=12, color=TEXT)
    return fig, _missing_note(missing, info)


def _missing_note(missing: list[tuple[str, str]], info: dict) -> str | None:
    """Why panels are absent: the probe was not included, or it has no values here."""
    if not missing:
        return None
    parts = []
    for title, probe in missing:
        why = ("not in [probes] include" if probe not in info["include"]
               else "no values for these activations or data")
        parts.append(f"{title} ({why})")
    return "Not shown: " + "; ".join(parts) + "."


add_figure("probe_signal", signal_figure)
add_figure("probe_gradients", gradients_figure)
add_figure("probe_context", context_figure)
add_figure("probe_representation", representation_figure)
add_figure("probe_regions", regions_figure, needs_2d=True)
add_figure("probe_heatmaps", heatmaps_figure, needs_2d=True)
add_figure("probes_over_epochs", over_epochs_figure)
