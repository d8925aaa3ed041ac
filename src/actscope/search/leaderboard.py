"""The search's leaderboard: each candidate at its tuned rate, ranked, with intervals and
paired tests against the references under the one decision rule (`analysis.decisions`).

- ``tuned(table)``: for each (stage, task, key) the learning rate with the highest mean
  validation accuracy over seeds (a diverged seed, NaN, counts as accuracy 0, as in a
  tuned sweep); ties (equal to 12 decimals): the lower mean validation loss (NaN counts
  as +inf), then the smaller rate. The rows of that rate, one per seed.
- The leaderboard: every candidate at the LAST stage it reached (candidates of later
  stages first, then by mean test accuracy); overall = per seed the mean over tasks, then
  its mean over seeds with `analysis.intervals.mean_ci` (in [0, 1]); per task the same, with
  an interval for the last stage's candidates.
- Candidates of the last stage are compared with each reference, paired by seed (each
  at its own tuned rate), by the exact Wilcoxon signed-rank test and Hodges–Lehmann
  interval, Holm-corrected across all candidates × references (`decide`).
"""

from __future__ import annotations

import numpy as np

METRICS = ("train_loss", "val_loss", "val_acc", "test_loss", "test_acc")
ID_COLUMNS = ("stage", "task", "key", "seed", "lr")
PER_TASK_NOTE = "per-task intervals are given for the last stage's candidates only"
TIE_DECIMALS = 12   # mean validation accuracies (losses) equal to this many decimals are ties


def _codes(*cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group ids of the rows by the tuple of ``cols`` (in sorted order of the tuples) and
    the index of one row of each group."""
    if len(cols[0]) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    inv = np.stack([np.unique(np.asarray(c), return_inverse=True)[1].ravel() for c in cols], axis=1)
    _, first, ids = np.unique(inv, axis=0, return_index=True, return_inverse=True)
    return ids.ravel(), first


def tuned(table: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One row per (stage, task, key, seed) at that (stage, task, key)'s tuned rate.

    Parameters
    ----------
    table : dict of str to ndarray
        The member table: columns ``stage, task, key, seed, lr`` and the metrics
        ``train_loss, val_loss, val_acc, test_loss, test_acc``, one row per member.

    Returns
    -------
    dict of str to ndarray
        The same columns, restricted to the tuned rate of each (stage, task, key), sorted
        by (stage, task, key, seed).
    """
    cols = {k: np.asarray(v) for k, v in table.items()}
    n = len(cols["key"])
    if n == 0:
        return {k: v[:0] for k, v in cols.items()}
    g, g_first = _codes(cols["stage"], cols["task"], cols["key"], cols["lr"])
    n_g = g_first.size
    count = np.bincount(g, minlength=n_g)
    acc = np.nan_to_num(cols["val_acc"].astype(np.float64), nan=0.0)
    loss = np.where(np.isfinite(cols["val_loss"]), cols["val_loss"], np.inf).astype(np.float64)
    mean_acc = np.bincount(g, weights=acc, minlength=n_g) / count
    with np.errstate(invalid="ignore"):
        mean_loss = np.bincount(g, weights=loss, minlength=n_g) / count
    mean_loss = np.where(np.isnan(mean_loss), np.inf, mean_loss)
    h, _ = _codes(*(cols[c][g_first] for c in ("stage", "task", "key")))
    lr = cols["lr"][g_first].astype(np.float64)
    # means that differ only by rounding (0.95 + 0.85 vs 0.9 + 0.9) are ties
    mean_acc, mean_loss = np.round(mean_acc, TIE_DECIMALS), np.round(mean_loss, TIE_DECIMALS)
    order = np.lexsort((lr, mean_loss, -mean_acc, h))
    best = np.zeros(h.max() + 1, dtype=np.int64)
    first_of_h = np.ones(order.size, dtype=bool)
    first_of_h[1:] = h[order][1:] != h[order][:-1]
    best[h[order][first_of_h]] = order[first_of_h]
    chosen = np.zeros(n_g, dtype=bool)
    chosen[best] = True
    keep = np.flatnonzero(chosen[g])
    keep = keep[np.lexsort(tuple(cols[c][keep] for c in ("seed", "key", "task", "stage")))]
    return {k: v[keep] for k, v in cols.items()}


# Per-seed accuracies ----------------------------------------------------------------------

def seed_scores(rows: dict[str, np.ndarray], metric: str = "test_acc"
                ) -> dict[tuple[int, str], dict[str, dict[int, float]]]:
    """``{(stage, key): {task: {seed: value}}}`` from tuned rows."""
    out: dict[tuple[int, str], dict[str, dict[int, float]]] = {}
    for st, task, key, seed, v in zip(rows["stage"].tolist(), rows["task"].tolist(),
                                      rows["key"].tolist(), rows["seed"].tolist(),
                                      np.asarray(rows[metric], dtype=np.float64).tolist()):
        out.setdefault((int(st), str(key)), {}).setdefault(str(task), {})[int(seed)] = v
    return out


def overall_by_seed(per_task: dict[str, dict[int, float]], tasks: list[str]) -> dict[int, float]:
    """Per seed, the mean over ``tasks`` (seeds missing a task are left out; a NaN task
    value makes that seed's overall NaN, which the interval then leaves out and counts)."""
    seeds = set.intersection(*(set(per_task.get(t, {})) for t in tasks)) if tasks else set()
    return {s: float(np.mean([per_task[t][s] for t in tasks])) for s in sorted(seeds)}


def tuned_rates(rows: dict[str, np.ndarray]) -> dict[tuple[int, str], dict[str, float]]:
    """``{(stage, key): {task: tuned lr}}``."""
    out: dict[tuple[int, str], dict[str, float]] = {}
    for st, task, key, lr in zip(rows["stage"].tolist(), rows["task"].tolist(),
                                 rows["key"].tolist(), rows["lr"].tolist()):
        out.setdefault((int(st), str(key)), {})[str(task)] = float(lr)
    return out


# The leaderboard --------------------------------------------------------------------------

def _task_summary(values: list[float], interval: bool) -> dict:
    from actscope.analysis.intervals import mean_ci, robust_mean_std

    if interval:
        return mean_ci(values, key="test_accuracy")
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    mean, std = robust_mean_std(v) if v.size else (None, None)
    return {"mean": mean, "std": std, "ci95": None, "n": int(v.size),
            "n_excluded": len(values) - int(v.size), "method": None, "note": PER_TASK_NOTE}


def _entry(cand, stage: int, per_task: dict[str, dict[int, float]], rates: dict[str, float],
           tasks: list[str], task_intervals: bool) -> dict:
    from actscope.analysis.intervals import mean_ci

    overall = overall_by_seed(per_task, tasks)
    return {
        "key": cand.key, "name": cand.builtin or f"cand_{cand.key}", "origin": cand.origin,
        "formula": cand.formula, "size": int(cand.size), "flops": int(cand.flops),
        "stage": stage, "seeds": len(overall),
        "overall": mean_ci(list(overall.values()), key="test_accuracy"),
        "tasks": {t: {**_task_summary([per_task.get(t, {})[s] for s in sorted(per_task.get(t, {}))],
                                      task_intervals), "lr": rates.get(t)} for t in tasks},
    }


def rank(cands: list, rows: dict[str, np.ndarray], tasks: list[str]) -> list[dict]:
    """Every candidate with rows, at the last stage it reached, ranked: later stages first,
    then the candidates whose every seed finished (a seed that diverged at the tuned rate
    has no accuracy: a mean over the rest would rank an unreliable candidate too high), then
    by mean overall test accuracy (higher first; no mean last), then by key. Overall
    intervals for all; per-task intervals for the last stage's candidates (thousands of
    bootstrap intervals of screened-out candidates per task would cost more than they say)."""
    scores, rates = seed_scores(rows), tuned_rates(rows)
    last: dict[str, int] = {}
    for st, key in scores:
        last[key] = max(last.get(key, -1), st)
    final = max(last.values(), default=0)
    entries = [_entry(c, last[c.key], scores[(last[c.key], c.key)], rates[(last[c.key], c.key)], tasks,
                      last[c.key] == final) for c in cands if c.key in last]

    def order(e):
        m = e["overall"]["mean"]
        unfinished = e["overall"].get("n_excluded", 0) > 0
        return (-e["stage"], m is None, unfinished, -(m if m is not None else 0.0), e["key"])

    entries.sort(key=order)
    for i, e in enumerate(entries, 1):
        e["rank"] = i
    return entries


def compare(entries: list[dict], rows: dict[str, np.ndarray], references: dict[str, str],
            tasks: list[str]) -> list[dict]:
    """Paired comparisons (by seed, overall test accuracy, each at its own tuned rates) of
    every non-reference candidate of the last stage with each reference (``{name: key}``),
    Holm-corrected as one family; each entry gets ``vs`` ``{reference: comparison}``."""
    from actscope.analysis.decisions import decide, signed_rank

    if not entries:
        return []
    scores = seed_scores(rows)
    final = max(e["stage"] for e in entries)
    ref_keys = set(references.values())
    comps = []
    for e in entries:
        if e["stage"] != final or e["key"] in ref_keys:
            continue
        mine = overall_by_seed(scores[(final, e["key"])], tasks)
        e["vs"] = {}
        for ref, rkey in references.items():
            if (final, rkey) not in scores:
                continue
            theirs = overall_by_seed(scores[(final, rkey)], tasks)
            common = [s for s in sorted(set(mine) & set(theirs))
                      if np.isfinite(mine[s]) and np.isfinite(theirs[s])]
            c = signed_rank([mine[s] - theirs[s] for s in common])
            c.update(candidate=e["key"], reference=ref)
            e["vs"][ref] = c
            comps.append(c)
    return decide(comps)


def leaderboard(cands: list, table: dict[str, np.ndarray], references: list[str] | tuple[str, ...],
                tasks: list[str] | None = None) -> dict:
    """The leaderboard of a search's member table.

    Parameters
    ----------
    cands : list of Candidate
        Every candidate (references included: each reference is the candidate whose
        ``builtin`` is its name).
    table : dict of str to ndarray
        The member table.
    references : sequence of str
        The reference activations' names.
    tasks : list of str, optional
        The tasks in order (default: those of the table, sorted).

    Returns
    -------
    dict
        ``rows`` (ranked entries), ``comparisons`` (every paired test, Holm-adjusted),
        ``tasks``, ``references`` (name -> key), ``final_stage``, ``seeds_needed``.
    """
    rows = tuned(table)
    tasks = list(tasks) if tasks is not None else sorted({str(t) for t in rows["task"].tolist()})
    refs = {c.builtin: c.key for c in cands if c.builtin in references}
    refs = {r: refs[r] for r in references if r in refs}
    entries = rank(cands, rows, tasks)
    comps = compare(entries, rows, refs, tasks)
    return {"rows": entries, "comparisons": comps, "tasks": tasks, "references": refs,
            "final_stage": max((e["stage"] for e in entries), default=None),
            "seeds_needed": seeds_needed(comps)}


def seeds_needed(comps: list[dict]) -> dict:
    """How many seeds a candidate better on every one needs to pass Holm's first step over
    these comparisons, and how many the last stage's comparisons have (fewest): where the
    second is below the first, no verdict of "greater" or "less" was possible at all."""
    from actscope.analysis.decisions import ALPHA, min_pairs

    have = min((c["n"] for c in comps), default=None)
    need = min_pairs(ALPHA, len(comps)) if comps else None
    possible = None if have is None or need is None else have >= need
    return {"comparisons": len(comps), "needed": need, "have": have, "possible": possible}
