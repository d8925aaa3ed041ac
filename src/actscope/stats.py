"""Statistics over the members of an ensemble (seeds), with scipy."""

from __future__ import annotations

import numpy as np
from scipy import stats as sps


def mean_ci(values, level: float = 0.95) -> dict:
    """Mean, std and a Student-t confidence interval of the finite values.

    With fewer than two values no interval can be given: ``ci95`` is None.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    n = int(v.size)
    if n == 0:
        return {"mean": None, "std": None, "ci95": None, "n": 0, "method": "t"}
    mean = float(v.mean())
    if n < 2:
        return {"mean": mean, "std": None, "ci95": None, "n": n, "method": "t"}
    sd = float(v.std(ddof=1))
    if sd == 0.0:
        ci = [mean, mean]
    else:
        lo, hi = sps.t.interval(level, n - 1, loc=mean, scale=sd / np.sqrt(n))
        ci = [float(lo), float(hi)]
    return {"mean": mean, "std": sd, "ci95": ci, "n": n, "method": "t"}
