"""Probes of the input space: the decision boundary (distance of points to it, and how
representations correlate with it), linear regions and unit heatmaps over a 2-D grid."""

from __future__ import annotations

import numpy as np

from actscope.analysis.stats import spearman
from actscope.data.boundaries import grid_distance
from actscope.nn.model import MLPSpec, Params
from actscope.nn.params import as_numpy, member_slice

REGION_FAMILIES = ("piecewise-linear", "linear")
FLAT = -1e9  # region code of a flat piece: FLAT - value (no real slope comes near it)


def input_grid(X: np.ndarray, step: float = 0.025, pad: float = 0.5, max_side: int = 400):
    """A regular grid over the 2-D extent of ``X`` (the article's: step 0.025, pad 0.5)."""
    lo, hi = X.min(axis=0) - pad, X.max(axis=0) + pad
    step = max(step, float((hi - lo).max()) / max_side)
    xs = np.arange(lo[0], hi[0], step)
    ys = np.arange(lo[1], hi[1], step)
    xx, yy = np.meshgrid(xs, ys)
    return xx, yy


def predict_grid(engine, spec: MLPSpec, params: Params, xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    """Predicted probability of class 1 (binary) or the argmax class over a grid: (K, ny, nx)."""
    grid = np.c_[xx.ravel(), yy.ravel()]
    prob = as_numpy(engine.forward(spec, params, grid).prob)
    if prob.ndim == 3:
        prob = prob.argmax(axis=-1).astype(np.float64)
    return prob.reshape(prob.shape[0], *xx.shape)


def _chunks(params: Params, n_points: int, budget: int = 4_000_000):
    """Slices of members such that a recorded forward of ``n_points`` stays within budget."""
    K = params[0].W.shape[0]
    width = max(int(W.shape[-1]) for W, _ in params)
    step = max(1, budget // max(1, n_points * width * 2))
    return [slice(i, min(K, i + step)) for i in range(0, K, step)]


def output_margin(logits: np.ndarray) -> np.ndarray:
    """(K, N): the logit of a binary output; top-1 minus top-2 logit with several classes."""
    logits = as_numpy(logits)
    if logits.shape[-1] == 1:
        return logits[..., 0]
    top = np.sort(logits, axis=-1)
    return top[..., -1] - top[..., -2]


def decision_distance(engine, spec: MLPSpec, params: Params, X: np.ndarray,
                      xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    """Distance of each point of ``X`` (2-D) to each member's learned decision boundary,
    read off the grid ``xx, yy``: (K, N); inf where a member has no boundary on the grid."""
    grid = np.c_[xx.ravel(), yy.ravel()]
    K = params[0].W.shape[0]
    dist = np.full((K, len(X)), np.nan)
    for sl in _chunks(params, len(grid)):
        logits = as_numpy(engine.forward(spec, member_slice(params, sl), grid).logits)
        for j, k in enumerate(range(K)[sl]):
            if logits.shape[-1] == 1:
                score = logits[j, :, 0].reshape(xx.shape)
            else:
                score = logits[j].argmax(-1).reshape(xx.shape)
            if np.isfinite(logits[j]).all():
                dist[k] = grid_distance(xx, yy, score, X)
    return dist


def linearised_distance(engine, spec: MLPSpec, params: Params, X: np.ndarray,
                        eps: float = 1e-4) -> np.ndarray:
    """First-order distance to the boundary, |margin| / ||d margin / dx|| (central
    differences), for inputs that are not 2-D: (K, N)."""
    X = np.asarray(X, dtype=np.float64)
    m0 = output_margin(engine.forward(spec, params, X).logits)
    g2 = np.zeros_like(m0)
    for j in range(X.shape[1]):
        e = np.zeros(X.shape[1])
        e[j] = eps
        up = output_margin(engine.forward(spec, params, X + e).logits)
        dn = output_margin(engine.forward(spec, params, X - e).logits)
        g2 += ((up - dn) / (2 * eps)) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.abs(m0) / np.sqrt(g2)


def context_correlations(engine, spec: MLPSpec, params: Params, X: np.ndarray,
                         dist: np.ndarray) -> dict[str, np.ndarray]:
    """Spearman correlation between each point's distance to the boundary (``dist``, (N,)
    or (K, N)) and the norm of its hidden representation per layer (``rho_norm``, (K, L)),
    and with the |logit| (``rho_logit``, (K,); the top-2 margin with several classes)."""
    out = engine.forward(spec, params, X, record=True)
    norms = [np.linalg.norm(as_numpy(a), axis=-1) for a in out.a]
    rho_norm = np.stack([np.atleast_1d(spearman(dist, n)) for n in norms], axis=1)
    rho_logit = np.atleast_1d(spearman(dist, np.abs(output_margin(out.logits))))
    return {"rho_norm": rho_norm, "rho_logit": rho_logit}


def regions_defined(spec: MLPSpec) -> bool:
    """Linear regions are defined when every hidden activation is piecewise linear (or linear)."""
    return all(act.family in REGION_FAMILIES for act in spec.activations)


def activation_regions(engine, spec: MLPSpec, params: Params, xx: np.ndarray,
                       yy: np.ndarray) -> np.ndarray:
    """Region id of every grid node per member, (K, ny, nx): nodes share an id when every
    unit is on the same linear piece (same slope; same value on a flat piece).

    Distinct patterns are counted, as Hanin & Rolnick do: a region smaller than the grid
    step is missed, and a pattern seen in two places counts once.
    """
    if not regions_defined(spec):
        raise ValueError("linear regions need piecewise-linear or linear activations; "
                         f"this network has {', '.join(spec.activation)}")
    grid = np.c_[xx.ravel(), yy.ravel()]
    K = params[0].W.shape[0]
    ids = np.full((K, grid.shape[0]), -1, dtype=np.int64)
    for sl in _chunks(params, len(grid)):
        out = engine.forward(spec, member_slice(params, sl), grid, record=True)
        parts = []
        for z, a, act in zip(out.z, out.a, spec.activations):
            g = np.asarray(act.grad(as_numpy(z)), dtype=np.float64)
            # a unit's piece: its slope, or on a flat piece its value (coded below any slope)
            parts.append(np.where(g != 0, g, FLAT - as_numpy(a)) + 0.0)  # + 0.0 turns -0.0 into 0.0
        keys = np.concatenate(parts, axis=-1)
        hashes = _row_hash(keys)
        for j, k in enumerate(range(K)[sl]):
            if np.isfinite(keys[j]).all():
                ids[k] = np.unique(hashes[j], return_inverse=True)[1].ravel()
    return ids.reshape(K, *xx.shape)


def _row_hash(keys: np.ndarray) -> np.ndarray:
    """A 64-bit hash of every row (last axis) of a float array, from the exact bits:
    equal rows hash equal; distinct rows collide with probability ~ 2**-64 per pair."""
    bits = np.ascontiguousarray(keys, dtype=np.float64).view(np.uint64)
    mult = np.random.default_rng(0x5EED).integers(1, 2**63, size=bits.shape[-1], dtype=np.uint64) * 2 + 1
    with np.errstate(over="ignore"):
        mixed = bits >> np.uint64(29)
        mixed ^= bits
        mixed *= mult
        return mixed.sum(axis=-1, dtype=np.uint64)


def linear_regions(engine, spec: MLPSpec, params: Params, xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    """Number of distinct activation patterns on the grid per member: (K,) (NaN if diverged)."""
    ids = activation_regions(engine, spec, params, xx, yy)
    flat = ids.reshape(ids.shape[0], -1)
    return np.array([np.nan if (r < 0).any() else float(r.max() + 1) for r in flat])


def unit_heatmaps(engine, spec: MLPSpec, params: Params, xx: np.ndarray, yy: np.ndarray) -> list[np.ndarray]:
    """Every hidden unit's output over the grid, per layer: (K, width, ny, nx)."""
    grid = np.c_[xx.ravel(), yy.ravel()]
    out = engine.forward(spec, params, grid, record=True)
    return [np.moveaxis(as_numpy(a), -1, 1).reshape(as_numpy(a).shape[0], -1, *xx.shape) for a in out.a]
