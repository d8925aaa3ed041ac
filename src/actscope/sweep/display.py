"""Sweeps in a notebook: a one-line ``repr`` of a result, HTML for a sweep and its result
(configurations, verdicts, the Pareto figure), and the results table as a DataFrame.

Every number shown is one of ``analysis.json`` (as the sweep report shows it); the figure
is the one the report drew.
"""

from __future__ import annotations

from pathlib import Path

from actscope._util import notebook as nb
from actscope.config.display import spec_rows
from actscope.sweep.tables import read_table

KEY_FIGURE = "pareto.png"


def read_frame(out: str | Path):
    """The tidy results table of a sweep directory as a pandas DataFrame: one row per cell
    and seed (`read_table`; Parquet when present, else CSV)."""
    pd = nb.pandas()
    return pd.DataFrame(read_table(out))


def results_frame(result):
    """A sweep result's table (``SweepResult.rows``: one row per cell and seed) as a pandas
    DataFrame."""
    return nb.pandas().DataFrame(result.rows)


def result_repr(result) -> str:
    """One line: name, cells run, skipped, failed and lost, rows and where the sweep is."""
    name = result.analysis.get("name", result.path.name)
    failed = result.n_failed + result.n_failed_before
    return (f"SweepResult({name!r}, cells={result.n_cells} (run {result.n_run}, skipped {result.n_skipped}, "
            f"failed {failed}, lost {result.n_lost}), rows={len(result.rows)}, path={str(result.path)!r})")


def _accuracy(side: dict | None) -> str:
    if not side or side.get("mean") is None:
        return "–"
    ci = side.get("ci95")
    text = f"{100 * side['mean']:.1f}%" + (f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci else "")
    return f"{text} at lr {side['lr']:g}" if side.get("lr") is not None else text


def _config_rows(analysis: dict) -> list[list]:
    return [[c["arm"], c["hidden"], c["n_params"], c["flops"], _accuracy(c.get("naive")),
             _accuracy(c.get("tuned"))] for c in analysis.get("configs", [])]


def _verdicts(analysis: dict) -> list[str]:
    """The across-architecture verdicts, one per activation and comparison."""
    out = []
    for summary in (analysis.get("gaps") or {}).get("overall", {}).values():
        out += [v["verdict"] for k, v in summary.items()
                if k.endswith("_test") and isinstance(v, dict) and v.get("verdict")]
    return out


def result_html(result) -> str:
    """The notebook view of a sweep result."""
    a = result.analysis
    line = (f"{result.n_cells} cells ({result.n_run} run, {result.n_skipped} skipped), "
            f"{a.get('seeds')} seeds, {a.get('epochs')} epochs, engine {a.get('engine')}, "
            f"{result.elapsed_s:.1f} s — {result.path}")
    parts = [nb.heading(f"actscope sweep {a.get('name', result.path.name)}", line)]
    if result.problem:
        parts.append(nb.paragraph(f"Warning: {result.problem}"))
    shared = "naive (shared lr)"
    tuned = "tuned (own lr)" if a.get("tuned") else "tuned: not tuned"
    parts.append(nb.table(["arm", "hidden", "params", "FLOPs", f"test accuracy, {shared}", tuned],
                          _config_rows(a), caption="mean test accuracy over seeds (95% CI)"))
    warning = (a.get("gaps") or {}).get("warning")
    if warning:
        parts.append(nb.paragraph(f"Warning: {warning}"))
    verdicts = _verdicts(a)
    if verdicts:
        head = nb.paragraph("Verdicts across architectures (paired, Holm-corrected):")
        parts.append(head + nb.items(verdicts))
    fig = Path(result.path) / "figures" / KEY_FIGURE
    parts.append(nb.png(fig, "Pareto fronts: test accuracy against FLOPs per prediction") if fig.is_file()
                 else nb.paragraph(f"No figure: {fig} was not drawn."))
    return "<div>" + "".join(parts) + "</div>"


def sweep_html(sweep) -> str:
    """The notebook view of a sweep file: the base settings and the grid."""
    axes = [[path, ", ".join(map(str, values)), len(values)] for path, values in sweep.axes]
    parts = [nb.heading(f"Sweep {sweep.name}", f"{sweep.n_cells()} cells"),
             nb.table(["", "setting"], spec_rows(sweep.base), caption="base experiment"),
             nb.table(["field", "values", "n"], axes, caption="grid")]
    return "<div>" + "".join(parts) + "</div>"
