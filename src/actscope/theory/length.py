"""The length map q ↦ σw² E[φ(√q z)²] + σb² and every one of its fixed points.

A fixed point is a root of h(q) = f(q)/q - 1. The search cannot skip one by jumping:

1. h is scanned on a geometric grid of q over [Q_FLOOR, Q_CAP], SCAN_PER_DECADE points
   a decade (h is a smooth function of log q: E[φ²] is an average over a Gaussian of
   width √q), with the starting length q0 added as a node. E[φ(√q z)²] does not depend
   on σw² or σb², so it is computed once per activation and every (σw², σb²) costs one
   multiply-add over the grid.
2. Every sign change of h between neighbouring nodes brackets a root; a node where h is
   zero (within ZERO_TOL) is one.
3. Two roots closer than a grid step leave no sign change but a local extremum of h
   between them. Where a node's |h| is small enough for the parabola through it and its
   neighbours to reach zero (with an 8-fold margin), |h| is minimised there (bounded
   Brent); if h changes sign, the cell splits into two brackets.
4. Each bracket is solved by Chandrupatla's bracketed method
   (``scipy.optimize.elementwise.find_root``), vectorised over all of them.

q = 0 is a fixed point when σb² = 0 and φ(0) = 0; "q = inf" stands for a map that still
grows at Q_CAP (ReLU with σw² > 2). Stability is |f'(q*)| < 1 (`length_map_slope`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.optimize.elementwise import find_root

from actscope.activations import Activation
from actscope.theory.checks import check_variance, resolve_activation
from actscope.theory.quadrature import Q_FLOOR, breakpoints, gaussian_expectation

Q_CAP = 1e12             # a length map still growing here diverges (q* = inf)
SCAN_PER_DECADE = 32     # nodes per decade of q in the scan
ZERO_TOL = 5e-12         # |f(q)/q - 1| below this is a fixed point (quadrature rounding: ~2e-12)


# The length map ---------------------------------------------------------------------------

def _second_moment(act: Activation, q) -> np.ndarray:
    """E[φ(√q z)²], elementwise over ``q``."""
    return gaussian_expectation(lambda u: act.fn(u) ** 2, q, breakpoints(act))


def length_map(activation, q, sigma_w2, sigma_b2) -> np.ndarray:
    """q^l from q^{l-1}: σw² E[φ(√q z)²] + σb² (elementwise, broadcast over the three)."""
    act = resolve_activation(activation)
    return np.asarray(sigma_w2) * _second_moment(act, q) + np.asarray(sigma_b2)


def _limit_at_zero(mean, q) -> np.ndarray:
    """``mean(q)`` (a Gaussian expectation over variances ``q``), with its q -> 0+ limit
    where q <= Q_FLOOR: extrapolated from Q_FLOOR and 4 Q_FLOOR, as the error of a kinked φ
    (ReLU, ELU) there falls like √q (so 1e-6 at Q_FLOOR, 1e-12 extrapolated)."""
    q = np.asarray(q, dtype=np.float64)
    out = mean(np.maximum(q, Q_FLOOR))
    low = q <= Q_FLOOR
    if np.any(low):
        at0 = 2.0 * mean(np.array([Q_FLOOR]))[0] - mean(np.array([4.0 * Q_FLOOR]))[0]
        out = np.where(low, at0, out)
    return out


def length_map_slope(activation, q, sigma_w2) -> np.ndarray:
    """∂q^l/∂q^{l-1} = σw² E[u φ(u) φ'(u)] / q, u = √q z (by Stein's lemma this is
    χ₁ + σw² E[φ φ''], Schoenholz et al.'s form, without needing φ''); at q = 0 its limit."""
    act = resolve_activation(activation)

    def mean(v):
        return gaussian_expectation(lambda u: u * act.fn(u) * act.grad(u), v, breakpoints(act)) / v

    return np.asarray(sigma_w2) * _limit_at_zero(mean, q)


def gradient_gain(activation, q, sigma_w2) -> np.ndarray:
    """χ₁ = σw² E[φ'(√q z)²] at the length ``q``, with its limits at 0 and at inf (where
    E[φ'²] approaches its limit like 1/√q: softplus, sigmoid; extrapolated from Q_CAP and
    4 Q_CAP, so that the critical σw² of softplus is 2 to 1e-12, not 2 + 2e-6)."""
    act = resolve_activation(activation)
    q = np.asarray(q, dtype=np.float64)

    def mean(v):
        return gaussian_expectation(lambda u: act.grad(u) ** 2, v, breakpoints(act))

    out = _limit_at_zero(mean, np.where(np.isinf(q), Q_CAP, q))
    if np.any(np.isinf(q)):
        at_inf = 2.0 * mean(np.array([4.0 * Q_CAP]))[0] - mean(np.array([Q_CAP]))[0]
        out = np.where(np.isinf(q), at_inf, out)
    return np.asarray(sigma_w2) * out


# The scan ---------------------------------------------------------------------------------

_TABLES: dict[tuple, tuple[Activation, np.ndarray, np.ndarray]] = {}


def _table(act: Activation) -> tuple[np.ndarray, np.ndarray]:
    """The scan grid of q and E[φ(√q z)²] on it, remembered per activation object."""
    key = (act.name, id(act))
    hit = _TABLES.get(key)
    if hit is None or hit[0] is not act:
        decades = math.log10(Q_CAP / Q_FLOOR)
        q = np.geomspace(Q_FLOOR, Q_CAP, int(round(decades * SCAN_PER_DECADE)) + 1)
        hit = (act, q, _second_moment(act, q))
        if len(_TABLES) > 256:  # inline formulas come and go
            _TABLES.clear()
        _TABLES[key] = hit
    return hit[1], hit[2]


def _h(q, sw2, sb2, act: Activation) -> np.ndarray:
    """f(q)/q - 1, elementwise (zero at a fixed point; scale-free across decades of q)."""
    q = np.asarray(q, dtype=np.float64)
    return (sw2 * _second_moment(act, q) + sb2) / q - 1.0


@dataclass
class _Scan:
    """h on the grid (with q0 inserted at column i0), per (σw², σb²) row."""

    act: Activation
    sw2: np.ndarray    # (N,)
    sb2: np.ndarray    # (N,)
    q: np.ndarray      # (M,)
    h: np.ndarray      # (N, M), zero where |h| <= ZERO_TOL
    i0: int

    def candidates(self) -> np.ndarray:
        """(N, M) mask of interior nodes where h has a local extremum without a sign change
        that the parabola through the node and its neighbours could carry across zero
        (its minimum is at least b - (a + c - 2b)/8; an 8-fold margin)."""
        a, b, c = self.h[:, :-2], self.h[:, 1:-1], self.h[:, 2:]
        sgn = np.sign(b)
        with np.errstate(invalid="ignore"):
            ok = ((sgn != 0) & (np.sign(a) == sgn) & (np.sign(c) == sgn) & np.isfinite(a + c)
                  & (sgn * b < sgn * a) & (sgn * b < sgn * c) & (sgn * b <= sgn * (a + c - 2 * b)))
        return np.pad(ok, ((0, 0), (1, 1)))

    def split(self, row: int, k: int | np.integer) -> float | None:
        """Where |h| is least between nodes k - 1 and k + 1 of ``row`` (bounded Brent in
        log q), if h changes sign there: two roots closer than a grid step; else None."""
        sgn = math.copysign(1.0, self.h[row, k])
        w, b = self.sw2[row], self.sb2[row]
        res = minimize_scalar(lambda t: sgn * float(_h(math.exp(t), w, b, self.act)),
                              bounds=(math.log(self.q[k - 1]), math.log(self.q[k + 1])),
                              method="bounded", options={"xatol": 1e-10})
        return math.exp(float(res.x)) if res.fun <= 0 else None


def _scan(act: Activation, sw2: np.ndarray, sb2: np.ndarray, q0: float) -> _Scan:
    q, v = _table(act)
    i0 = int(np.searchsorted(q, q0))
    if i0 >= q.size or q[i0] != q0:
        q = np.insert(q, i0, q0)
        v = np.insert(v, i0, float(_second_moment(act, q0)))
    h = (sw2[:, None] * v[None, :] + sb2[:, None]) / q[None, :] - 1.0
    h = np.where(np.isnan(h), np.inf, h)
    h[np.abs(h) <= ZERO_TOL] = 0.0
    return _Scan(act, sw2, sb2, q, h, i0)


def _solve(act: Activation, lo: np.ndarray, hi: np.ndarray, sw2: np.ndarray,
           sb2: np.ndarray) -> np.ndarray:
    """Roots of h in the brackets [lo, hi] (h(lo), h(hi) of opposite signs), vectorised."""
    if not lo.size:
        return np.empty(0)
    res = find_root(lambda x, w, b: _h(x, w, b, act), (lo, hi), args=(sw2, sb2),
                    tolerances={"xrtol": 1e-14, "xatol": 1e-300})
    x = np.asarray(res.x, dtype=np.float64)
    bad = ~np.asarray(res.success) | ~np.isfinite(x)
    if bad.any():  # a bracket end that is itself a root (h = 0 there): that end
        at_lo = np.abs(_h(lo[bad], sw2[bad], sb2[bad], act)) <= np.abs(_h(hi[bad], sw2[bad], sb2[bad], act))
        x[bad] = np.where(at_lo, lo[bad], hi[bad])
    return x


def _vectors(sigma_w2, sigma_b2) -> tuple[np.ndarray, np.ndarray, tuple]:
    sw2, sb2 = np.broadcast_arrays(np.asarray(sigma_w2, float), np.asarray(sigma_b2, float))
    return sw2.ravel(), sb2.ravel(), sw2.shape


# The fixed point reached from q0 ----------------------------------------------------------

def _first_up(s: _Scan, rows: np.ndarray, cand: np.ndarray, out: np.ndarray):
    """Rows where the map grows at q0: brackets of the first root above q0 (inf where the
    map grows up to Q_CAP with no root, not even two inside one grid cell)."""
    M = s.q.size
    tail = s.h[rows, s.i0 + 1:] <= 0
    has = tail.any(axis=1)
    j = np.where(has, s.i0 + 1 + (tail.argmax(axis=1) if tail.shape[1] else 0), M)
    lo, hi = s.q[np.minimum(j, M) - 1], s.q[np.minimum(j, M - 1)].copy()
    for n, r in enumerate(rows):  # two roots inside one cell before the first sign change
        for k in np.flatnonzero(cand[r, s.i0 + 1:j[n]]) + s.i0 + 1:
            m = s.split(r, k)
            if m is not None:
                lo[n], hi[n], j[n] = s.q[k - 1], m, -1
                break
    out[rows[j == M]] = np.inf
    keep = j < M
    rows, j, lo, hi = rows[keep], j[keep], lo[keep], hi[keep]
    zero = (j >= 0) & (s.h[rows, np.maximum(j, 0)] == 0)
    out[rows[zero]] = s.q[j[zero]]
    return rows[~zero], lo[~zero], hi[~zero]


def _first_down(s: _Scan, rows: np.ndarray, cand: np.ndarray, out: np.ndarray):
    """Rows where the map shrinks at q0: brackets of the first root below q0 (0 where the
    map shrinks down to Q_FLOOR with no root, not even two inside one grid cell)."""
    head = s.h[rows, :s.i0] >= 0
    has = head.any(axis=1)
    j = np.where(has, s.i0 - 1 - (head[:, ::-1].argmax(axis=1) if s.i0 else 0), -1)
    lo, hi = s.q[np.maximum(j, 0)].copy(), s.q[j + 1]
    found = np.array(has, dtype=bool)
    for n, r in enumerate(rows):
        for k in (np.flatnonzero(cand[r, j[n] + 1:s.i0]) + j[n] + 1)[::-1]:
            m = s.split(r, k)
            if m is not None:
                lo[n], hi[n], j[n], found[n] = m, s.q[k + 1], -1, True
                break
    out[rows[~found]] = 0.0
    rows, j, lo, hi = rows[found], j[found], lo[found], hi[found]
    zero = (j >= 0) & (s.h[rows, np.maximum(j, 0)] == 0)
    out[rows[zero]] = s.q[j[zero]]
    return rows[~zero], lo[~zero], hi[~zero]


def fixed_point_q(activation, sigma_w2, sigma_b2, q0: float = 0.0) -> np.ndarray:
    """The fixed point q* the length map reaches from ``q0``, vectorised over σw², σb².

    The first root of f(q) = q in the direction the map moves q0, found by the scan of
    this module, so none is skipped. For an increasing map (every built-in activation but
    gaussian, whose single root this finds) it is where iterating the map from q0 goes.

    Parameters
    ----------
    activation : str or Activation
    sigma_w2, sigma_b2 : float or array_like
        Broadcast against each other.
    q0 : float
        The starting length. 0 (the default) gives the lowest stable fixed point: the one
        continued from the ordered phase at small σw², where the critical line is defined
        (`actscope.theory.critical`).

    Returns
    -------
    numpy.ndarray
        q* in the broadcast shape: 0 where the map contracts below Q_FLOOR (σb² = 0 with
        φ(0) = 0 in the ordered phase), inf where it still grows at Q_CAP (ReLU with
        σw² > 2), q0 where q0 is already fixed.
    """
    act = resolve_activation(activation)
    sw2, sb2, shape = _vectors(sigma_w2, sigma_b2)
    s = _scan(act, sw2, sb2, max(float(q0), Q_FLOOR))
    h0 = s.h[:, s.i0]
    out = np.where(h0 == 0, float(q0), np.nan)
    cand = s.candidates()
    r1, lo1, hi1 = _first_up(s, np.flatnonzero(h0 > 0), cand, out)
    r2, lo2, hi2 = _first_down(s, np.flatnonzero(h0 < 0), cand, out)
    rows = np.concatenate([r1, r2])
    out[rows] = _solve(act, np.concatenate([lo1, lo2]), np.concatenate([hi1, hi2]),
                       sw2[rows], sb2[rows])
    return out.reshape(shape)


# Every fixed point --------------------------------------------------------------------------

@dataclass(frozen=True)
class LengthRoot:
    """One fixed point of the length map: q*, the map's slope there, χ₁ there and its kind.

    kind: "stable" (|slope| < 1), "unstable" (|slope| > 1), "neutral" (|slope| = 1 to 1e-9:
    every q in [q, upper] is fixed when ``upper`` is set) or "diverges" (q = inf: the map
    still grows at Q_CAP, so lengths beyond the last finite root grow without bound).
    """

    q: float
    slope: float
    chi1: float
    kind: str
    upper: float | None = None

    @property
    def stable(self) -> bool:
        """Whether nearby lengths return to it (a diverging map attracts to q = inf)."""
        return self.kind in ("stable", "diverges")

    def describe(self) -> str:
        lo = "0" if self.q <= Q_FLOOR else f"{self.q:.6g}"
        hi = "inf" if self.upper is None or self.upper >= Q_CAP else f"{self.upper:.6g}"
        where = (f"every q in [{lo}, {hi}]" if self.upper is not None
                 else "q -> inf" if math.isinf(self.q) else f"q = {self.q:.6g}")
        slope = "" if math.isinf(self.q) else f", slope {self.slope:.4g}"
        return f"{where}: {self.kind}{slope}, chi1 = {self.chi1:.6g}"


def _kind(slope: float) -> str:
    if abs(abs(slope) - 1.0) <= 1e-9:
        return "neutral"
    return "stable" if abs(slope) < 1.0 else "unstable"


def _scan_roots(s: _Scan) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """Roots of one row: those at nodes, brackets of those between nodes, runs of zero
    nodes (a continuum of fixed points) as (first, last)."""
    h, q = s.h[0], s.q
    zero = np.flatnonzero(h == 0)
    runs = np.split(zero, np.flatnonzero(np.diff(zero) > 1) + 1) if zero.size else []
    at_nodes = [(float(q[r[0]]), float(q[r[-1]])) for r in runs]
    cross = np.flatnonzero(h[:-1] * h[1:] < 0)
    brackets = [(float(q[k]), float(q[k + 1])) for k in cross]
    for k in np.flatnonzero(s.candidates()[0]):
        m = s.split(0, k)
        if m is not None:
            brackets += [(float(q[k - 1]), m), (m, float(q[k + 1]))]
    return brackets, at_nodes


def length_fixed_points(activation, sigma_w2: float, sigma_b2: float) -> tuple[LengthRoot, ...]:
    """Every fixed point of the length map at (σw², σb²), by the scan of this module.

    Parameters
    ----------
    activation : str or Activation
        A registered name, a parameterised name or an inline formula.
    sigma_w2, sigma_b2 : float
        The weight and bias variances (weights ~ N(0, σw²/fan_in), biases ~ N(0, σb²)).

    Returns
    -------
    tuple of LengthRoot
        In increasing q, each with the map's slope there, χ₁ and its kind; q = 0 where
        σb² = 0 and φ(0) = 0, and a last ``q = inf`` ("diverges") where the map still grows
        at Q_CAP.
    """
    act = resolve_activation(activation)
    sw2 = check_variance("sigma_w2", sigma_w2, positive=True)
    sb2 = check_variance("sigma_b2", sigma_b2)
    s = _scan(act, np.array([sw2]), np.array([sb2]), 1.0)
    brackets, at_nodes = _scan_roots(s)
    lo = np.array([b[0] for b in brackets])
    hi = np.array([b[1] for b in brackets])
    found = _solve(act, lo, hi, np.full(lo.size, sw2), np.full(lo.size, sb2))
    pts = [(float(x), None) for x in found] + [(a, b if b > a else None) for a, b in at_nodes]
    if sb2 == 0 and float(np.asarray(act.fn(np.zeros(1)))[0]) == 0 and s.h[0, 0] != 0:
        pts.append((0.0, None))
    roots = []
    for qs, upper in sorted(pts):
        slope = float(length_map_slope(act, qs, sw2))
        kind = "neutral" if upper is not None else _kind(slope)
        roots.append(LengthRoot(qs, slope, float(gradient_gain(act, qs, sw2)), kind, upper))
    if s.h[0, -1] > 0:
        roots.append(LengthRoot(math.inf, math.inf, float(gradient_gain(act, math.inf, sw2)), "diverges"))
    return tuple(roots)
