"""The probes' sections of a report: a table of every probe per arm, and the verdicts of
every paired comparison of two arms."""

from __future__ import annotations

import html

from markupsafe import Markup

from actscope.analysis import probes
from actscope.analysis.intervals import MIN_SEEDS_INTERVAL
from actscope.analysis.stats import is_percent
from actscope.experiment.rundir import Run
from actscope.report.html import add_section
from actscope.report.probe_figures import interval_note, probe_info

HEADLINE = ("test_accuracy", "test_loss", "final_train_loss")


def _fmt(key: str, st: dict) -> str:
    if not st or st.get("mean") is None:
        return "--"
    pct = is_percent(key)
    f = (lambda v: f"{100 * v:.1f}%") if pct else (lambda v: f"{v:.3g}")
    ci = st.get("ci95")
    if ci:
        return f"{f(st['mean'])} [{f(ci[0])}, {f(ci[1])}]"
    why = "too few seeds" if st.get("n", 0) < MIN_SEEDS_INTERVAL else "no spread"
    return f"{f(st['mean'])} (no interval: {why}, n={st.get('n')})"


def probes_section(run: Run) -> Markup | None:
    """A table of every probe per arm: mean [95% interval] over seeds."""
    info = probe_info(run)
    if not info:
        return None
    arms = run.metrics["arms"]
    keys: dict[str, None] = {}
    for am in arms.values():
        for m in am["members"]:
            keys.update(dict.fromkeys(m.get("probes", {})))
    if not keys:
        return None
    groups = ("signal.", "grad_norm.", "batch_grad_norm.", "context.", "repr.", "regions.")
    keys = dict.fromkeys(sorted(keys, key=lambda k: next((i for i, g in enumerate(groups)
                                                         if k.startswith(g)), len(groups))))
    head = "".join(f"<th>{html.escape(n)}</th>" for n in arms)
    rows = []
    for key in keys:
        cells = "".join(f"<td>{html.escape(_fmt(key, am['summary'].get(key)))}</td>" for am in arms.values())
        rows.append(f"<tr><td>{html.escape(probes.label(key))}</td>{cells}</tr>")
    base = info.get("baseline", {})
    base_txt = ", ".join(f"{probes.label(k)} {v:.3g}" for k, v in base.items() if v is not None)
    timing = run.metrics.get("timing", {})
    notes = [
        f"Probes on the {info['split']} split at epoch(s) {', '.join(map(str, info['epochs']))}; "
        f"{interval_note(run)}.",
        "Saturated: derivative below 1% of its maximum (per point and unit); dead: below that on "
        "every point of the whole training split (where gradients flow). Distance to the boundary "
        "is read off a grid (inputs that are not 2-D: "
        "|logit| / ‖∇ₓ logit‖). The true boundary is the data generator's Bayes boundary"
        + ("." if info.get("true_boundary") else " (not known for these data)."),
        "Linear regions: distinct activation patterns on a grid over the data. Linear probe: "
        "logistic regression on the standardised layer, fitted on train.",
    ]
    if base_txt:
        notes.append(f"On the inputs themselves: {base_txt}.")
    if timing:
        notes.append(f"Time: training {timing.get('train_s')} s, probes {timing.get('probes_s')} s.")
    note_html = "".join(f"<p class='note'>{html.escape(n)}</p>" for n in notes)
    return Markup(f"<table><tr><th>probe</th>{head}</tr>{''.join(rows)}</table>{note_html}")


def _p(v) -> str:
    return "--" if v is None else f"{v:.2g}"


def rule_text(stats: dict) -> str:
    """The decision rule next to the verdicts table: α, correction, test, interval, seeds."""
    if "alpha" not in stats:  # a run written before the rule was stated in metrics.json
        return stats.get("paired", "")
    margin = stats.get("equivalence_margin")
    eq = (f" 'Equivalent': two one-sided tests (TOST) within ±{100 * margin:g} pp, for metrics that "
          "are fractions, Holm-adjusted p ≤ α (its 90% interval is shown)." if margin else "")
    return (f"Rule: α = {stats['alpha']:g}, two-sided; paired by seed; exact Wilcoxon signed-rank test; "
            f"estimate: Hodges–Lehmann (median of the Walsh averages) with the 95% interval that the same "
            f"test inverts to, so the interval excludes 0 exactly when p ≤ α; {stats['correction'].title()} "
            f"correction across all {stats.get('n_tests', 0)} tests of this report. '>' only when the "
            f"Holm-adjusted p ≤ α; otherwise 'no detectable difference', with the smallest p these seeds "
            f"could reach.{eq} Minimum seeds: {stats.get('min_seeds_verdict')} for any verdict, "
            f"{stats.get('min_seeds_interval')} for an interval of an arm's mean.")


def _verdict_rows(cs: list[dict]) -> str:
    head = ("<tr><th>verdict</th><th>n</th><th>p</th><th>Holm p</th><th>TOST p (Holm)</th></tr>")
    rows = "".join(
        f"<tr><td>{html.escape(c['verdict'])}</td><td>{c['n']}</td><td>{_p(c.get('p'))}</td>"
        f"<td>{_p(c.get('p_adjusted'))}</td><td>{_p(c.get('p_equivalence_adjusted'))}</td></tr>"
        for c in cs)
    return f"<table>{head}{rows}</table>"


def verdicts_section(run: Run) -> Markup | None:
    """Every comparison of two arms, paired by seed, in one line each, under the rule that
    decided them and a warning when the seeds are too few for any verdict."""
    comps = run.metrics.get("comparisons")
    if not comps:
        return None
    head = [c for c in comps if c["metric"] in HEADLINE]
    rest = [c for c in comps if c["metric"] not in HEADLINE]
    stats = run.metrics.get("statistics", {})
    out = f"<p class='note'>{html.escape(rule_text(stats))}</p>"
    if stats.get("warning"):
        out += f"<p style='color:#a33'><b>Too few seeds:</b> {html.escape(stats['warning'])}.</p>"
    out += _verdict_rows(head)
    if rest:
        out += (f"<details><summary>{len(rest)} more comparisons (probes)</summary>"
                f"{_verdict_rows(rest)}</details>")
    return Markup(out)


add_section("Verdicts", verdicts_section)
add_section("Probes", probes_section)
