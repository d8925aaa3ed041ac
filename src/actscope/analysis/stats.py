"""Statistics over the members of an ensemble (seeds): what metrics.json and the reports say.

Per arm, each metric's mean gets an interval that respects its range (``intervals``);
between two arms, members are paired by seed and judged by one rule whose test and
interval agree, Holm-corrected across the report (``decisions``). This module pairs the
members of metrics.json, runs both, and states each comparison in one line (its verdict).
With one seed no interval and no verdict can be given: they are None or say so, never a
made-up number. scipy.stats is imported lazily (it takes ~1 s to import).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import combinations

import numpy as np

from actscope.analysis.decisions import ALPHA, TEST_NOTE, decide, signed_rank
from actscope.analysis.intervals import CI_METHODS, CI_NOTE, MIN_SEEDS_INTERVAL, mean_ci, metric_range

__all__ = ["ALPHA", "CI_METHODS", "CI_NOTE", "EQUIVALENCE_MARGIN", "MIN_SEEDS_INTERVAL", "TEST_NOTE",
           "average_ranks", "compare_arms", "equivalence_margin", "is_percent", "mean_ci", "member_value",
           "pair_by_seed", "paired_difference", "scalar_keys", "spearman", "summarize_arm",
           "verdict_text"]

EQUIVALENCE_MARGIN = 0.01  # ±1 percentage point, for metrics that are fractions


def spearman(x, y, axis: int = -1) -> np.ndarray | float:
    """Spearman rank correlation of ``x`` and ``y`` along ``axis`` (ties get average ranks).

    Broadcasts like NumPy; NaN where either side is constant or has non-finite values.
    """
    x, y = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    bad = ~(np.isfinite(x).all(axis=axis) & np.isfinite(y).all(axis=axis))
    rx = average_ranks(np.nan_to_num(x), axis=axis)
    ry = average_ranks(np.nan_to_num(y), axis=axis)
    rx = rx - rx.mean(axis=axis, keepdims=True)
    ry = ry - ry.mean(axis=axis, keepdims=True)
    den = np.sqrt((rx * rx).sum(axis=axis) * (ry * ry).sum(axis=axis))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (rx * ry).sum(axis=axis) / den
    rho = np.where((den == 0) | bad, np.nan, np.clip(rho, -1.0, 1.0))
    return rho if rho.ndim else float(rho)


def average_ranks(a, axis: int = -1) -> np.ndarray:
    """``scipy.stats.rankdata(a, axis=axis)`` for NaN-free ``a``: ranks from 1 along
    ``axis``, tied values sharing the mean of their ranks. In NumPy, because a run's
    probes need nothing else of scipy.stats, which takes about a second to import."""
    a = np.moveaxis(np.asarray(a, dtype=np.float64), axis, -1)
    n = a.shape[-1]
    if a.size == 0:
        return np.moveaxis(np.zeros(a.shape), -1, axis)
    rows = a.reshape(-1, n)
    order = np.argsort(rows, axis=1, kind="mergesort")
    s = np.take_along_axis(rows, order, axis=1)
    starts = np.ones(s.shape, dtype=bool)
    starts[:, 1:] = s[:, 1:] != s[:, :-1]
    group = np.cumsum(starts.ravel()) - 1  # a row's first value always starts a group
    position = np.tile(np.arange(n, dtype=np.float64), len(rows))
    mean_rank = np.bincount(group, weights=position) / np.bincount(group) + 1.0
    ranks = np.empty(rows.shape)
    np.put_along_axis(ranks, order, mean_rank[group].reshape(rows.shape), axis=1)
    return np.moveaxis(ranks.reshape(a.shape), -1, axis)


def pair_by_seed(seeds_a: Sequence[int], a, seeds_b: Sequence[int], b) -> tuple[list[int], np.ndarray,
                                                                                np.ndarray]:
    """The seeds both arms ran and both values are finite, with the aligned values."""
    va = {int(s): (np.nan if v is None else float(v)) for s, v in zip(seeds_a, a)}
    vb = {int(s): (np.nan if v is None else float(v)) for s, v in zip(seeds_b, b)}
    seeds = [s for s in va if s in vb and np.isfinite(va[s]) and np.isfinite(vb[s])]
    return seeds, np.array([va[s] for s in seeds]), np.array([vb[s] for s in seeds])


def equivalence_margin(key: str) -> float | None:
    """The equivalence margin of a metric: ±1 pp for fractions, None (no claim) otherwise."""
    return EQUIVALENCE_MARGIN if metric_range(key) == (0.0, 1.0) else None


def paired_difference(a, b, alpha: float = ALPHA, margin: float | None = None) -> dict:
    """Compare aligned samples ``a`` and ``b`` (pairs) by the rule of ``decisions``.

    Returns ``n``, ``mean_diff`` (mean of a - b), ``estimate`` (Hodges–Lehmann), ``ci95``
    (its matching interval; None when n pairs cannot reach ``alpha``), ``p`` (two-sided
    exact signed-rank), ``p_min``, wins (a > b), losses, ties, ``test`` and, with a
    ``margin``, ``p_equivalence`` (TOST). Pairs whose difference is not finite are left out.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    d = d[np.isfinite(d)]
    out = {"n": int(d.size), "mean_diff": None, **signed_rank(d, alpha=alpha, margin=margin),
           "wins": int((d > 0).sum()), "losses": int((d < 0).sum()), "ties": int((d == 0).sum()),
           "test": "wilcoxon"}
    if d.size:
        scale = float(np.max(np.abs(d))) or 1.0
        out["mean_diff"] = float((d / scale).mean()) * scale
    return out


def is_percent(key: str) -> bool:
    """Metrics that are fractions, shown in percent (differences in percentage points)."""
    return any(w in key for w in ("accuracy", "probe_acc", "saturated", "dead"))


def _num(x: float, key: str, signed: bool = False) -> str:
    if is_percent(key):
        return f"{100 * x:{'+' if signed else ''}.1f}"
    return f"{x:{'+' if signed else ''}.3g}"


def _p_text(p: float, c: dict) -> str:
    n_tests = c.get("n_tests", 1)
    return f"p = {p:.2g}" + (f" (Holm, {n_tests} tests)" if n_tests > 1 else "")


def _oriented(c: dict) -> tuple[str, str, float, list[float] | None, int]:
    """(larger arm, smaller arm, estimate ≥ 0, its interval, seeds where the larger won)."""
    est, ci, first, second, wins = c["estimate"], c["ci95"], c["a"], c["b"], c["wins"]
    if est < 0 or (est == 0 and c.get("direction", 0) < 0):
        first, second, wins, est = second, first, c["losses"], -est
        ci = None if ci is None else [-ci[1], -ci[0]]
    return first, second, est, ci, wins


def verdict_text(c: dict, label: Callable[[str], str] | None = None, alpha: float = ALPHA) -> str:
    """One line stating a comparison's decision.

    "relu > sigmoid in test accuracy: +18.0 pp [17.5, 18.6], 20/20 seeds, p = 1.9e-06 (Holm,
    45 tests)"; "... no detectable difference: ..., smallest attainable p = 0.031";
    "... ≈ ... equivalent within ±1 pp: ..."; "... too few seeds for a verdict: ...". The
    estimate is Hodges–Lehmann's; the interval is the one the test inverts to.
    """
    key = c["metric"]
    name = label(key) if label else key
    if c["n"] == 0 or c.get("estimate") is None:
        return f"{c['a']} vs {c['b']} in {name}: no seed where both have a value"
    if "decision" not in c:  # a comparison judged on its own: a family of one
        c = decide([dict(c)], alpha)[0]
    first, second, est, ci, wins = _oriented(c)
    unit = " pp" if is_percent(key) else ""
    n, dec = c["n"], c["decision"]
    ci_txt = "" if ci is None else f" [{_num(ci[0], key)}, {_num(ci[1], key)}]"
    if ci is not None and ci[0] == ci[1]:
        ci_txt += f" (all {n} differences equal)"
    diff = f"{_num(est, key, True)}{unit}{ci_txt}"
    if dec in ("greater", "less"):
        return f"{first} > {second} in {name}: {diff}, {wins}/{n} seeds, {_p_text(c['p_adjusted'], c)}"
    if dec == "equivalent":
        m = c["margin"]
        eq = c["ci_equivalence"]
        return (f"{c['a']} ≈ {c['b']} in {name}: equivalent within ±{_num(m, key)}{unit}: "
                f"{_num(c['estimate'], key, True)}{unit} [{_num(eq[0], key)}, {_num(eq[1], key)}] "
                f"(90%), {n} seeds, TOST p = {c['p_equivalence_adjusted']:.2g} "
                f"(Holm, {c.get('n_equivalence_tests', 1)} tests)")
    if dec == "too_few":
        return (f"{first} vs {second} in {name}: too few seeds for a verdict: {diff}, {wins}/{n} seeds "
                f"higher; {n} seed{'s' if n > 1 else ''} can reach p = {c['p_min']:.2g} at best, "
                f"above α = {alpha:g}")
    holm_txt = ("; the interval excludes 0 before Holm's correction, not after"
                if ci is not None and (ci[0] > 0 or ci[1] < 0) else "")
    return (f"{first} vs {second} in {name}: no detectable difference: {diff}, {wins}/{n} seeds "
            f"higher, {_p_text(c['p_adjusted'], c)}; smallest attainable p = {c['p_min']:.2g}{holm_txt}")


def member_value(member: dict, key: str):
    """A scalar metric of one member of metrics.json: a top-level key or a probe key."""
    if member.get("diverged"):
        return None
    if key in member and not isinstance(member[key], (dict, list)):
        return member[key]
    return member.get("probes", {}).get(key)


def scalar_keys(arm: dict) -> list[str]:
    """Every scalar metric of an arm of metrics.json, in a stable order."""
    keys: dict[str, None] = {}
    for m in arm["members"]:
        for k, v in m.items():
            if k not in ("seed", "diverged", "diverged_epoch") and (v is None or isinstance(v, float | int)) \
                    and not isinstance(v, bool):
                keys[k] = None
        for k in m.get("probes", {}):
            keys[k] = None
    return list(keys)


def summarize_arm(arm: dict, keys: Sequence[str] | None = None, method: str = "auto") -> dict:
    """``{metric: mean_ci(...)}`` over the members of one arm of metrics.json."""
    keys = scalar_keys(arm) if keys is None else keys
    return {k: mean_ci([member_value(m, k) for m in arm["members"]], method=method, key=k) for k in keys}


def compare_arms(arms: dict, keys: Sequence[str] | None = None,
                 label: Callable[[str], str] | None = None, alpha: float = ALPHA) -> list[dict]:
    """Every pair of arms (in order), every scalar metric both have: paired by seed and
    judged as one family (Holm across all of them).

    Each entry holds the arms, the metric, the fields of :func:`paired_difference`,
    ``p_adjusted``, ``n_tests``, ``decision`` and the one-line ``verdict``.
    """
    out = []
    for (na, a), (nb, b) in combinations(arms.items(), 2):
        ka, kb = scalar_keys(a), scalar_keys(b)
        for key in (keys if keys is not None else [k for k in ka if k in kb]):
            seeds, va, vb = pair_by_seed([m["seed"] for m in a["members"]],
                                         [member_value(m, key) for m in a["members"]],
                                         [m["seed"] for m in b["members"]],
                                         [member_value(m, key) for m in b["members"]])
            if not seeds:
                continue
            out.append({"a": na, "b": nb, "metric": key,
                        **paired_difference(va, vb, alpha=alpha, margin=equivalence_margin(key))})
    decide(out, alpha)
    for c in out:
        c["verdict"] = verdict_text(c, label, alpha)
    return out
