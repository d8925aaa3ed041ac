"""The search's results on disk (``write_results``).

Files written into the run directory (all but the measured timings byte-identical for the
same member table):

- ``leaderboard.json`` / ``leaderboard.csv``: every candidate at the last stage it reached,
  per task and overall, with intervals and the paired comparisons (`search.leaderboard`);
- ``features.json``: features at initialisation and how each predicts accuracy
  (`search.features`);
- ``pareto.json``: accuracy against inference cost, FLOPs (every candidate) and measured
  seconds per element (the top and the references: `search.cost`);
- ``found.toml``: each top function as a ready ``[activations.NAME] formula = ...``;
- ``figures/*.png`` and a self-contained ``report.html`` (`search.html`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from actscope._util.atomic import atomic_write
from actscope.search.leaderboard import leaderboard, overall_by_seed, seed_scores, tuned

TOP_N = 10          # functions written to found.toml, drawn and timed
CURVE_X = np.linspace(-4.0, 4.0, 401)


def _plain(v: Any) -> Any:
    """JSON-ready: numpy scalars to Python, NaN to null, ±inf to "inf"/"-inf"."""
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, np.ndarray)):
        return [_plain(x) for x in (v.tolist() if isinstance(v, np.ndarray) else v)]
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (np.integer, int)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return None if math.isnan(f) else (("inf" if f > 0 else "-inf") if math.isinf(f) else f)
    return v


def to_json(obj: Any) -> str:
    """Deterministic JSON text of ``obj`` (insertion order, indent 1, a final newline)."""
    import json

    return json.dumps(_plain(obj), indent=1, ensure_ascii=False) + "\n"


def stage_accuracy(table: dict[str, np.ndarray], stage: int = 0) -> dict[str, float | None]:
    """key -> mean over seeds of the per-seed mean over tasks of the tuned test accuracy at
    ``stage`` (None where no seed has a finite value)."""
    rows = tuned(table)
    tasks = sorted({str(t) for t in rows["task"].tolist()})
    out: dict[str, float | None] = {}
    for (st, key), per in sorted(seed_scores(rows).items()):
        if st == stage:
            v = np.array(list(overall_by_seed(per, tasks).values()), dtype=np.float64)
            v = v[np.isfinite(v)]
            out[key] = float(v.mean()) if v.size else None
    return out


def found_toml(rows: list[dict], families: dict[str, str], references: dict[str, str]) -> str:
    """``[activations.NAME]`` blocks of the first TOP_N non-reference rows, each verified
    with `activations.formula.formula_activation` and commented with its accuracy (a
    built-in found again gets its name in a comment: a built-in cannot be redefined)."""
    from actscope.activations.formula import formula_activation

    lines = ["# Activations found by actscope search: paste a block into an experiment spec",
             "# and use its name as [model] activation.", ""]
    for r in [r for r in rows if r["key"] not in references.values()][:TOP_N]:
        builtin = r["name"] != f"cand_{r['key']}"
        if not builtin:
            formula_activation(r["name"], r["formula"], families.get(r["key"]))
        o = r["overall"]
        ci = "no interval" if not o["ci95"] else \
            f"95% CI [{100 * o['ci95'][0]:.1f}, {100 * o['ci95'][1]:.1f}]"
        mean = "--" if o["mean"] is None else f"{100 * o['mean']:.2f}%"
        lines.append(f"# rank {r['rank']}: overall test accuracy {mean} ({ci}, {o['n']} seeds, "
                     f"stage {r['stage']}); {r['flops']} FLOPs per element")
        for ref, c in (r.get("vs") or {}).items():
            est = "--" if c["estimate"] is None else f"{round(100 * c['estimate'], 2) + 0.0:+.2f} pp"
            lines.append(f"#   vs {ref}: {est}, Holm-adjusted p = {_p(c['p_adjusted'])}: {c['decision']}")
        if builtin:  # a built-in's name cannot be redefined: it needs no block
            lines += [f"# {r['name']} is built in: [model] activation = {_toml_str(r['name'])}", ""]
        else:
            lines += [f"[activations.{r['name']}]", f"formula = {_toml_str(r['formula'])}",
                      f"family = {_toml_str(families.get(r['key'], 'smooth'))}", ""]
    return "\n".join(lines)


def _p(p) -> str:
    return "--" if p is None else f"{p:.3g}"


def _toml_str(s: str) -> str:
    import tomli_w

    return tomli_w.dumps({"v": s}).split("=", 1)[1].strip()


def leaderboard_csv(board: dict) -> str:
    """One line per candidate: rank, identity, overall and per-task mean with interval and
    tuned rate, and each comparison (estimate, interval, adjusted p, decision)."""
    import csv
    import io

    tasks, refs = board["tasks"], list(board["references"])
    head = ["rank", "key", "name", "origin", "stage", "size", "flops", "formula", "seeds",
            "overall_mean", "overall_lo", "overall_hi"]
    head += [f"{t}_{x}" for t in tasks for x in ("mean", "lo", "hi", "lr")]
    head += [f"vs_{r}_{x}" for r in refs for x in ("estimate", "lo", "hi", "p_adjusted", "decision")]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(head)
    for r in board["rows"]:
        line = [r["rank"], r["key"], r["name"], r["origin"], r["stage"], r["size"], r["flops"],
                r["formula"], r["seeds"], *_mci(r["overall"])]
        for t in tasks:
            line += [*_mci(r["tasks"][t]), r["tasks"][t]["lr"]]
        for ref in refs:
            c = (r.get("vs") or {}).get(ref)
            ci = (c or {}).get("ci95") or (None, None)
            line += ["", "", "", "", ""] if c is None else [c["estimate"], ci[0], ci[1], c["p_adjusted"],
                                                            c["decision"]]
        w.writerow(["" if v is None else v for v in line])
    return buf.getvalue()


def _mci(m: dict) -> list:
    ci = m.get("ci95") or (None, None)
    return [m.get("mean"), ci[0], ci[1]]


def _by_key(candidates: list) -> dict:
    return {c.key: c for c in candidates}


def _pareto(board: dict, candidates: list, acc0: dict[str, float | None], timings: dict) -> dict:
    """pareto.json: the FLOPs front over every candidate (stage-0 accuracy: every candidate
    has one, under the same seeds and epochs) and the measured-time fronts over the timed
    ones (their accuracy at the last stage, which every timed candidate reached)."""
    from actscope.search.cost import front_table

    keys = [c.key for c in candidates if c.key in acc0]
    flops = [float(c.flops) for c in candidates if c.key in acc0]
    out = {"accuracy": "mean over seeds of the mean over tasks of the tuned test accuracy",
           "flops": {**front_table(keys, flops, [acc0[k] for k in keys], "FLOPs per element"),
                     "stage": 0}}
    final = {r["key"]: r["overall"]["mean"] for r in board["rows"] if r["stage"] == board["final_stage"]}
    for what, col in (("numpy_time", "numpy_s"), ("kernel_time", "kernel_s")):
        timed = [k for k in timings if k in final and timings[k][col] is not None]
        out[what] = {**front_table(timed, [timings[k][col] for k in timed], [final[k] for k in timed],
                                   f"measured seconds per element ({col})"),
                     "stage": board["final_stage"], "measured": "differs from run to run"}
    return out


def _features(spec, candidates: list, acc0: dict) -> dict:
    from actscope.search.features import FEATURES, candidate_features, predictiveness

    feats = candidate_features(spec, candidates)
    pred = predictiveness(feats, {k: v for k, v in acc0.items() if v is not None})
    per = [{"key": k, **{f: feats[f][i] for f in FEATURES}, "accuracy": acc0.get(k)}
           for i, k in enumerate(feats["key"].tolist())]
    return {"target": "stage-0 overall tuned test accuracy (mean over seeds and tasks)",
            "predictiveness": pred, "candidates": per}


def _board_json(board: dict) -> dict:
    """leaderboard.json: the rules, then every row (each comparison under its row's ``vs``)."""
    from actscope.analysis.decisions import TEST_NOTE
    from actscope.analysis.intervals import CI_NOTE

    return {"tuning": "per (stage, task, key): the rate with the highest mean val_acc over seeds "
                      "(NaN counts 0); ties: lower mean val_loss, then the smaller rate",
            "intervals": CI_NOTE, "comparisons": TEST_NOTE, "n_comparisons": len(board["comparisons"]),
            **{k: v for k, v in board.items() if k != "comparisons"}}


def write_results(run_dir: Path, spec: Any, candidates: list, table: dict[str, np.ndarray], *,
                  figures: bool = True) -> dict:
    """Write every result file of a search into ``run_dir`` and return a summary for the CLI.

    Parameters
    ----------
    run_dir : Path
        The search's run directory.
    spec : SearchSpec
        The resolved search spec (references, tasks, model, training).
    candidates : list of Candidate
        Every distinct candidate evaluated (references included).
    table : dict of str to ndarray
        The member table (`search.store.member_table`).
    figures : bool
        Draw the figures (False: report.html without them; every other file is the same).

    Returns
    -------
    dict
        ``top`` (the first leaderboard rows), ``counts``, ``paths`` (name -> file written).
    """
    from actscope.search.cost import measure
    from actscope.search.html import write_report

    run_dir = Path(run_dir)
    present = set(np.asarray(table["key"]).tolist())
    first: dict[str, Any] = {}
    for c in candidates:  # each key once (its first candidate), only those with rows
        if c.key in present:
            first.setdefault(c.key, c)
    cands = list(first.values())
    board = leaderboard(cands, table, tuple(spec.references), list(spec.tasks))
    acc0 = stage_accuracy(table, 0)
    refs = board["references"]
    by_key = _by_key(cands)
    top = [r for r in board["rows"] if r["key"] not in refs.values()][:TOP_N]
    timed = [by_key[r["key"]] for r in top] + [by_key[k] for k in refs.values()]
    timings = measure(timed, spec.dtype)
    families = {c.key: c.activation().family for c in cands}
    results = {"leaderboard": board, "features": _features(spec, cands, acc0),
               "pareto": _pareto(board, cands, acc0, timings), "timings": timings}
    paths = {"leaderboard.json": to_json(_board_json(board)),
             "leaderboard.csv": leaderboard_csv(board),
             "features.json": to_json(results["features"]),
             "pareto.json": to_json(results["pareto"]),
             "found.toml": found_toml(board["rows"], families, refs)}
    for name, text in paths.items():
        atomic_write(run_dir / name, text)
    drawn = [(label(r["formula"]), by_key[r["key"]].activation(), False) for r in top[:6]]
    drawn += [(name, by_key[k].activation(), True) for name, k in refs.items()]
    report = write_report(run_dir, spec, results, curves(drawn) if figures else [], figures=figures)
    return {"top": [{"rank": r["rank"], "name": r["name"], "formula": r["formula"], "stage": r["stage"],
                     "overall": r["overall"]} for r in board["rows"][:TOP_N]],
            "counts": {"candidates": len(cands), "members": int(len(table["key"]))},
            "paths": {**{n: str(run_dir / n) for n in paths}, "report.html": str(report)}}


def label(formula: str, width: int = 40) -> str:
    """A formula short enough for a legend."""
    return formula if len(formula) <= width else formula[: width - 1] + "…"


def curves(items: list[tuple[str, Any, bool]]) -> list[dict]:
    """f and f' on CURVE_X of each ``(label, activation, is_reference)``."""
    out = []
    with np.errstate(all="ignore"):
        for name, act, is_ref in items:
            f, df = (np.broadcast_to(np.asarray(g(CURVE_X.copy()), dtype=float), CURVE_X.shape)
                     for g in (act.fn, act.grad))
            out.append({"label": name, "reference": is_ref, "x": CURVE_X, "f": f, "df": df})
    return out
