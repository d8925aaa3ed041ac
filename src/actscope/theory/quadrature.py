"""Gaussian expectations E[f(m + s z)], z ~ N(0, 1), for any activation.

Gauss–Legendre on panels in z whose edges include the activation's breakpoints (kinks
of φ, jumps of φ'), found numerically from fn and grad. Plain Gauss–Hermite
(`hermite_expectation`) converges slowly for those: 4% error in χ₁ of hard_tanh with 200
nodes, 5% for sigmoid at q = 100.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy.special import roots_hermitenorm

from actscope.activations import Activation
from actscope.theory.checks import resolve_activation

Z_MAX = 10.0             # quadrature over z in [-10, 10] (the mass beyond is ~1e-23)
N_COARSE = 40            # panels of width 0.5 over [-Z_MAX, Z_MAX] ...
U_FINE, N_FINE = 10.0, 40  # ... plus 40 panels over u = √q z in [-10, 10], where φ bends
GL_ORDER = 5             # Gauss–Legendre nodes per panel
SCAN_U, SCAN_STEP = 30.0, 2e-3   # where breakpoints of φ and φ' are looked for
Q_FLOOR = 1e-12          # expectations at q = 0 are taken as the limit q -> 0+


def _call(f, u: np.ndarray) -> np.ndarray:
    """``f(u)`` as float64, overflow and invalid values allowed (they are dealt with later)."""
    with np.errstate(all="ignore"):
        return np.asarray(f(u), dtype=np.float64)


_BREAKS: dict[tuple, tuple[Activation, np.ndarray]] = {}


def _jumps(h, u: np.ndarray) -> np.ndarray:
    """Where h jumps on the scan grid, located to ~1e-12 by bisection."""
    v = _call(h, u)
    d = np.abs(np.diff(v))
    d = np.where(np.isfinite(d), d, 0.0)
    pad = np.pad(d, 3, mode="edge")
    local = np.max(np.stack([pad[:-6], pad[1:-5], pad[5:-1], pad[6:]]), axis=0)
    idx = np.where(d > 20.0 * local + 1e-7)[0]
    if idx.size > 32:
        idx = np.sort(idx[np.argsort(d[idx])[-32:]])
    a, b = u[idx], u[idx + 1]
    va, vb = v[idx], v[idx + 1]
    for _ in range(45):
        m = 0.5 * (a + b)
        vm = _call(h, m)
        left = np.abs(vm - va) <= np.abs(vm - vb)
        a, b = np.where(left, m, a), np.where(left, b, m)
    return 0.5 * (a + b)


def breakpoints(activation) -> np.ndarray:
    """Points u where φ or φ' jumps (kinks of φ), |u| < 30, found from fn and grad."""
    act = resolve_activation(activation)
    key = (act.name, id(act))
    hit = _BREAKS.get(key)
    if hit is None or hit[0] is not act:
        u = np.arange(-SCAN_U, SCAN_U + SCAN_STEP / 2, SCAN_STEP)
        pts = np.sort(np.concatenate([_jumps(act.fn, u), _jumps(act.grad, u)]))
        keep = np.concatenate([[True], np.diff(pts) > 1e-9]) if pts.size else pts.astype(bool)
        hit = (act, pts[keep])
        if len(_BREAKS) > 256:  # activations built on the fly (inline formulas) come and go
            _BREAKS.clear()
        _BREAKS[key] = hit
    return hit[1]


@lru_cache(maxsize=1)
def _legendre() -> tuple[np.ndarray, np.ndarray]:
    return np.polynomial.legendre.leggauss(GL_ORDER)


def _rule(m: np.ndarray, s: np.ndarray, breaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nodes z and weights w, shape (P, K), with E[g(m + s z)] ≈ Σ w g(m + s z);
    ``m``, ``s`` (P,), ``breaks`` (P, nb) in u."""
    t, wt = _legendre()
    P = m.shape[0]
    with np.errstate(all="ignore"):
        inv = 1.0 / np.maximum(s, 1e-300)
        fine = (np.linspace(-U_FINE, U_FINE, N_FINE + 1)[None] - m[:, None]) * inv[:, None]
        br = (breaks - m[:, None]) * inv[:, None]
    coarse = np.broadcast_to(np.linspace(-Z_MAX, Z_MAX, N_COARSE + 1), (P, N_COARSE + 1))
    edges = np.sort(np.clip(np.concatenate([coarse, fine, br], axis=1), -Z_MAX, Z_MAX), axis=1)
    half = 0.5 * np.diff(edges, axis=1)[..., None]
    z = 0.5 * (edges[:, 1:] + edges[:, :-1])[..., None] + half * t
    w = half * wt * np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return z.reshape(P, -1), w.reshape(P, -1)


def gaussian_expectation(f, q, breaks=()) -> np.ndarray:
    """E[f(√q z)] for z ~ N(0, 1), elementwise over an array of variances ``q``;
    ``breaks``: points u where f is not smooth (see `breakpoints`)."""
    q = np.maximum(np.asarray(q, dtype=np.float64), Q_FLOOR)
    flat = q.ravel()
    br = np.broadcast_to(np.asarray(breaks, dtype=np.float64), (flat.size, len(breaks)))
    s = np.sqrt(flat)
    z, w = _rule(np.zeros_like(s), s, br)
    return np.sum(_call(f, s[:, None] * z) * w, axis=1).reshape(q.shape)


def hermite_expectation(f, q, n: int = 200) -> np.ndarray:
    """E[f(√q z)] by plain Gauss–Hermite with ``n`` nodes (for checks: exact for
    polynomials, fast for smooth f at moderate q)."""
    x, w = roots_hermitenorm(n)
    q = np.maximum(np.asarray(q, dtype=np.float64), Q_FLOOR)
    return _call(f, np.sqrt(q)[..., None] * x) @ (w / w.sum())


def bivariate_expectation(f, g, q1, q2, c, breaks=()) -> np.ndarray:
    """E[f(u1) g(u2)], (u1, u2) Gaussian with variances q1, q2 and correlation c
    (broadcast over arrays), as an iterated integral: over z1, of f(u1) times the
    expectation of g over z2 given z1."""
    q1, q2, c = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (q1, q2, c)))
    shape = q1.shape
    br = np.asarray(breaks, dtype=np.float64)
    out = np.empty(q1.size)
    for i, (a, b, r) in enumerate(zip(q1.ravel(), q2.ravel(), c.ravel())):
        s1, s2 = math.sqrt(max(a, Q_FLOOR)), math.sqrt(max(b, Q_FLOOR))
        r = min(max(r, -1.0), 1.0)
        # g(u2) is not smooth in z1 where c s2 z1 is a breakpoint (when 1 - c² is small)
        outer = np.concatenate([br, br * s1 / (r * s2)]) if r != 0 else br
        z1, w1 = _rule(np.zeros(1), np.array([s1]), outer[None])
        m = s2 * r * z1[0]
        sd = np.full(m.shape, s2 * math.sqrt(max(1.0 - r * r, 0.0)))
        z2, w2 = _rule(m, sd, np.broadcast_to(br, (m.size, br.size)))
        inner = np.sum(_call(g, m[:, None] + sd[:, None] * z2) * w2, axis=1)
        out[i] = np.sum(_call(f, s1 * z1[0]) * inner * w1[0])
    return out.reshape(shape)
