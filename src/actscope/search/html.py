"""The search's self-contained report.html: what was measured, the decision rule, the
leaderboard, theory as a predictor, the inference cost, and the figures (PNG embedded)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import jinja2
import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import rankdata

from actscope._util.atomic import atomic_path, atomic_write
from actscope.analysis.decisions import TEST_NOTE
from actscope.analysis.intervals import CI_NOTE
from actscope.report.page_css import PAGE_CSS
from actscope.report.style import write_figure
from actscope.search import cost
from actscope.search import figures as F

DPI = 100
SHOWN = 25          # leaderboard rows in the page (all are in leaderboard.csv)
TUNING_NOTE = ("Each candidate's learning rate is tuned per stage and task on validation: the "
               "rate of the grid with the highest mean validation accuracy over seeds (a diverged "
               "seed counts as 0), ties broken by the lower mean validation loss, then the smaller "
               "rate; test accuracy is reported at that rate. A candidate is ranked at the last stage "
               "it reached (later stages first), then by its overall accuracy: per seed the mean over "
               "tasks, then the mean over seeds")


def counts(run_dir: Path, table_stages: dict[int, int]) -> dict:
    """What the search looked at: raw proposals, duplicates, rejected per reason and
    accepted (rejected.json, when the run wrote one) and the distinct candidates evaluated
    per stage (the member table)."""
    out: dict[str, Any] = {"per_stage": table_stages, "rejected": {}, "accepted": None,
                           "raw": None, "duplicates": None}
    try:
        rej = json.loads((run_dir / "rejected.json").read_text())
    except (OSError, ValueError):
        return out
    out.update(accepted=rej.get("candidates"), raw=rej.get("raw"), duplicates=rej.get("duplicates"))
    out["rejected"] = {str(k): v for k, v in sorted((rej.get("rejected") or {}).items())}
    return out


def _figures(results: dict, curves: list[dict]) -> dict:
    """Every figure of the report (name -> Figure), from numbers already computed."""
    board, par, feats = results["leaderboard"], results["pareto"], results["features"]
    refs = set(board["references"].values())
    shown = [r for r in board["rows"] if r["overall"]["mean"] is not None]
    shown = [r for r in shown if r["key"] not in refs][:15] + [r for r in shown if r["key"] in refs]
    out = {"functions": F.functions_figure(curves[0]["x"], curves, DPI) if curves else None}
    if shown:
        out["accuracy"] = F.accuracy_figure([{"label": f"{_short(r, refs)} (stage {r['stage']})",
                                              "mean": r["overall"]["mean"], "ci95": r["overall"]["ci95"],
                                              "reference": r["key"] in refs} for r in shown], DPI)
    panels = []
    for name, log in (("flops", False), ("numpy_time", True), ("kernel_time", True)):
        pts = [p for p in par[name]["points"] if p["accuracy"] is not None]
        if pts:
            keys = [p["key"] for p in pts]
            panels.append({"xlabel": par[name]["cost"], "cost": [p["cost"] for p in pts], "log": log,
                           "accuracy": [p["accuracy"] for p in pts],
                           "title": f"accuracy at stage {par[name]['stage']}; {len(pts)} candidates",
                           "front": [keys.index(k) for k in par[name]["front"] if k in keys]})
    out["pareto"] = F.pareto_figure(panels, DPI) if panels else None
    fp = []
    acc = [(i, c["accuracy"]) for i, c in enumerate(feats["candidates"]) if c["accuracy"] is not None]
    for f, r in feats["predictiveness"].items():
        x = np.array([_as_float(feats["candidates"][i][f]) for i, _ in acc], dtype=np.float64)
        keep = ~np.isnan(x)
        if keep.sum() >= 2:
            rho = "--" if r["rho"] is None else f"{r['rho']:+.2f}"
            ci = "" if not r["ci95"] else f" [{r['ci95'][0]:+.2f}, {r['ci95'][1]:+.2f}]"
            fp.append({"feature": f"rank of {f}", "x": rankdata(x[keep]),
                       "accuracy": [a for (_, a), k in zip(acc, keep) if k],
                       "title": f"ρ = {rho}{ci}, n = {r['n']}"})
    out["features"] = F.features_figure(fp, DPI) if fp else None
    return {k: v for k, v in out.items() if v is not None}


def _short(row: dict, refs: set) -> str:
    """A row's label: a reference's name, else its formula (at most 40 characters)."""
    return row["name"] if row["key"] in refs else row["formula"][:40]


def _as_float(v) -> float:
    """A features.json value as a float ("inf" strings back to inf, null to NaN)."""
    return np.nan if v is None else float(v)


def _embed(run_dir: Path, figs: dict) -> list[dict]:
    (run_dir / "figures").mkdir(parents=True, exist_ok=True)
    out = []
    for name, fig in figs.items():
        path = run_dir / "figures" / f"{name}.png"
        try:
            with atomic_path(path) as tmp:
                write_figure(fig, tmp, DPI, format="png")
        finally:
            plt.close(fig)
        out.append({"title": name.replace("_", " ").capitalize(),
                    "data": base64.b64encode(path.read_bytes()).decode("ascii")})
    return out


def _verdicts(board: dict) -> dict[str, dict[str, int]]:
    """Per reference, how many candidates got each decision."""
    out: dict[str, dict[str, int]] = {}
    for c in board["comparisons"]:
        d = out.setdefault(c["reference"], {})
        d[c["decision"]] = d.get(c["decision"], 0) + 1
    return out


def write_report(run_dir: Path, spec, results: dict, curves: list[dict], figures: bool = True) -> Path:
    """Draw the figures into ``run_dir/figures`` (unless ``figures`` is False) and write
    ``run_dir/report.html``."""
    board = results["leaderboard"]
    stages: dict[int, int] = {}
    for r in board["rows"]:
        for s in range(r["stage"] + 1):
            stages[s] = stages.get(s, 0) + 1
    text = _TEMPLATE.render(
        spec=spec, board=board, rows=board["rows"][:SHOWN], refs=board["references"],
        ref_rows=[r for r in board["rows"] if r["key"] in board["references"].values()],
        counts=counts(run_dir, dict(sorted(stages.items()))), verdicts=_verdicts(board),
        feats=results["features"]["predictiveness"], timings=results["timings"],
        names={r["key"]: r["name"] if r["key"] in board["references"].values() else r["formula"]
               for r in board["rows"]},
        pareto=results["pareto"], figures=_embed(run_dir, _figures(results, curves)) if figures else [],
        repeats=cost.REPEATS, n_elements=cost.N_ELEMENTS, notes=[TUNING_NOTE, CI_NOTE, TEST_NOTE],
        decisions=("greater", "less", "equivalent", "none", "too_few"),
        pct=_pct, ci=_ci, pp=_pp, num=_num, ns=_ns,
        config=spec.to_toml() if hasattr(spec, "to_toml") else "")
    path = run_dir / "report.html"
    atomic_write(path, text)
    return path


def _pct(v) -> str:
    return "--" if v is None else f"{100 * v:.1f}%"


def _pp(v) -> str:
    return "--" if v is None else f"{round(100 * v, 1) + 0.0:+.1f} pp"  # + 0.0: no "-0.0"


def _ci(m, scale: float = 100.0, fmt: str = ".1f") -> str:
    if not m or not m.get("ci95"):
        return "--"
    lo, hi = m["ci95"]
    return f"[{scale * lo:{fmt}}, {scale * hi:{fmt}}]"


def _ns(seconds) -> str:
    return "no kernel code" if seconds is None else f"{1e9 * seconds:.2f}"


def _num(v) -> str:
    return "--" if v is None else f"{v:.3g}"


_TEMPLATE = jinja2.Template("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>actscope search -- {{ spec.name }}</title>
<style>
""" + PAGE_CSS + """</style></head><body>
<h1>Search: {{ spec.name }}</h1>
{% if spec.description %}<p>{{ spec.description }}</p>{% endif %}
<h2>What was measured</h2>
<p>Strategy {{ spec.strategy }}, grammar size ≤ {{ spec.max_size }}.
{% if counts.raw is not none %}{{ counts.raw }} raw proposals, {% endif %}
{% if counts.duplicates is not none %}{{ counts.duplicates }} duplicates of a function already seen,
{% endif %}{% if counts.rejected %}rejected by screening: {% for r, n in counts.rejected.items() -%}
{{ r }} {{ n }}{{ ", " if not loop.last }}{% endfor %}; {% endif %}
{% if counts.accepted is not none %}{{ counts.accepted }} distinct candidates accepted. {% endif %}
References {{ refs | join(", ") }}. Tasks: {{ board.tasks | join(", ") }};
learning-rate grid {{ spec.lr_grid | join(", ") }}; network {{ spec.hidden | list }},
init {{ spec.init }}, {{ spec.optimizer }}, {{ spec.dtype }}.</p>
<table><tr><th>stage</th><th>seeds</th><th>epochs</th>
<th>distinct candidates evaluated (references included)</th></tr>
{% for s, n in counts.per_stage.items() %}<tr><td>{{ s }}</td><td>{{ spec.stages[s].seeds }}</td>
<td>{{ spec.stages[s].epochs }}</td><td>{{ n }}</td></tr>{% endfor %}</table>
<h2>The decision rule</h2>{% for n in notes %}<p class="note">{{ n }}.</p>{% endfor %}
<p class="note">Every non-reference candidate of the last stage ({{ board.final_stage }}) is
compared with each reference on the overall accuracy, paired by seed; the Holm correction runs
over all {{ board.comparisons | length }} comparisons. "too_few": no difference could reach α
with that many seeds.{% set sn = board.seeds_needed %}{% if sn.possible == false %}
<strong>With {{ sn.comparisons }} comparisons, a candidate better than a reference on every seed
needs at least {{ sn.needed }} seeds to pass Holm's first step; the last stage has {{ sn.have }}:
no "greater" or "less" verdict was possible (give the last stage more seeds).</strong>{% endif %}</p>
{% if verdicts %}<table><tr><th>vs</th>{% for k in decisions %}<th>{{ k }}</th>{% endfor %}</tr>
{% for ref, d in verdicts.items() %}<tr><td>{{ ref }}</td>
{% for k in decisions %}<td>{{ d.get(k, 0) }}</td>{% endfor %}</tr>{% endfor %}</table>{% endif %}
<h2>Leaderboard (first {{ rows | length }} of {{ board.rows | length }}; all in leaderboard.csv)</h2>
<table><tr><th>rank</th><th>function</th><th>stage</th><th>seeds</th><th>overall</th><th>95% CI</th>
{% for t in board.tasks %}<th>{{ t }}</th>{% endfor %}
{% for r in refs %}<th>vs {{ r }}</th>{% endfor %}<th>FLOPs</th></tr>
{% for r in rows %}<tr><td>{{ r.rank }}</td><td class="f">{{ names[r.key] }}</td>
<td>{{ r.stage }}</td><td>{{ r.seeds }}</td>
<td>{{ pct(r.overall.mean) }}</td><td>{{ ci(r.overall) }}</td>
{% for t in board.tasks %}<td>{{ pct(r.tasks[t].mean) }}</td>{% endfor %}
{% for ref in refs %}{% set c = (r.vs or {}).get(ref) %}
<td>{% if c %}{{ pp(c.estimate) }} {{ c.decision }}{% else %}--{% endif %}</td>{% endfor %}
<td>{{ r.flops }}</td></tr>{% endfor %}</table>
<h2>Theory at initialisation as a predictor</h2>
<p class="note">Spearman's ρ of each feature against the stage-0 overall accuracy over the
candidates, with a 95% BCa bootstrap interval (2,000 paired resamples).</p>
<table><tr><th>feature</th><th>ρ</th><th>95% CI</th><th>p</th><th>n</th></tr>
{% for f, r in feats.items() %}<tr><td>{{ f }}</td><td>{{ num(r.rho) }}</td>
<td>{{ ci(r, 1, "+.2f") }}</td><td>{{ num(r.p) }}</td><td>{{ r.n }}</td></tr>{% endfor %}</table>
<h2>Inference cost</h2>
<p class="note">FLOPs per element: the grammar's count for every candidate. Measured seconds per
element (best of {{ repeats }}, {{ "{:,}".format(n_elements) }} {{ spec.dtype }} values): only
the candidates below (the top and the references).</p>
<table><tr><th>function</th><th>NumPy ns/element</th><th>kernel code ns/element</th></tr>
{% for k, t in timings.items() %}<tr><td class="f">{{ names.get(k, k) }}</td>
<td>{{ ns(t.numpy_s) }}</td><td>{{ ns(t.kernel_s) }}</td></tr>
{% endfor %}</table>
<p>Pareto front, accuracy vs FLOPs (stage 0): {% for k in pareto.flops.front -%}
{{ names.get(k, k) }}{{ "; " if not loop.last }}{% endfor %}</p>
<h2>Figures</h2>
{% for f in figures %}<h3>{{ f.title }}</h3>
<img alt="{{ f.title }}" src="data:image/png;base64,{{ f.data }}">
{% endfor %}
<h2>Configuration</h2><pre>{{ config }}</pre>
</body></html>
""", autoescape=True)
