"""The length and correlation maps, their fixed points, χ₁, χ_c and the depth scales.

- length map      q^l = σw² E_z[φ(√q^{l-1} z)²] + σb²              (fixed point q*)
- correlation map c^l = (σw² E[φ(u1) φ(u2)] + σb²) / q^l            (fixed point c*)
- χ₁ = σw² E[φ'(√q* z)²]: the gradient gain per layer; < 1 ordered, > 1 chaotic
- depth scales ξ_q = -1/ln(∂q^l/∂q^{l-1} at q*), ξ_c = -1/ln(σw² E[φ'(u1*) φ'(u2*)])
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from actscope.theory.checks import check_variance, resolve_activation
from actscope.theory.quadrature import Q_FLOOR, bivariate_expectation, breakpoints, gaussian_expectation

Q_CAP = 1e12             # a length map still growing here diverges (q* = inf)
CRITICAL_TOL = 1e-3      # |χ₁ - 1| below this is called critical


# The length map ---------------------------------------------------------------------------

def length_map(activation, q, sigma_w2: float, sigma_b2: float) -> np.ndarray:
    """q^l from q^{l-1}: σw² E[φ(√q z)²] + σb² (elementwise over ``q``)."""
    act = resolve_activation(activation)
    return sigma_w2 * gaussian_expectation(lambda u: act.fn(u) ** 2, q, breakpoints(act)) + sigma_b2


def length_map_slope(activation, q, sigma_w2: float) -> np.ndarray:
    """∂q^l/∂q^{l-1} = σw² E[u φ(u) φ'(u)] / q, u = √q z (by Stein's lemma this is
    χ₁ + σw² E[φ φ''], Schoenholz et al.'s form, without needing φ'')."""
    act = resolve_activation(activation)
    q = np.maximum(np.asarray(q, dtype=np.float64), Q_FLOOR)
    return sigma_w2 * gaussian_expectation(lambda u: u * act.fn(u) * act.grad(u), q, breakpoints(act)) / q


def _bracket(G, q: np.ndarray, g0: np.ndarray, tol: np.ndarray,
             out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Brackets [lo, hi] of the fixed point with G(lo) > 0 > G(hi), grown upwards (g > 0:
    q^l increases) or downwards (g < 0) from ``q``; ``out`` gets inf or 0 where the map
    grows past Q_CAP or shrinks below Q_FLOOR."""
    lo, hi = q.copy(), q.copy()
    up = np.where(g0 > tol)[0]
    while up.size:
        lo[up], hi[up] = hi[up], hi[up] * 4.0
        g = G(hi[up], up)
        done = g <= 0
        over = ~done & (hi[up] > Q_CAP)
        out[up[over]] = np.inf
        up = up[~done & ~over]
    down = np.where(g0 < -tol)[0]
    while down.size:
        hi[down], lo[down] = lo[down], lo[down] / 4.0
        g = G(lo[down], down)
        done = g >= 0
        under = ~done & (lo[down] < Q_FLOOR)
        out[down[under]] = 0.0
        down = down[~done & ~under]
    return lo, hi


def _illinois(G, lo: np.ndarray, hi: np.ndarray, out: np.ndarray) -> None:
    """Regula falsi (Illinois) on what is bracketed, G(lo) > 0 > G(hi): fills ``out``
    where it is still nan."""
    todo = np.where(np.isnan(out))[0]
    a, b = lo[todo], hi[todo]
    ga, gb = G(a, todo), G(b, todo)
    side = np.zeros(todo.size)
    for _ in range(200):
        if not todo.size:
            break
        with np.errstate(all="ignore"):
            c = (a * gb - b * ga) / (gb - ga)
        c = np.where(np.isfinite(c) & (c > a) & (c < b), c, np.sqrt(a * b))
        gc = G(c, todo)
        done = (gc == 0) | (np.minimum(c - a, b - c) <= 1e-13 * c)
        out[todo[done]] = c[done]
        pos = gc > 0
        keep = ~done
        # Illinois: halve the value kept at the end that did not move twice running
        gb = np.where(pos & (side == 1), gb / 2, gb)
        ga = np.where(~pos & (side == -1), ga / 2, ga)
        a, ga = np.where(pos, c, a), np.where(pos, gc, ga)
        b, gb = np.where(pos, b, c), np.where(pos, gb, gc)
        side = np.where(pos, 1, -1)
        todo, a, b, ga, gb, side = todo[keep], a[keep], b[keep], ga[keep], gb[keep], side[keep]
    out[todo] = np.sqrt(a * b)


def fixed_point_q(activation, sigma_w2, sigma_b2, q0: float = 1.0) -> np.ndarray:
    """The fixed point q* the length map reaches from ``q0`` (vectorised over σw², σb²).

    0 when the map contracts to 0 (σb² = 0 with φ(0) = 0 in the ordered phase); inf
    when it grows without bound (ReLU with σw² > 2); q0 itself when q0 is already fixed.
    """
    act = resolve_activation(activation)
    sw2, sb2 = np.broadcast_arrays(np.asarray(sigma_w2, float), np.asarray(sigma_b2, float))
    sw2, sb2 = sw2.ravel(), sb2.ravel()

    def G(q, idx):
        if not idx.size:
            return np.empty(0)
        g = length_map(act, q, sw2[idx], sb2[idx]) - q
        return np.where(np.isnan(g), np.inf, g)

    n = sw2.size
    q = np.full(n, float(q0))
    g0 = G(q, np.arange(n))
    tol = 1e-11 * np.maximum(q, 1.0)
    out = np.where(np.abs(g0) <= tol, q, np.nan)
    lo, hi = _bracket(G, q, g0, tol, out)
    _illinois(G, lo, hi, out)
    return out.reshape(np.shape(np.broadcast_arrays(sigma_w2, sigma_b2)[0]))


def chi1(activation, sigma_w2, sigma_b2, q0: float = 1.0) -> np.ndarray:
    """χ₁ = σw² E[φ'(√q* z)²] (vectorised); for a diverging length map, its q -> inf limit."""
    act = resolve_activation(activation)
    q = fixed_point_q(act, sigma_w2, sigma_b2, q0)
    q = np.where(np.isinf(q), Q_CAP, q)
    return np.asarray(sigma_w2, float) * gaussian_expectation(lambda u: act.grad(u) ** 2, q, breakpoints(act))


# The correlation map ----------------------------------------------------------------------

def correlation_map(activation, c, q: float, sigma_w2: float, sigma_b2: float) -> np.ndarray:
    """c^l from c^{l-1} for two inputs of equal length q (elementwise over ``c``).

    The denominator is the next layer's length, so c = 1 stays fixed even off q*.
    """
    act = resolve_activation(activation)
    num = sigma_w2 * bivariate_expectation(act.fn, act.fn, q, q, c, breakpoints(act)) + sigma_b2
    den = sigma_w2 * bivariate_expectation(act.fn, act.fn, q, q, 1.0, breakpoints(act)) + sigma_b2
    return num / den


def chi_c(activation, c: float, q: float, sigma_w2: float) -> float:
    """The slope of the correlation map at c: σw² E[φ'(u1) φ'(u2)] (Schoenholz eq. 9)."""
    act = resolve_activation(activation)
    return float(sigma_w2 * bivariate_expectation(act.grad, act.grad, q, q, c, breakpoints(act)))


def fixed_point_c(activation, q: float, sigma_w2: float, sigma_b2: float, chi: float) -> float:
    """The stable fixed point c* of the correlation map reached from c close to 1.

    1 in the ordered phase (χ₁ <= 1); in the chaotic phase the largest root below 1.
    """
    if chi <= 1.0:
        return 1.0
    act = resolve_activation(activation)

    def H(c):
        return correlation_map(act, c, q, sigma_w2, sigma_b2) - c

    top = next((1.0 - d for d in (1e-2, 1e-3, 1e-4, 1e-5, 1e-6) if H(1.0 - d) < 0), None)
    if top is None:
        return 1.0
    grid = np.linspace(0.0, top, 21)
    h = H(grid)
    below = np.where(h >= 0)[0]
    if not below.size:  # C(0) >= 0 always; only rounding gets here
        return 0.0
    i = below[-1]
    if abs(h[i]) < 1e-12 or i == len(grid) - 1:
        return float(grid[i])
    return float(brentq(lambda c: float(H(c)), grid[i], grid[i + 1], xtol=1e-12))


# Summary at one point of the (σw², σb²) plane ---------------------------------------------

def _depth_scale(slope: float) -> float:
    """-1/ln(slope): the depth over which a deviation shrinks by e (inf when it does not)."""
    if not math.isfinite(slope) or slope >= 1.0:
        return math.inf
    if slope <= 0.0:
        return 0.0
    return -1.0 / math.log(slope)


def classify(chi: float, tol: float = CRITICAL_TOL) -> str:
    """'ordered' (χ₁ < 1), 'chaotic' (χ₁ > 1) or 'critical' (|χ₁ - 1| < tol)."""
    if abs(chi - 1.0) < tol:
        return "critical"
    return "ordered" if chi < 1.0 else "chaotic"


@dataclass(frozen=True)
class FixedPoint:
    """The mean-field state of an activation at (σw², σb²)."""

    activation: str
    sigma_w2: float
    sigma_b2: float
    q_star: float
    c_star: float
    chi1: float
    chi_c: float
    xi_q: float
    xi_c: float
    phase: str

    @property
    def bounded(self) -> bool:
        return math.isfinite(self.q_star)

    def lines(self) -> list[str]:
        note = "" if self.bounded else "  (the length map diverges)"
        return [
            f"activation {self.activation}  σw² = {self.sigma_w2:g}  σb² = {self.sigma_b2:g}",
            f"q*   = {self.q_star:.6g}{note}",
            f"c*   = {self.c_star:.6g}",
            f"chi1 = {self.chi1:.6g}  ({self.phase})",
            f"chi_c = {self.chi_c:.6g}",
            f"xi_q = {self.xi_q:.6g}",
            f"xi_c = {self.xi_c:.6g}",
        ]


def fixed_point(activation, sigma_w2: float, sigma_b2: float, q0: float = 1.0) -> FixedPoint:
    """q*, c*, χ₁, χ_c, ξ_q, ξ_c and the phase at (σw², σb²), starting the maps from ``q0``."""
    act = resolve_activation(activation)
    sw2 = check_variance("sigma_w2", sigma_w2, positive=True)
    sb2 = check_variance("sigma_b2", sigma_b2)
    q0 = check_variance("q0", q0, positive=True)
    q = float(fixed_point_q(act, sw2, sb2, q0))
    q_eval = Q_CAP if math.isinf(q) else q
    chi = float(sw2 * gaussian_expectation(lambda u: act.grad(u) ** 2, q_eval, breakpoints(act)))
    c = fixed_point_c(act, q_eval, sw2, sb2, chi) if math.isfinite(q) else (1.0 if chi <= 1 else math.nan)
    cc = chi if c == 1.0 or math.isnan(c) else chi_c(act, c, q_eval, sw2)
    slope_q = float(length_map_slope(act, q_eval, sw2)) if math.isfinite(q) else math.inf
    return FixedPoint(act.name, sw2, sb2, q, c, chi, cc, _depth_scale(slope_q),
                      _depth_scale(cc), classify(chi))

