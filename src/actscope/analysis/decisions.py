"""One decision rule for paired comparisons, whose test and interval agree by construction.

Two arms are compared on the differences ``d = a - b`` of their paired members (seeds):

- the two-sided Wilcoxon signed-rank test, exact (its null distribution by convolution,
  up to ``EXACT_MAX_N`` pairs; a normal approximation above), written on the Walsh averages
  ``(d_i + d_j) / 2, i <= j``: the statistic is the number of Walsh averages on the far side
  of the hypothesised shift, ties and zeros counted against rejection (conservative);
- the Hodges–Lehmann estimate (the median of the Walsh averages) and the matching interval:
  the shifts the same test does not reject, ``[W_(M-t+1), W_(t)]``. Hence ``p <= alpha``
  exactly when the interval excludes 0, and with too few pairs to ever reach ``alpha`` no
  interval is given (never a zero-width one built on three equal differences);
- equivalence within ``±margin`` by two one-sided tests (TOST) of the same statistic,
  equivalent to the ``1 - 2 alpha`` interval lying inside ``(-margin, margin)``;
- Holm's step-down correction across all the comparisons one report makes.

A comparison's ``decision`` is ``"greater"`` (a > b) or ``"less"`` (b > a) when its
Holm-adjusted p <= alpha (so its raw p <= alpha and its interval excludes 0),
``"equivalent"`` when the Holm-adjusted TOST p <= alpha, ``"too_few"`` when no difference
with this many pairs could reach alpha, else ``"none"`` (no detectable difference).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

ALPHA = 0.05
EXACT_MAX_N = 300
CORRECTION = "holm"
TEST_NOTE = (f"paired by seed: two-sided Wilcoxon signed-rank test (exact up to {EXACT_MAX_N} pairs), "
             "Hodges–Lehmann estimate of the difference with the matching Walsh-average 95% interval "
             f"(the interval excludes 0 exactly when p ≤ {ALPHA}); Holm correction across every "
             f"comparison of the report; '>' when the Holm-adjusted p ≤ {ALPHA}, 'equivalent' when "
             f"two one-sided tests (TOST) within ±margin give a Holm-adjusted p ≤ {ALPHA}")


@functools.lru_cache(maxsize=64)
def _tail(n: int) -> np.ndarray:
    """``tail[k] = P(T >= k)`` for the signed-rank statistic T of n untied, non-zero pairs
    under the null hypothesis, k = 0 .. M + 1 (M = n(n+1)/2)."""
    m = n * (n + 1) // 2
    if n > EXACT_MAX_N:
        from scipy.stats import norm

        sd = math.sqrt(n * (n + 1) * (2 * n + 1) / 24)
        tail = norm.sf((np.arange(m + 2) - 0.5 - m / 2) / sd)
        tail[0] = 1.0
    else:
        pmf = np.zeros(m + 1)
        pmf[0] = 1.0
        for r in range(1, n + 1):  # the sign of rank r adds 0 or r, each with probability 1/2
            shifted = np.zeros_like(pmf)
            shifted[r:] = pmf[:-r]
            pmf = 0.5 * (pmf + shifted)
        tail = np.append(np.cumsum(pmf[::-1])[::-1], 0.0)
        tail[0] = 1.0
    tail.setflags(write=False)
    return tail


def _critical(n: int, tail_prob: float) -> int | None:
    """The smallest count k with ``P(T >= k) <= tail_prob`` (None when no k reaches it)."""
    tail = _tail(n)
    m = n * (n + 1) // 2
    if n == 0 or tail[m] > tail_prob:
        return None
    return int(np.argmax(tail <= tail_prob))


def walsh_averages(d) -> np.ndarray:
    """The sorted Walsh averages ``(d_i + d_j) / 2`` for ``i <= j``."""
    d = np.asarray(d, dtype=np.float64)
    i, j = np.triu_indices(d.size)
    return np.sort(0.5 * d[i] + 0.5 * d[j])


def min_p(n: int, two_sided: bool = True) -> float:
    """The smallest p-value n pairs can give (n = 3 paired: 0.25 two-sided)."""
    if n == 0:
        return 1.0
    return min(1.0, (2.0 if two_sided else 1.0) * float(_tail(n)[n * (n + 1) // 2]))


def min_pairs(alpha: float = ALPHA, n_tests: int = 1) -> int:
    """The fewest pairs whose most extreme result reaches ``alpha / n_tests`` (two-sided):
    the first step of Holm's correction over ``n_tests`` comparisons."""
    n = 1
    while min_p(n) > alpha / max(1, n_tests):
        n += 1
    return n


def _interval(w: np.ndarray, n: int, tail_prob: float) -> list[float] | None:
    t = _critical(n, tail_prob)
    if t is None:
        return None
    m = w.size
    return [float(w[m - t]), float(w[t - 1])]


def signed_rank(d, alpha: float = ALPHA, margin: float | None = None) -> dict:
    """The test, estimate and interval of one set of paired differences.

    Parameters
    ----------
    d : array-like
        Finite paired differences a - b.
    alpha : float
        Two-sided level of the test; the interval has confidence ``1 - alpha``.
    margin : float, optional
        Equivalence margin (> 0): adds the TOST p-value and the ``1 - 2 alpha`` interval.

    Returns
    -------
    dict
        ``n``, ``estimate`` (Hodges–Lehmann), ``ci95`` (None when n pairs cannot reach
        ``alpha``), ``p`` (two-sided), ``p_min``, ``exact``, ``direction`` (+1: a > b
        more often, -1, 0), ``margin``, ``p_equivalence`` and ``ci_equivalence``.
    """
    d = np.asarray(d, dtype=np.float64)
    n = int(d.size)
    out: dict[str, Any] = {"n": n, "estimate": None, "ci95": None, "p": None, "p_min": min_p(n),
           "exact": n <= EXACT_MAX_N, "direction": 0, "margin": margin, "p_equivalence": None,
           "ci_equivalence": None}
    if n == 0:
        return out
    w = walsh_averages(d)
    tail = _tail(n)
    pos, neg = int((w > 0).sum()), int((w < 0).sum())
    out["estimate"] = float(np.median(w))
    out["p"] = min(1.0, 2.0 * float(tail[max(pos, neg)]))
    out["direction"] = (pos > neg) - (pos < neg)
    out["ci95"] = _interval(w, n, alpha / 2)
    if margin is not None:
        low, high = int((w > -margin).sum()), int((w < margin).sum())
        out["p_equivalence"] = float(max(tail[low], tail[high]))
        out["ci_equivalence"] = _interval(w, n, alpha)
    return out


def holm(pvalues) -> list[float | None]:
    """Holm's step-down adjusted p-values (None stays None and is not counted).

    ``[0.01, 0.04, 0.03]`` → ``[0.03, 0.06, 0.06]``.
    """
    idx = [i for i, p in enumerate(pvalues) if p is not None]
    m = len(idx)
    out: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(sorted(idx, key=lambda i: pvalues[i])):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        out[i] = running
    return out


def decide(comparisons: list[dict], alpha: float = ALPHA) -> list[dict]:
    """Holm-adjust the p-values of ``comparisons`` (dicts from :func:`signed_rank`) as one
    family, and the TOST p-values as another, then set each one's ``decision``.

    Adds ``p_adjusted``, ``p_equivalence_adjusted``, ``n_tests``, ``n_equivalence_tests``
    and ``decision`` in place; returns the list.
    """
    adj = holm([c["p"] for c in comparisons])
    adj_eq = holm([c.get("p_equivalence") for c in comparisons])
    n_tests, n_eq = sum(p is not None for p in adj), sum(p is not None for p in adj_eq)
    for c, p, pe in zip(comparisons, adj, adj_eq):
        c["p_adjusted"], c["p_equivalence_adjusted"], c["n_tests"] = p, pe, n_tests
        c["n_equivalence_tests"] = n_eq
        if p is not None and p <= alpha:
            c["decision"] = "greater" if c["direction"] > 0 else "less"
        elif pe is not None and pe <= alpha:
            c["decision"] = "equivalent"
        elif c["p_min"] > alpha:
            c["decision"] = "too_few"
        else:
            c["decision"] = "none"
    return comparisons
