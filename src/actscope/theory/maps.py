"""The state at one (σw², σb²): χ₁, the correlation map and c*, χ_c and the depth scales,
at the length map's fixed point q* (`length`: every fixed point, and the one reached).

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
from actscope.theory.length import (
    Q_CAP,
    LengthRoot,
    fixed_point_q,
    gradient_gain,
    length_fixed_points,
    length_map_slope,
)
from actscope.theory.quadrature import bivariate_expectation, breakpoints

CRITICAL_TOL = 1e-3      # |χ₁ - 1| below this is called critical


# χ₁ at the fixed point ---------------------------------------------------------------------

def chi1(activation, sigma_w2, sigma_b2, q0: float = 0.0) -> np.ndarray:
    """χ₁ = σw² E[φ'(√q* z)²] at the fixed point q* reached from ``q0`` (`fixed_point_q`;
    by default the lowest stable one), vectorised; for a diverging map, its q -> inf limit."""
    act = resolve_activation(activation)
    return gradient_gain(act, fixed_point_q(act, sigma_w2, sigma_b2, q0), sigma_w2)


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
    """The mean-field state of an activation at (σw², σb²): the maps at the fixed point q*
    reached from q0 (by default the lowest stable one, where the critical line is defined),
    and every fixed point of the length map in ``roots``."""

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
    q0: float = 0.0
    roots: tuple[LengthRoot, ...] = ()

    @property
    def bounded(self) -> bool:
        return math.isfinite(self.q_star)

    @property
    def stable_roots(self) -> tuple[LengthRoot, ...]:
        """The attracting fixed points (q = inf included where the map diverges)."""
        return tuple(r for r in self.roots if r.stable)

    def reached(self) -> str:
        """Which fixed point q* is: the convention it was found by."""
        if self.q0 == 0:
            return "the lowest stable fixed point, reached from q0 -> 0"
        return f"the fixed point reached from q0 = {self.q0:g}"

    def lines(self) -> list[str]:
        note = "" if self.bounded else "  (the length map diverges)"
        out = [
            f"activation {self.activation}  σw² = {self.sigma_w2:g}  σb² = {self.sigma_b2:g}",
            f"q*   = {self.q_star:.6g}{note}  ({self.reached()})",
            f"c*   = {self.c_star:.6g}",
            f"chi1 = {self.chi1:.6g}  ({self.phase}, at q*)",
            f"chi_c = {self.chi_c:.6g}",
            f"xi_q = {self.xi_q:.6g}",
            f"xi_c = {self.xi_c:.6g}",
        ]
        if self.roots:
            n_stable = len(self.stable_roots)
            count = "1 fixed point" if len(self.roots) == 1 else f"{len(self.roots)} fixed points"
            head = f"the length map has {count} ({n_stable} stable: |slope of the map| < 1):"
            out += [head, *(f"  {r.describe()}" for r in self.roots)]
            if n_stable > 1:
                out.append("note: several stable fixed points: which one a network reaches "
                           "depends on its input length (--q0); the phase and the critical line "
                           "are those of the lowest")
        return out


def fixed_point(activation, sigma_w2: float, sigma_b2: float, q0: float = 0.0) -> FixedPoint:
    """q*, c*, χ₁, χ_c, ξ_q, ξ_c and the phase at (σw², σb²) at the fixed point reached
    from ``q0`` (by default the lowest stable one), and every fixed point of the length
    map (`length_fixed_points`)."""
    act = resolve_activation(activation)
    sw2 = check_variance("sigma_w2", sigma_w2, positive=True)
    sb2 = check_variance("sigma_b2", sigma_b2)
    q0 = check_variance("q0", q0)
    q = float(fixed_point_q(act, sw2, sb2, q0))
    q_eval = Q_CAP if math.isinf(q) else q
    chi = float(gradient_gain(act, q, sw2))
    c = fixed_point_c(act, q_eval, sw2, sb2, chi) if math.isfinite(q) else (1.0 if chi <= 1 else math.nan)
    cc = chi if c == 1.0 or math.isnan(c) else chi_c(act, c, q_eval, sw2)
    slope_q = float(length_map_slope(act, q_eval, sw2)) if math.isfinite(q) else math.inf
    return FixedPoint(act.name, sw2, sb2, q, c, chi, cc, _depth_scale(abs(slope_q)),
                      _depth_scale(cc), classify(chi), q0, length_fixed_points(act, sw2, sb2))
