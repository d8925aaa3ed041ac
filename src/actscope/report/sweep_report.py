"""The sweep report: figures (Pareto fronts, fair vs naive, accuracy maps, rates, timings)
and one self-contained HTML page; also the learning-rate section of a tuned run's report.

Figures take the analysis dict (sweep_analysis.analyse) and return a Figure, or None
when the sweep lacks what they need.
"""

from __future__ import annotations

import base64
import html as _html
from pathlib import Path

import jinja2
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from actscope._util.atomic import atomic_path, atomic_write
from actscope.analysis import cost
from actscope.report.layout import grid_shape
from actscope.report.page_css import PAGE_CSS
from actscope.report.style import MUTED, RC, arm_colors, write_figure


def _pct(v) -> str:
    return "--" if v is None else f"{100 * v:.1f}%"


def _pp(v) -> str:
    return "--" if v is None else f"{100 * v:+.1f} pp"


def _colors(analysis: dict) -> dict:
    return arm_colors(list(analysis["pareto"]))


def pareto_figure(analysis: dict) -> Figure | None:
    """Test accuracy (tuned rates, mean over seeds) against FLOPs per prediction."""
    par = analysis["pareto"]
    if not par:
        return None
    colors = _colors(analysis)
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(8.5, 5.2))
        for series, p in par.items():
            c = colors[series]
            ax.scatter(p["flops"], p["accuracy"], s=14, color=c, alpha=0.35)
            fr = p["front"]
            ax.step([p["flops"][i] for i in fr], [p["accuracy"][i] for i in fr], where="post",
                    color=c, lw=2, marker="o", ms=5, label=series)
        ax.axhline(analysis["target_accuracy"], color=MUTED, ls="--", lw=1)
        x0 = min((min(p["flops"]) for p in par.values() if p["flops"]), default=1)
        ax.text(x0, analysis["target_accuracy"], f" target {100 * analysis['target_accuracy']:.0f}%",
                va="bottom", color=MUTED, fontsize=8)
        ax.set_xscale("log")
        ax.set_xlabel("FLOPs per prediction (log scale)")
        ax.set_ylabel("test accuracy (mean over seeds)")
        rate = "each configuration at its tuned rate" if analysis["tuned"] else "one rate"
        ax.set_title(f"Accuracy vs inference cost: Pareto front per activation ({rate})", fontsize=10)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # off the data
        fig.tight_layout()
    return fig


def fair_vs_naive_figure(analysis: dict) -> Figure | None:
    """At the focus architecture: test accuracy at the shared rate and at each tuned rate."""
    focus = (analysis.get("gaps") or {}).get("focus")
    if not analysis["tuned"] or focus is None:
        return None
    cfgs = [c for c in analysis["configs"] if c.get("hidden") == focus and c.get("naive") and c.get("tuned")]
    if not cfgs:
        return None
    colors = _colors(analysis)
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(min(max(5.5, 1.3 * len(cfgs) + 2), 13.0), 4.2))
        x = np.arange(len(cfgs))
        for j, (name, alpha) in enumerate((("naive", 0.45), ("tuned", 1.0))):
            means = [c[name]["mean"] or 0 for c in cfgs]
            err = [[m - (c[name]["ci95"] or [m, m])[0] for m, c in zip(means, cfgs)],
                   [(c[name]["ci95"] or [m, m])[1] - m for m, c in zip(means, cfgs)]]
            ax.bar(x + (j - 0.5) * 0.38, means, 0.36, yerr=err, capsize=3, alpha=alpha,
                   color=[colors.get(c["series"], "#555") for c in cfgs],
                   label=f"shared rate {analysis['shared_lr']:g}" if name == "naive" else "own tuned rate")
            for xi, c in zip(x, cfgs):
                ax.text(xi + (j - 0.5) * 0.38, 0.42, f"lr {c[name]['lr']:g}", ha="center",
                        fontsize=7, color="white")
        ax.set_xticks(x, [c["series"] for c in cfgs], fontsize=8)
        ax.set_ylim(0.4, 1.05)
        ax.set_ylabel("test accuracy (95% CI over seeds)")
        ax.set_title(f"Naive (one shared rate) vs fair (tuned rate), architecture {focus}", fontsize=10)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # off the bars
        fig.tight_layout()
    return fig


def accuracy_map_figure(analysis: dict) -> Figure | None:
    """Depth x width maps of mean test accuracy (at the tuned rates, or the one rate of a
    sweep that tuned none), one panel per series, wrapped into a grid of 3 to 4 columns."""
    cfgs = [c for c in analysis["configs"] if c.get("tuned")]
    depths = sorted({c["depth"] for c in cfgs})
    widths = sorted({c["width"] for c in cfgs})
    series = list(dict.fromkeys(c["series"] for c in cfgs))
    if len(depths) < 2 or len(widths) < 2 or not series:
        return None
    with plt.rc_context(RC):
        rows, cols = grid_shape(len(series))
        fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols + 1, 3.0 * rows), squeeze=False)
        for ax in axes.flat[len(series):]:
            fig.delaxes(ax)
        for ax, s in zip(axes.flat, series):
            grid = np.full((len(depths), len(widths)), np.nan)
            for c in cfgs:
                if c["series"] == s and c["hidden"] == "-".join([str(c["width"])] * c["depth"]):
                    grid[depths.index(c["depth"]), widths.index(c["width"])] = c["tuned"]["mean"] or np.nan
            im = ax.imshow(grid, vmin=0.5, vmax=1.0, cmap="viridis", origin="lower", aspect="auto")
            for (i, j), v in np.ndenumerate(grid):
                if np.isfinite(v):
                    ax.text(j, i, f"{100 * v:.0f}", ha="center", va="center", fontsize=7,
                            color="white" if v < 0.8 else "black")
            ax.set_xticks(range(len(widths)), widths, fontsize=7)
            ax.set_yticks(range(len(depths)), depths, fontsize=7)
            ax.set_xlabel("width")
            ax.set_title(s, fontsize=9)
            ax.grid(False)
            ax.set_ylabel("depth")
        fig.colorbar(im, ax=list(axes.flat[:len(series)]), shrink=0.85, label="test accuracy")
        fixed = sorted({c["tuned"]["lr"] for c in cfgs})
        rate = ("at each configuration's tuned rate" if analysis["tuned"] else
                f"at lr {fixed[0]:g}" if len(fixed) == 1 else "at each configuration's own fixed rate")
        fig.suptitle(f"Mean test accuracy over seeds {rate} (%)", fontsize=10, y=1.04)
    return fig


def lr_figure(analysis: dict) -> Figure | None:
    """Mean validation accuracy against the learning rate, at the focus architecture."""
    focus = (analysis.get("gaps") or {}).get("focus")
    cfgs = [c for c in analysis["configs"] if c.get("hidden") == focus and len(c["rates"]) > 1]
    if not analysis["tuned"] or not cfgs:
        return None
    colors = _colors(analysis)
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(6.5, 4))
        for c in cfgs:
            ax.plot(c["rates"], c["val_accuracy_by_rate"], marker="o", color=colors.get(c["series"]),
                    label=c["series"])
            ax.scatter([c["tuned"]["lr"]], [c["val_accuracy_by_rate"][c["rates"].index(c["tuned"]["lr"])]],
                       s=120, facecolors="none", edgecolors=colors.get(c["series"]), lw=2)
        ax.axvline(analysis["shared_lr"], color=MUTED, ls="--", lw=1)
        ax.set_xscale("log")
        ax.set_xlabel("learning rate (dashed: the shared rate; circles: chosen)")
        ax.set_ylabel("validation accuracy (mean over seeds)")
        ax.set_title(f"Learning-rate tuning on the validation split, architecture {focus}", fontsize=10)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # off the curves
        fig.tight_layout()
    return fig


def latency_figure(analysis: dict) -> Figure | None:
    """Measured cost of each activation alone (ns per element, NumPy float64)."""
    lat = analysis.get("latency") or {}
    ns = lat.get("activation_ns_per_element") or {}
    if not ns:
        return None
    colors = arm_colors(list(ns))
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(6, 3.2))
        names = list(ns)
        ax.barh(names, [ns[n] for n in names], color=[colors[n] for n in names])
        for i, n in enumerate(names):
            ax.text(ns[n], i, f" {ns[n]:.2f}", va="center", fontsize=8)
        ax.set_xlabel("ns per element (measured on this machine)")
        ax.set_title("The activation alone: measured cost", fontsize=10)
        fig.tight_layout()
    return fig


SWEEP_FIGURES = {"pareto": pareto_figure, "fair_vs_naive": fair_vs_naive_figure,
                 "accuracy_map": accuracy_map_figure, "learning_rate": lr_figure,
                 "activation_cost": latency_figure}


# Text ---------------------------------------------------------------------------------------

def _survival_text(ratio: float | None) -> str:
    """How the naive gap fares under tuning, in words."""
    if ratio is None:
        return ""
    if ratio < 0:
        return "; the gap reverses after tuning"
    if ratio > 1:
        return f"; tuning widens the gap ({ratio:.1f}x)"
    return f"; {100 * ratio:.0f}% of the gap survives tuning"


def closing_note(analysis: dict) -> list[str]:
    """The sentences that answer the sweep's question (also printed by the CLI)."""
    out = []
    tgt = f"{100 * analysis['target_accuracy']:.0f}%"
    frac = f"{100 * analysis['success_fraction']:.0f}%"
    which = "tuned" if analysis["tuned"] else "naive"
    for series, best in analysis["cheapest"][which].items():
        if best is None:
            out.append(f"{series}: no network in the sweep reaches {tgt} test accuracy in {frac} of seeds.")
        else:
            out.append(f"{series}: cheapest network reaching {tgt} in {100 * best['success']:.0f}% of seeds "
                       f"is {best['hidden']} ({best['flops']} FLOPs, {best['n_params']} parameters, "
                       f"lr {best['lr']:g}, mean test accuracy {_pct(best['mean'])}).")
    g = analysis.get("gaps")
    if g and analysis["tuned"]:
        ref = g["reference"]
        for row in g["focus_rows"]:
            n, t = row["naive"], row["tuned"]
            if not n or not t:
                continue
            s_txt = _survival_text(row["survives"])
            out.append(f"At {g['focus']}: {ref} minus {row['activation']} is {_pp(n['mean'])} at the shared "
                       f"rate {analysis['shared_lr']:g} and {_pp(t['mean'])} at each one's tuned rate "
                       f"({ref} {t['ref_lr']:g}, {row['activation']} {t['other_lr']:g}){s_txt}.")
        for act, o in g["overall"].items():
            if o["naive_mean"] is None or o["tuned_mean"] is None:
                continue
            s_txt = _survival_text(o["survives"])
            n = o["n_architectures"]
            out.append(f"Over {n} architectures: {ref} minus {act} averages {_pp(o['naive_mean'])} "
                       f"naive, {_pp(o['tuned_mean'])} tuned{s_txt}. {ref} is significantly better "
                       f"(Holm-adjusted p ≤ 0.05) in {o['naive_significant']}/{n} naive and "
                       f"{o['tuned_significant']}/{n} tuned; {act} is significantly better in "
                       f"{o.get('naive_reversed', 0)}/{n} naive and {o.get('tuned_reversed', 0)}/{n} tuned.")
            out += [f"{o[k]['verdict']}." for k in ("naive_test", "tuned_test") if o.get(k)]
        if g.get("warning"):
            out.append(f"{g['warning']}.")
    edge = analysis.get("grid_edge") or {}
    hi = {a: e["highest"] for a, e in edge.items() if e["highest"]}
    if hi:
        top = max(analysis["lr_grid"])
        txt = ", ".join(f"{a} {n}/{edge[a]['n']}" for a, n in hi.items())
        out.append(f"Configurations that chose the largest rate of the grid ({top:g}), where a wider "
                   f"grid might help further: {txt}.")
    return out


_TEMPLATE = jinja2.Template("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>actscope sweep -- {{ a.name }}</title>
<style>
""" + PAGE_CSS + """</style></head><body>
<h1>Sweep: {{ a.name }}</h1>
{% if a.description %}<p>{{ a.description }}</p>{% endif %}
<p class="note">{{ a.n_configs }} configurations, {{ a.seeds }} seeds each, {{ a.epochs }} epochs,
engine {{ a.engine }}; {{ a.n_rows }} rows in {{ tables }}.
{% if a.tuned %}Fair comparison: every configuration was trained at each rate of {{ grid }}; the rate
with the best mean validation accuracy over seeds was chosen per configuration (ties: lower validation
loss; a diverged seed counts as accuracy 0); test accuracy is reported at that rate. The naive
comparison uses the one shared rate {{ a.shared_lr }} for everyone.{% endif %}
Intervals of a mean are 95% BCa bootstrap over seeds (they stay within 0-100%); gaps are paired by
seed: Hodges-Lehmann estimate with the Walsh-average 95% interval of the exact Wilcoxon signed-rank
test, Holm-corrected across every gap of the sweep (α = 0.05), equivalence by two one-sided tests
within ±1 pp.</p>
<h2>Answer</h2><div class="answer">{% for s in note %}<p>{{ s }}</p>{% endfor %}</div>
<h2>Cheapest network per activation</h2>
<p class="note">The configuration with the fewest FLOPs per prediction whose test accuracy reaches
{{ pct(a.target_accuracy) }} in at least {{ pct(a.success_fraction) }} of its seeds.</p>
<table><tr><th>activation</th><th>{{ "tuned: network" if a.tuned else "network" }}</th><th>FLOPs</th>
<th>params</th><th>lr</th><th>mean acc</th>
{% if a.tuned %}<th>naive: network</th><th>FLOPs</th>{% endif %}</tr>
{% for s, t in a.cheapest.tuned.items() %}{% set n = a.cheapest.naive.get(s) %}
<tr><td>{{ s }}</td>{% if t %}<td>{{ t.hidden }}</td><td>{{ t.flops }}</td><td>{{ t.n_params }}</td>
<td>{{ t.lr }}</td><td>{{ pct(t.mean) }}</td>{% else %}<td colspan="5">none reaches the target</td>{% endif %}
{% if a.tuned %}{% if n %}<td>{{ n.hidden }}</td><td>{{ n.flops }}</td>{% else %}<td colspan="2">none</td>
{% endif %}{% endif %}</tr>
{% endfor %}</table>
{% if gaps %}<h2>Gaps to {{ gaps.reference }}: naive vs fair</h2>
<p class="note">{{ gaps.reference }} minus the other activation in test accuracy (percentage points), paired
by seed, at the shared rate (naive) and at each one's tuned rate (fair).</p>
<table><tr><th>activation</th><th>architecture</th><th>naive gap</th><th>95% CI</th><th>fair gap</th>
<th>95% CI</th><th>rates (ref / other)</th><th>survives</th></tr>
{% for r in gaps.per_architecture %}<tr><td>{{ r.activation }}</td><td>{{ r.hidden }}</td>
<td>{{ pp(r.naive.estimate if r.naive else None) }}</td><td>{{ ci(r.naive) }}</td>
<td>{{ pp(r.tuned.estimate if r.tuned else None) }}</td><td>{{ ci(r.tuned) }}</td>
<td>{% if r.tuned %}{{ r.tuned.ref_lr }} / {{ r.tuned.other_lr }}{% endif %}</td>
<td>{{ survival(r.survives) }}</td></tr>{% endfor %}
</table>{% endif %}
<h2>Figures</h2>
{% for f in figures %}<h3>{{ f.title }}</h3><img alt="{{ f.title }}" src="data:image/png;base64,{{ f.data }}">
{% endfor %}
<h2>Inference cost: the convention</h2>
<p class="note">A multiply-add of a dense layer counts 2 FLOPs, a bias add 1. Each hidden unit's activation
counts the operations of its formula: add, multiply, divide, negate, compare/max/min/abs 1 each, and each
transcendental call (exp, log, tanh, erf, sin) also 1. The output nonlinearity is not counted (a prediction
needs only the sign of the logit). Measured timings below complement the count.</p>
<table><tr><th>activation</th><th>FLOPs per unit</th><th>formula counted</th></tr>
{% for r in a.convention %}<tr><td>{{ r.activation }}</td><td>{{ r.flops }}</td><td>{{ r.formula }}</td></tr>
{% endfor %}</table>
{% if a.latency %}<h3>Measured on this machine ({{ a.latency.engine }} engine,
batch {{ a.latency.batch }})</h3>
<table><tr><th>network</th><th>activation</th><th>architecture</th><th>FLOPs</th><th>batch latency</th>
<th>throughput</th><th>one input</th></tr>
{% for r in a.latency.networks %}<tr><td>{{ r.label }}</td><td>{{ r.activation }}</td><td>{{ r.hidden }}</td>
<td>{{ r.flops }}</td><td>{{ "%.1f" % (1e6 * r.batch_latency_s) }} µs</td>
<td>{{ "{:,.0f}".format(r.throughput_per_s) }}/s</td>
<td>{{ "%.1f" % (1e6 * r.single_latency_s) }} µs</td></tr>
{% endfor %}</table>{% endif %}
<h2>Every configuration</h2>
<table><tr><th>activation</th><th>architecture</th><th>params</th><th>FLOPs</th>
{% if a.tuned %}<th>naive lr</th><th>naive acc</th><th>tuned lr</th><th>tuned acc</th>
{% else %}<th>lr</th><th>acc</th>{% endif %}
<th>95% CI</th><th>reach target</th></tr>
{% for c in a.configs %}<tr><td>{{ c.series }}</td><td>{{ c.hidden }}</td><td>{{ c.n_params }}</td>
<td>{{ c.flops }}</td>{% if a.tuned %}<td>{{ c.naive.lr if c.naive else "--" }}</td>
<td>{{ pct(c.naive.mean) if c.naive else "--" }}</td>{% endif %}<td>{{ c.tuned.lr }}</td>
<td>{{ pct(c.tuned.mean) }}</td>
<td>{{ ci(c.tuned, 1) }}</td><td>{{ success(c) }}</td></tr>{% endfor %}</table>
<h2>Configuration</h2><pre>{{ config }}</pre>
</body></html>
""", autoescape=True)


def _survival_cell(ratio: float | None) -> str:
    if ratio is None:
        return "--"
    return "reverses" if ratio < 0 else f"{100 * ratio:.0f}%"


def _ci(r, plain: int = 0) -> str:
    if not r or not r.get("ci95"):
        return "--"
    lo, hi = r["ci95"]
    if plain:
        return f"[{100 * lo:.1f}, {100 * hi:.1f}]"
    return f"[{100 * lo:+.1f}, {100 * hi:+.1f}]"


def write_sweep_report(sweep, analysis: dict, out: str | Path) -> Path:
    """Write ``figures/*.png`` and ``report.html`` of a sweep into ``out``.

    ``sweep`` is the validated sweep (``actscope.sweep.Sweep``): its ``to_toml()`` is shown
    in the report and its ``base.report.dpi`` sets the figures' resolution.
    """
    out = Path(out)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    figures = []
    for name, fn in SWEEP_FIGURES.items():
        fig = fn(analysis)
        if fig is None:
            continue
        path = out / "figures" / f"{name}.png"
        try:
            with atomic_path(path) as tmp:
                write_figure(fig, tmp, sweep.base.report.dpi, bbox_inches="tight", format="png")
        finally:
            plt.close(fig)
        figures.append({"title": name.replace("_", " ").capitalize(),
                        "data": base64.b64encode(path.read_bytes()).decode("ascii")})
    tgt = analysis["target_accuracy"]

    def success(c):
        r = c.get("tuned")
        return "--" if not r else f"{100 * cost.success_rate(r['test'], tgt):.0f}%"

    text = _TEMPLATE.render(a=analysis, note=closing_note(analysis), figures=figures,
                            gaps=analysis.get("gaps") if analysis["tuned"] else None,
                            grid=", ".join(f"{r:g}" for r in analysis["lr_grid"]),
                            pct=_pct, pp=_pp, ci=_ci, success=success, survival=_survival_cell,
                            config=sweep.to_toml(), tables=" / ".join(
                                n for n in ("results.parquet", "results.csv") if (out / n).is_file()))
    path = out / "report.html"
    atomic_write(path, text)
    return path


# The learning-rate section of a tuned run's report ------------------------------------------

def lr_tuning_section(run) -> str | None:
    """HTML table of each tuned arm's rates: mean validation and test accuracy per rate."""
    arms = {n: a["lr_tuning"] for n, a in run.metrics.get("arms", {}).items() if "lr_tuning" in a}
    if not arms:
        return None
    parts = ["<p class=\"note\">Each arm was trained at every rate; the rate with the best mean "
             "validation accuracy over seeds was kept (ties: lower validation loss). Test accuracy "
             "is shown for every rate, but only validation chose.</p>"]
    for name, t in arms.items():
        rows = "".join(
            f"<tr><td>{lr:g}{' (chosen)' if lr == t['chosen'] else ''}</td><td>{_pct(v)}</td>"
            f"<td>{_pct(te)}</td><td>{d}</td></tr>"
            for lr, v, te, d in zip(t["grid"], t["val_accuracy"], t["test_accuracy"], t["n_diverged"]))
        parts.append(f"<h3>{_html.escape(name)}</h3><table><tr><th>learning rate</th><th>validation "
                     f"accuracy</th><th>test accuracy</th><th>diverged</th></tr>{rows}</table>")
    return "".join(parts)
