"""Statistics over the members of an ensemble (seeds), with scipy.

Per arm: mean, standard deviation and a 95% interval (Student-t by default, or a BCa
bootstrap). Between two arms, members are paired by seed: the mean difference with its
t-interval, the two-sided Wilcoxon signed-rank p-value and the number of seeds on which
the first arm is larger. With one seed no interval and no p-value can be given: they are
None, never a made-up number. scipy.stats is imported lazily (it takes ~1 s to import).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import combinations

import numpy as np

CI_METHODS = ("t", "bootstrap")
CI_NOTE = {"t": "95% Student-t interval over seeds",
           "bootstrap": "95% BCa bootstrap interval over seeds (2,000 resamples)"}
TEST_NOTE = ("paired by seed: mean difference with a 95% Student-t interval on the differences, "
             "two-sided Wilcoxon signed-rank p-value (not corrected for multiple comparisons)")


def _finite(values) -> np.ndarray:
    v = np.asarray([np.nan if x is None else x for x in np.ravel(np.asarray(values, dtype=object))],
                   dtype=np.float64)
    return v[np.isfinite(v)]


def _t_interval(v: np.ndarray, level: float) -> list[float]:
    from scipy import stats as sps  # imported lazily: scipy.stats takes ~1 s to import

    mean, sd = float(v.mean()), float(v.std(ddof=1))
    if sd == 0.0:
        return [mean, mean]
    lo, hi = sps.t.interval(level, v.size - 1, loc=mean, scale=sd / np.sqrt(v.size))
    return [float(lo), float(hi)]


def _bootstrap_interval(v: np.ndarray, level: float, seed: int) -> list[float]:
    from scipy import stats as sps

    if float(v.std()) == 0.0:
        return [float(v.mean())] * 2
    res = sps.bootstrap((v,), np.mean, confidence_level=level, n_resamples=2000, method="BCa",
                        rng=np.random.default_rng(seed))
    lo, hi = res.confidence_interval
    if not (np.isfinite(lo) and np.isfinite(hi)):  # BCa fails on degenerate samples
        lo, hi = np.quantile(res.bootstrap_distribution, [(1 - level) / 2, (1 + level) / 2])
    return [float(lo), float(hi)]


def mean_ci(values, level: float = 0.95, method: str = "t", seed: int = 0) -> dict:
    """Mean, std and a confidence interval of the finite values (None counts as missing).

    ``method`` is "t" (Student-t) or "bootstrap" (BCa, seeded). With fewer than two values
    no interval can be given: ``ci95`` is None.
    """
    if method not in CI_METHODS:
        raise ValueError(f"method {method!r} is not one of {', '.join(CI_METHODS)}")
    v = _finite(values)
    n = int(v.size)
    if n == 0:
        return {"mean": None, "std": None, "ci95": None, "n": 0, "method": method}
    mean = float(v.mean())
    if n < 2:
        return {"mean": mean, "std": None, "ci95": None, "n": n, "method": method}
    ci = _t_interval(v, level) if method == "t" else _bootstrap_interval(v, level, seed)
    return {"mean": mean, "std": float(v.std(ddof=1)), "ci95": ci, "n": n, "method": method}


def spearman(x, y, axis: int = -1) -> np.ndarray:
    """Spearman rank correlation of ``x`` and ``y`` along ``axis`` (ties get average ranks).

    Broadcasts like NumPy; NaN where either side is constant or has non-finite values.
    """
    from scipy.stats import rankdata

    x, y = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    bad = ~(np.isfinite(x).all(axis=axis) & np.isfinite(y).all(axis=axis))
    rx = rankdata(np.nan_to_num(x), axis=axis)
    ry = rankdata(np.nan_to_num(y), axis=axis)
    rx = rx - rx.mean(axis=axis, keepdims=True)
    ry = ry - ry.mean(axis=axis, keepdims=True)
    den = np.sqrt((rx * rx).sum(axis=axis) * (ry * ry).sum(axis=axis))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (rx * ry).sum(axis=axis) / den
    rho = np.where((den == 0) | bad, np.nan, np.clip(rho, -1.0, 1.0))
    return rho if rho.ndim else float(rho)


def pair_by_seed(seeds_a: Sequence[int], a, seeds_b: Sequence[int], b) -> tuple[list[int], np.ndarray,
                                                                                np.ndarray]:
    """The seeds both arms ran and both values are finite, with the aligned values."""
    va = {int(s): (np.nan if v is None else float(v)) for s, v in zip(seeds_a, a)}
    vb = {int(s): (np.nan if v is None else float(v)) for s, v in zip(seeds_b, b)}
    seeds = [s for s in va if s in vb and np.isfinite(va[s]) and np.isfinite(vb[s])]
    return seeds, np.array([va[s] for s in seeds]), np.array([vb[s] for s in seeds])


def paired_difference(a, b, level: float = 0.95) -> dict:
    """Compare aligned samples ``a`` and ``b`` (pairs): mean of a - b, its t-interval,
    the Wilcoxon signed-rank p-value (two-sided), wins (a > b), losses and ties.

    With one pair ``ci95`` and ``p`` are None; with every difference zero ``p`` is 1.
    """
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    d = d[np.isfinite(d)]
    n = int(d.size)
    out = {"n": n, "mean_diff": float(d.mean()) if n else None, "ci95": None, "p": None,
           "wins": int((d > 0).sum()), "losses": int((d < 0).sum()), "ties": int((d == 0).sum()),
           "test": "wilcoxon"}
    if n >= 2:
        out["ci95"] = _t_interval(d, level)
        if np.any(d != 0):
            from scipy.stats import wilcoxon

            out["p"] = float(wilcoxon(d, zero_method="wilcox", alternative="two-sided").pvalue)
        else:
            out["p"] = 1.0
    return out


def is_percent(key: str) -> bool:
    """Metrics that are fractions, shown in percent (differences in percentage points)."""
    return any(w in key for w in ("accuracy", "probe_acc", "saturated", "dead"))


def _num(x: float, key: str, signed: bool = False) -> str:
    if is_percent(key):
        return f"{100 * x:{'+' if signed else ''}.1f}"
    return f"{x:{'+' if signed else ''}.3g}"


def verdict_text(c: dict, label: Callable[[str], str] | None = None) -> str:
    """One line: "relu > sigmoid in test accuracy: +17.0 pp [15.2, 18.8], 20/20 seeds, p = 1.9e-06".

    The arm with the larger mean comes first; ">" when the interval excludes zero (or
    with one seed, where none can be given), "≈" when it includes zero.
    """
    key = c["metric"]
    name = label(key) if label else key
    if c["n"] == 0 or c["mean_diff"] is None:
        return f"{c['a']} vs {c['b']} in {name}: no seed where both have a value"
    d, ci, first, second, wins = c["mean_diff"], c["ci95"], c["a"], c["b"], c["wins"]
    if d < 0:
        first, second, wins = second, first, c["losses"]
        d = -d
        ci = None if ci is None else [-ci[1], -ci[0]]
    unit = " pp" if is_percent(key) else ""
    if ci is None:
        sym = ">" if d > 0 else "="
        return (f"{first} {sym} {second} in {name}: {_num(d, key, True)}{unit}, one seed: "
                f"no interval or p-value can be given")
    sym = ">" if ci[0] > 0 else "≈"
    p = c["p"]
    p_txt = "n/a" if p is None else f"{p:.2g}"
    return (f"{first} {sym} {second} in {name}: {_num(d, key, True)}{unit} "
            f"[{_num(ci[0], key)}, {_num(ci[1], key)}], {wins}/{c['n']} seeds, p = {p_txt}")


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


def summarize_arm(arm: dict, keys: Sequence[str] | None = None, method: str = "t") -> dict:
    """``{metric: mean_ci(...)}`` over the members of one arm of metrics.json."""
    keys = scalar_keys(arm) if keys is None else keys
    return {k: mean_ci([member_value(m, k) for m in arm["members"]], method=method) for k in keys}


def compare_arms(arms: dict, keys: Sequence[str] | None = None,
                 label: Callable[[str], str] | None = None) -> list[dict]:
    """Every pair of arms (in order), every scalar metric both have: paired by seed.

    Each entry holds the arms, the metric, n, mean_diff (a - b), ci95, p, wins/losses/ties
    and the one-line ``verdict``.
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
            c = {"a": na, "b": nb, "metric": key, **paired_difference(va, vb)}
            c["verdict"] = verdict_text(c, label)
            out.append(c)
    return out
