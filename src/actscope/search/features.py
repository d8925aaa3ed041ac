"""What each candidate looks like at initialisation, and how well that predicts its accuracy.

For every candidate (thousands: everything is one NumPy call per candidate at most):

- mean-field theory at the init the search uses (σw², σb² of the hidden→hidden layer from
  `nn.model.init_variances`): the fixed point q* of the length map and the gradient gain
  χ₁ = σw² E[φ'(√q* z)²] there, both as `theory` defines them (the lowest stable fixed
  point, reached from q0 → 0) and reached from the length standardised data give the
  first layer (q0 = σw² + σb²). `theory.fixed_point_q` scans and solves per activation
  (tens of ms each); here E[φ(√q z)²] is one vectorised quadrature
  (`theory.quadrature.gaussian_expectation`, split at φ's kinks) on a fixed geometric grid
  of q per candidate, the bracket of the root reached is narrowed twice by 7 nodes inside
  it (one quadrature call for both roots each time), and χ₁ comes from
  `theory.gradient_gain` (`benchmarks/bench_search_features.py`: time and agreement);
- the output distribution under z ~ N(0, 1) (mean, std, skewness, fraction with
  |f(z)| < NEAR_ZERO) and E[f'(z)²], on a fixed stratified sample of normal quantiles;
- the gradient norm at init of the search's network on its first task (NumPy engine,
  seeds 0..GRAD_SEEDS-1, the whole training split).

Each feature's predictive power is Spearman's ρ against the candidates' final accuracy
with a BCa bootstrap interval (scipy.stats) and the number of candidates it rests on.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import numpy as np

Q_GRID = np.geomspace(1e-8, 1e12, 20 * 6 + 1)  # 6 nodes a decade, up to theory's Q_CAP
BLOCK = 100                                     # activations per block (< breakpoints' cache)
REFINE_ROUNDS, SUBDIVIDE = 2, 7                 # each bracket: 2 rounds of 7 nodes inside
FIXED_TOL = 1e-9                                # |log(f(q)/q)| below this: q is a fixed point
Q_FLOOR = 1e-12
N_SAMPLE = 4000                                 # stratified N(0, 1) quantiles for the distribution
NEAR_ZERO = 0.01
GRAD_SEEDS = 3
MIN_CANDIDATES = 5                              # fewer: no correlation reported
N_RESAMPLES = 2000
FEATURES = ("q_star", "chi1", "q_star_data", "chi1_data", "out_mean", "out_std", "out_skew",
            "near_zero", "grad_sq", "grad_norm")


@functools.lru_cache(maxsize=1)
def _normal_sample() -> np.ndarray:
    from scipy.stats import norm

    z = norm.ppf((np.arange(N_SAMPLE) + 0.5) / N_SAMPLE)
    z.setflags(write=False)
    return z


def _call(f, u: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.broadcast_to(np.asarray(f(u), dtype=np.float64), u.shape)


def _moment(act, q: np.ndarray, breaks: np.ndarray) -> np.ndarray:
    """E[φ(√q z)²] at each q (one vectorised quadrature, split at φ's kinks ``breaks``)."""
    from actscope.theory.quadrature import gaussian_expectation

    return gaussian_expectation(lambda u: _call(act.fn, u) ** 2, q, breaks)


def _growth(m: np.ndarray, sw2, sb2, q: np.ndarray) -> np.ndarray:
    """log(f(q) / q) of the length map f(q) = σw² m + σb², clipped to ±50 (NaN: -50)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        r = np.log((sw2 * m + sb2) / q)
    return np.clip(np.nan_to_num(r, nan=-50.0), -50.0, 50.0)


def _crossing(r: np.ndarray, i: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each row of ``r`` (the map's growth on the grid), walk from node ``i`` in
    direction ``step`` to the first sign change: (found, node before it, node after it)."""
    K, n = r.shape
    idx = np.arange(n)
    ahead = (idx[None] > i[:, None]) if step > 0 else (idx[None] < i[:, None])
    flip = ((r < 0) if step > 0 else (r >= 0)) & ahead
    j = np.argmax(flip, axis=1) if step > 0 else n - 1 - np.argmax(flip[:, ::-1], axis=1)
    return np.asarray(flip.any(axis=1)), np.clip(j - step, 0, n - 1), j


def _brackets(r: np.ndarray, q0: np.ndarray | None, r0: np.ndarray | None):
    """The bracket [lo, hi] (with the growth at both ends) of the fixed point each row
    reaches, and where there is none, whether q* is 0 or inf: from q -> 0 (``q0`` None:
    the lowest stable one) or from q0 (``r0``: the growth at q0 itself)."""
    K, n = r.shape
    rows = np.arange(K)
    if q0 is None:
        found, a, b = _crossing(r, np.full(K, -1), 1)
        zero = r[:, 0] < FIXED_TOL
        return Q_GRID[a], Q_GRID[b], r[rows, a], r[rows, b], zero, ~zero & ~found
    assert r0 is not None  # given with q0
    above = np.searchsorted(Q_GRID, q0, side="right")   # first node > q0
    up = r0 >= 0
    f_up, a_up, b_up = _crossing(r, above - 1, 1)       # nodes > q0, walking up
    f_dn, a_dn, b_dn = _crossing(r, above, -1)          # nodes <= q0, walking down
    lo_up = np.where(Q_GRID[a_up] > q0, Q_GRID[a_up], q0)
    r_lo_up = np.where(Q_GRID[a_up] > q0, r[rows, a_up], r0)
    hi_dn = np.where(Q_GRID[a_dn] <= q0, Q_GRID[a_dn], q0)
    r_hi_dn = np.where(Q_GRID[a_dn] <= q0, r[rows, a_dn], r0)
    lo = np.where(up, lo_up, Q_GRID[b_dn])
    hi = np.where(up, Q_GRID[b_up], hi_dn)
    r_lo = np.where(up, r_lo_up, r[rows, b_dn])
    r_hi = np.where(up, r[rows, b_up], r_hi_dn)
    return lo, hi, r_lo, r_hi, ~up & ~f_dn, up & ~f_up


def _refine(acts: list, breaks: list, sw2, sb2, lo: np.ndarray, hi: np.ndarray, r_lo: np.ndarray,
            r_hi: np.ndarray) -> np.ndarray:
    """The roots of log(f(q)/q) in the brackets [lo, hi] (rows: activations, columns: roots):
    REFINE_ROUNDS times, SUBDIVIDE nodes inside each bracket (one quadrature call per
    activation for both) narrow it to the pair around the sign change; then the linear
    interpolation in log q between the two."""
    K = len(acts)
    t = np.linspace(0.0, 1.0, SUBDIVIDE + 2)[1:-1]
    for _ in range(REFINE_ROUNDS):
        la, lb = np.log(lo), np.log(hi)
        qs = np.exp(la[..., None] + t * (lb - la)[..., None])              # (K, 2, S)
        m = np.stack([_moment(act, qs[k].ravel(), breaks[k]) for k, act in enumerate(acts)]).reshape(qs.shape)
        nodes = np.concatenate([lo[..., None], qs, hi[..., None]], axis=-1)
        vals = np.concatenate([r_lo[..., None], _growth(m, sw2[:, None, None], sb2[:, None, None], qs),
                               r_hi[..., None]], axis=-1)
        change = (vals >= 0) != (vals[..., :1] >= 0)
        j = np.where(change.any(axis=-1), np.argmax(change, axis=-1), 1)[..., None]
        lo, hi = np.take_along_axis(nodes, j - 1, -1)[..., 0], np.take_along_axis(nodes, j, -1)[..., 0]
        r_lo, r_hi = np.take_along_axis(vals, j - 1, -1)[..., 0], np.take_along_axis(vals, j, -1)[..., 0]
    la, lb = np.log(lo), np.log(hi)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(r_lo != r_hi, r_lo / (r_lo - r_hi), 0.5)
    return np.exp(la + np.clip(np.nan_to_num(w, nan=0.5), 0.0, 1.0) * (lb - la)) if K else lo


def fixed_points(acts: list, sw2: np.ndarray, sb2: np.ndarray, q0: np.ndarray,
                 breaks: list | None = None) -> np.ndarray:
    """(K, 2): q* of each activation, the lowest stable fixed point of q ↦ σw² E[φ(√q z)²]
    + σb² (column 0) and the one its iteration reaches from ``q0`` (column 1); 0 where the
    map shrinks to 0, inf where it still grows at the grid's top (theory's Q_CAP)."""
    from actscope.theory.quadrature import breakpoints

    K = len(acts)
    if K == 0:
        return np.zeros((0, 2))
    breaks = [breakpoints(a) for a in acts] if breaks is None else breaks
    m = np.stack([_moment(act, np.append(Q_GRID, q), br) for act, q, br in zip(acts, q0, breaks)])
    r = _growth(m[:, :-1], sw2[:, None], sb2[:, None], Q_GRID)
    r0 = _growth(m[:, -1], sw2, sb2, q0)
    parts = [_brackets(r, None, None), _brackets(r, q0, r0)]
    lo, hi, r_lo, r_hi, zero, inf = (np.stack([p[i] for p in parts], axis=1) for i in range(6))
    q = _refine(acts, breaks, sw2, sb2, lo, hi, r_lo, r_hi)
    q = np.where(zero, 0.0, np.where(inf, np.inf, q))
    q[:, 1] = np.where(np.abs(r0) < FIXED_TOL, q0, q[:, 1])  # flat at q0 (relu, σw² = 2, σb² = 0)
    return q


def mean_field(acts: list, sw2: np.ndarray, sb2: np.ndarray, q0: np.ndarray) -> dict[str, np.ndarray]:
    """q* and χ₁ (`theory.gradient_gain`, with its limits at 0 and inf) of each activation at
    its (σw², σb²): at the lowest stable fixed point (``q_star``, ``chi1``) and at the one
    reached from ``q0`` (``q_star_data``, ``chi1_data``). Done in blocks of BLOCK, so that
    each activation's kinks (`theory.quadrature.breakpoints`, a scan cached for the last 256
    activations) are found once."""
    from actscope.theory.length import gradient_gain
    from actscope.theory.quadrature import breakpoints

    sw2, sb2, q0 = (np.asarray(v, dtype=np.float64) for v in (sw2, sb2, q0))
    q, chi = np.zeros((len(acts), 2)), np.zeros((len(acts), 2))
    for i in range(0, len(acts), BLOCK):
        part = slice(i, i + BLOCK)
        block = acts[part]
        breaks = [breakpoints(a) for a in block]
        q[part] = fixed_points(block, sw2[part], sb2[part], q0[part], breaks)
        chi[part] = [gradient_gain(a, qi, s) for a, qi, s in zip(block, q[part], sw2[part])]
    return {"q_star": q[:, 0], "chi1": chi[:, 0], "q_star_data": q[:, 1], "chi1_data": chi[:, 1]}


def distribution(act) -> dict[str, float]:
    """Mean, std, skewness and the fraction near zero of f(z), and E[f'(z)²], z ~ N(0, 1)."""
    z = _normal_sample()
    v, g = _call(act.fn, z.copy()), _call(act.grad, z.copy())
    sd = float(v.std())
    skew = float(((v - v.mean()) ** 3).mean() / sd**3) if sd > 0 else 0.0
    return {"out_mean": float(v.mean()), "out_std": sd, "out_skew": skew,
            "near_zero": float(np.mean(np.abs(v) < NEAR_ZERO)), "grad_sq": float(np.mean(g * g))}


def init_point(spec, act, n_inputs: int) -> tuple[float, float, float]:
    """(σw², σb²) of the hidden→hidden layer the search's init gives ``act`` (the first
    layer when there is one hidden layer) and q0, the length the first layer's
    pre-activations have on standardised data (σw² + σb² of the first layer)."""
    from actscope.nn.model import MLPSpec, init_variances

    mlp = MLPSpec(n_inputs, spec.hidden, act.name, 2, spec.init)
    v = init_variances(mlp)
    sw2, sb2 = v[1] if len(spec.hidden) > 1 else v[0]
    return sw2, sb2, v[0][0] + v[0][1]


def gradient_norm(spec, act, data, seeds: int = GRAD_SEEDS) -> float:
    """The mean over seeds 0..seeds-1 of the norm of the loss gradient (every weight and
    bias) at initialisation, on the whole training split (NumPy engine, float64)."""
    from actscope.engines.numpy_engine import NumpyEngine
    from actscope.nn.model import MLPSpec, init_params

    mlp = MLPSpec(data.n_features, spec.hidden, act.name, 2, spec.init)
    params = init_params(mlp, list(range(seeds)))
    with np.errstate(all="ignore"):
        _, grads = NumpyEngine().loss_and_grad(mlp, params, data.X_train, data.y_train)
    sq = sum(np.sum(g.W.reshape(seeds, -1) ** 2, axis=1) + np.sum(g.b.reshape(seeds, -1) ** 2, axis=1)
             for g in grads)
    return float(np.mean(np.sqrt(sq)))


def candidate_features(spec, candidates: list, data=None) -> dict[str, np.ndarray]:
    """Every feature of ``FEATURES`` for each candidate (arrays in the candidates' order,
    plus ``key``). ``data``: the first task's Dataset (loaded from ``spec`` when None)."""
    from actscope.data import load_dataset

    if data is None:
        data = load_dataset(next(iter(spec.tasks.values())))
    acts = [c.activation() for c in candidates]
    points = np.array([init_point(spec, a, data.n_features) for a in acts]).reshape(-1, 3)
    out: dict[str, np.ndarray] = {"key": np.array([c.key for c in candidates], dtype=str)}
    out.update(mean_field(acts, points[:, 0], points[:, 1], points[:, 2]))
    dist = [distribution(a) for a in acts]
    for k in ("out_mean", "out_std", "out_skew", "near_zero", "grad_sq"):
        out[k] = np.array([d[k] for d in dist], dtype=np.float64)
    out["grad_norm"] = np.array([gradient_norm(spec, a, data) for a in acts], dtype=np.float64)
    return out


# How well a feature predicts accuracy -----------------------------------------------------

def _pearson(x, y, axis=-1):
    """Pearson's r along ``axis`` (vectorised for scipy.stats.bootstrap)."""
    x = x - x.mean(axis=axis, keepdims=True)
    y = y - y.mean(axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (x * y).sum(axis=axis) / np.sqrt((x * x).sum(axis=axis) * (y * y).sum(axis=axis))


def spearman(x, y, seed: int = 0) -> dict:
    """Spearman's ρ of ``x`` against ``y`` with its p-value and a 95% BCa bootstrap interval,
    clipped to [-1, 1]; NaN pairs are left out (±inf rank as the extremes). Under
    MIN_CANDIDATES pairs, or a constant side: no ρ.

    The bootstrap resamples candidates (pairs) and correlates their ranks in the whole
    sample (ties averaged), rather than re-ranking each resample: the two differ by O(1/n),
    and re-ranking 2,000 resamples of thousands of candidates costs seconds per feature.
    """
    from scipy import stats

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    n = int(x.size)
    out: dict[str, Any] = {"rho": None, "ci95": None, "p": None, "n": n, "n_excluded": int(keep.size - n),
                           "note": None}
    if n < MIN_CANDIDATES:
        out["note"] = f"too few candidates (n={n}, need ≥{MIN_CANDIDATES})"
        return out
    if np.all(x == x[0]) or np.all(y == y[0]):
        out["note"] = "one side is constant: no rank correlation"
        return out
    res = stats.spearmanr(x, y)
    out["rho"], out["p"] = float(res.statistic), float(res.pvalue)
    rx, ry = stats.rankdata(x), stats.rankdata(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        boot = stats.bootstrap((rx, ry), _pearson, paired=True, vectorized=True,
                               n_resamples=N_RESAMPLES, method="BCa", rng=np.random.default_rng(seed))
    lo, hi = boot.confidence_interval
    if not (np.isfinite(lo) and np.isfinite(hi)):
        dist = boot.bootstrap_distribution[np.isfinite(boot.bootstrap_distribution)]
        lo, hi = np.quantile(dist, [0.025, 0.975]) if dist.size else (np.nan, np.nan)
    if np.isfinite(lo) and np.isfinite(hi):
        out["ci95"] = [max(-1.0, float(lo)), min(1.0, float(hi))]
    return out


def predictiveness(features: dict[str, np.ndarray], accuracy: dict[str, float]) -> dict[str, dict]:
    """Spearman's ρ (with interval and n) of every feature against ``accuracy`` (key ->
    final accuracy; candidates without one are left out)."""
    keys = features["key"].tolist()
    acc = np.array([accuracy.get(k, np.nan) if accuracy.get(k) is not None else np.nan for k in keys],
                   dtype=np.float64)
    return {f: spearman(features[f], acc) for f in FEATURES if f in features}
