"""Decision boundaries on a 2-D grid, and the distance of points to them.

A boundary is read off a dense grid of scores: where the sign of a binary score (or the
argmax of class scores) changes between neighbouring grid nodes, a boundary point is
placed by linear interpolation (the midpoint for class labels); the distance of a point
to the boundary is its distance to the nearest such point (a KD-tree). The error is a
small fraction of the grid step.

The *true* boundary is known where the data generator is: ``register_true_score(name, fn)``
adds one; ``fn(data_spec, dataset)`` returns a function scoring standardised inputs
(positive on the class-1 side) or None. For moons, circles and spiral it is the Bayes
boundary of the generator: each class is its noiseless curve (the very points the generator
places, ``generators.class_curves``) blurred by Gaussian noise of
the generator's ``noise``, with the generator's class priors; for xor and checkerboard it
is the generator's labelling rule. The generator is run again to learn how the dataset
rescaled its features; if that does not match exactly, no true boundary is given.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from actscope.data.generators import GENERATORS, class_curves, class_sizes

Score = Callable[[np.ndarray], np.ndarray]
_TRUE_SCORES: dict[str, Callable] = {}


def grid_over(X: np.ndarray, side: int = 200, pad: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """A ``side`` x ``side`` grid over the 2-D extent of ``X`` plus ``pad`` on every side."""
    lo, hi = X.min(axis=0) - pad, X.max(axis=0) + pad
    return np.meshgrid(np.linspace(lo[0], hi[0], side), np.linspace(lo[1], hi[1], side))


def _edge_crossings(xx, yy, score, axis: int):
    """Where the boundary crosses the grid edges along ``axis``: (mask, x, y) per edge."""
    s0 = score[:-1] if axis == 0 else score[:, :-1]
    s1 = score[1:] if axis == 0 else score[:, 1:]
    if np.issubdtype(score.dtype, np.integer):
        cut, t = s0 != s1, np.full(s0.shape, 0.5)
    else:
        cut = (s0 >= 0) != (s1 >= 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.where(cut, s0 / np.where(cut, s0 - s1, 1.0), 0.0)
    out = [cut]
    for grid in (xx, yy):
        g0 = grid[:-1] if axis == 0 else grid[:, :-1]
        g1 = grid[1:] if axis == 0 else grid[:, 1:]
        out.append(g0 + t * (g1 - g0))
    return out


def boundary_points(xx: np.ndarray, yy: np.ndarray, score: np.ndarray, density: int = 8) -> np.ndarray:
    """Points (M, 2) along the boundary where ``score`` (ny, nx) changes sign (or, for
    integer labels, value).

    A float score is interpolated linearly along each grid edge (labels: the edge's
    midpoint); within each grid cell the crossings are joined by a segment, sampled at
    ``density`` points, so the distance to the boundary is exact to ~ step / (2 density).
    """
    hm, hx, hy = _edge_crossings(xx, yy, score, axis=1)  # (ny, nx-1): along x
    vm, vx, vy = _edge_crossings(xx, yy, score, axis=0)  # (ny-1, nx): along y
    # the four edges of every cell: bottom, top, left, right
    m = np.stack([hm[:-1], hm[1:], vm[:, :-1], vm[:, 1:]], axis=-1)
    px = np.stack([hx[:-1], hx[1:], vx[:, :-1], vx[:, 1:]], axis=-1)
    py = np.stack([hy[:-1], hy[1:], vy[:, :-1], vy[:, 1:]], axis=-1)
    cells = m.sum(-1) >= 2
    m, px, py = m[cells], px[cells], py[cells]
    order = np.argsort(~m, axis=1, kind="stable")  # crossing edges first
    px, py = np.take_along_axis(px, order, 1), np.take_along_axis(py, order, 1)
    pairs = [(0, 1)] + ([(2, 3)] if m.shape[0] and (m.sum(-1) == 4).any() else [])
    pts = [np.c_[hx[hm], hy[hm]], np.c_[vx[vm], vy[vm]]]
    t = np.linspace(0.0, 1.0, density)[None, :]
    for a, b in pairs:
        sel = m.sum(-1) >= (2 if a == 0 else 4)
        ax, ay, bx, by = px[sel, a, None], py[sel, a, None], px[sel, b, None], py[sel, b, None]
        pts.append(np.c_[(ax + t * (bx - ax)).ravel(), (ay + t * (by - ay)).ravel()])
    return np.concatenate(pts, axis=0)


def distance_to(points: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Distance of every row of ``X`` to the nearest of ``points``; inf if there are none."""
    if len(points) == 0:
        return np.full(len(X), np.inf)
    from scipy.spatial import cKDTree

    d, _ = cKDTree(points).query(X)
    return d


def grid_distance(xx: np.ndarray, yy: np.ndarray, score: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Distance of each row of ``X`` to the boundary of ``score`` over the grid."""
    return distance_to(boundary_points(xx, yy, score), X)


# True boundaries ---------------------------------------------------------------------------

def register_true_score(name: str, fn: Callable) -> None:
    """Make the true boundary of generator ``name`` known: ``fn(data_spec, dataset) -> Score | None``."""
    _TRUE_SCORES[name] = fn


def true_score(data_spec, dataset) -> Score | None:
    """The generator's Bayes score on standardised inputs, or None where it is not known."""
    name = getattr(data_spec, "name", None)
    fn = _TRUE_SCORES.get(name) if isinstance(name, str) else None
    return None if fn is None or data_spec is None else fn(data_spec, dataset)


def _affine_from_raw(raw: np.ndarray, dataset) -> tuple[np.ndarray, np.ndarray] | None:
    """Per-feature scale and shift taking the generator's raw X to the dataset's X.

    Standardisation is a per-feature increasing affine map, so the sorted values of every
    feature over all splits are an affine image of the sorted raw values. None if not.
    """
    X = np.vstack([dataset.split(s)[0] for s in dataset.splits])
    if X.shape != raw.shape:
        return None
    a, b = np.empty(X.shape[1]), np.empty(X.shape[1])
    for j in range(X.shape[1]):
        r, s = np.sort(raw[:, j]), np.sort(X[:, j])
        a[j], b[j] = np.polyfit(r, s, 1)
        if a[j] <= 0 or np.max(np.abs(a[j] * r + b[j] - s)) > 1e-6 * (1 + np.abs(s).max()):
            return None
    return a, b


def _logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    m = x.max(axis=axis, keepdims=True)
    return (m + np.log(np.exp(x - m).sum(axis=axis, keepdims=True))).squeeze(axis)


def arcs_bayes_score(arcs: list[np.ndarray], priors: list[float], noise: float) -> Score:
    """Log-odds of class 1 over class 0 for classes that are arcs (points (T, 2)) blurred
    by isotropic Gaussian noise; with ``noise == 0``, the nearer arc wins."""
    def score(P: np.ndarray) -> np.ndarray:
        out = np.empty(len(P))
        for i in range(0, len(P), 4096):
            Q = P[i:i + 4096]
            ll = []
            for arc, prior in zip(arcs, priors):
                d2 = np.maximum((Q * Q).sum(1)[:, None] - 2 * Q @ arc.T + (arc * arc).sum(1)[None], 0.0)
                if noise > 0:
                    ll.append(_logsumexp(-d2 / (2 * noise**2), axis=1) - np.log(len(arc)) + np.log(prior))
                else:
                    ll.append(-d2.min(axis=1))
            out[i:i + 4096] = ll[1] - ll[0]
        return out

    return score


def _raw_score(raw_fn: Callable) -> Callable:
    """A true-score maker from a score on the generator's raw inputs: the generator is run
    again (same spec, same draws) to find how the dataset rescaled its features."""
    def make(spec, dataset) -> Score | None:
        raw = np.asarray(GENERATORS[spec.name](spec)[0], dtype=np.float64)
        fit = _affine_from_raw(raw, dataset)
        if fit is None:
            return None
        a, b = fit
        score = raw_fn(spec)
        return lambda P: score((np.asarray(P, dtype=np.float64) - b) / a)

    return make


def _curves_score(name: str) -> Callable:
    """The Bayes score of generator ``name``: its classes' own noiseless curves
    (`generators.class_curves`), blurred by its noise, with its class sizes as priors."""
    def raw(spec) -> Score:
        sizes = class_sizes(name, spec)
        priors = [n / sum(sizes) for n in sizes]
        curves = class_curves(name, spec)
        assert curves is not None  # registered only for generators with curves
        return arcs_bayes_score(curves, priors, spec.noise)

    return raw


# moons, circles, spiral: Bayes boundaries of curves blurred by the generator's noise;
# xor and checkerboard: the generator's labelling rule (its noise is symmetric about it)
for _name in ("moons", "circles", "spiral"):
    register_true_score(_name, _raw_score(_curves_score(_name)))
register_true_score("xor", _raw_score(lambda spec: lambda P: P[:, 0] * P[:, 1]))
register_true_score("checkerboard", _raw_score(
    lambda spec: lambda P: -np.sin(np.pi * P[:, 0]) * np.sin(np.pi * P[:, 1])))
