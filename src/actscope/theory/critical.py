"""The critical line χ₁ = 1 in the (σw², σb²) plane, and the phase diagram around it.

χ₁ is taken at a stable fixed point of the length map (Hayou et al. 2019 define the edge of
chaos there): the lowest one, continued from the ordered phase at small σw²
(`fixed_point_q` from q0 -> 0). The critical σw² is the first crossing of χ₁ = 1 in σw² ∈
[0.01, 1000]. Where that fixed point vanishes (it meets an unstable one: SiLU, GELU, mish
at small σb²) or the map diverges, χ₁ jumps across 1 there: the transition is
discontinuous and `CriticalPoint.continuous` is False. Where the map has other stable
fixed points at the critical σw² (q -> inf included), `CriticalPoint.others` lists them.
No crossing in the range raises NoCriticalPointError (an InputError: one line, exit
status 2 on the command line).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from actscope.activations import Activation
from actscope.errors import InputError
from actscope.theory.checks import check_variance, resolve_activation
from actscope.theory.length import LengthRoot, fixed_point_q, length_fixed_points
from actscope.theory.maps import CRITICAL_TOL, chi1

SEARCH_SIGMA_W2 = (0.01, 1000.0)   # where the critical line is searched for


class NoCriticalPointError(InputError):
    """χ₁ = 1 is not crossed in the searched σw² range."""


def _search_grid(search: tuple[float, float]) -> np.ndarray:
    lo, hi = (check_variance("search", v, positive=True) for v in search)
    if not lo < hi:
        raise InputError(f"search = {tuple(search)!r}: needs 0 < low < high")
    return np.geomspace(lo, hi, 65)


def _first_crossings(act: Activation, sigma_b2: np.ndarray, grid: np.ndarray, q0: float):
    """Per σb², the index i of the first grid step with χ₁(grid[i]) < 1 <= χ₁(grid[i+1])
    (-1 where none), and χ₁ - 1 over the grid, shape (n_b, n_grid)."""
    f = chi1(act, grid[None, :], sigma_b2[:, None], q0) - 1.0
    cross = (f[:, :-1] < 0) & (f[:, 1:] >= 0)
    return np.where(cross.any(axis=1), cross.argmax(axis=1), -1), f


def _no_critical(act: Activation, sb2: float, f: np.ndarray, grid: np.ndarray):
    where = "below" if np.nanmax(f) < 0 else "above" if np.nanmin(f) > 0 else "away from"
    return NoCriticalPointError(
        f"no critical point: for activation {act.name!r} at σb² = {sb2:g}, χ₁ stays {where} 1 "
        f"for σw² in [{grid[0]:g}, {grid[-1]:g}]"
    )


@dataclass(frozen=True)
class CriticalPoint:
    """Where χ₁, at the lowest stable fixed point q_star, crosses 1 at one σb². Where that
    fixed point vanishes (GELU, SiLU, ...: it meets an unstable one, and lengths then grow
    to another attractor), χ₁ jumps across 1 and ``continuous`` is False. ``others``: the
    other stable fixed points of the length map at this (σw², σb²)."""

    activation: str
    sigma_b2: float
    sigma_w2: float
    chi_below: float   # χ₁ just below sigma_w2 (relative 1e-8)
    chi_above: float   # χ₁ just above
    q_star: float = float("nan")
    others: tuple[LengthRoot, ...] = ()

    @property
    def continuous(self) -> bool:
        return self.chi_above - self.chi_below < CRITICAL_TOL

    def note(self) -> str | None:
        """What a user must know beyond the number: a jump across 1, other stable points."""
        out = []
        if not self.continuous:
            out.append(f"note: χ₁ jumps from {self.chi_below:.4g} to {self.chi_above:.4g} at this "
                       f"σw²: the lowest stable fixed point of the length map vanishes or loses "
                       f"its stability here, and the transition is discontinuous")
        if self.others:
            out.append("note: the length map has other stable fixed points here: "
                       + "; ".join(r.describe() for r in self.others)
                       + " (the critical line is that of the lowest)")
        return "\n".join(out) or None


def critical_point(activation, sigma_b2: float = 0.0,
                   search: tuple[float, float] = SEARCH_SIGMA_W2, q0: float = 0.0) -> CriticalPoint:
    """The σw² at which χ₁ crosses 1 for this σb²: the first crossing from order to chaos
    on a geometric grid over ``search``, refined with Brent's method. χ₁ is taken at the
    fixed point reached from ``q0``: by default the lowest stable one (module docstring).

    Raises NoCriticalPointError when χ₁ does not cross 1 in ``search``.
    """
    act = resolve_activation(activation)
    sb2 = check_variance("sigma_b2", sigma_b2)
    q0 = check_variance("q0", q0)
    grid = _search_grid(search)
    idx, f = _first_crossings(act, np.array([sb2]), grid, q0)
    i = int(idx[0])
    if i < 0:
        raise _no_critical(act, sb2, f, grid)
    root = float(brentq(lambda s: float(chi1(act, s, sb2, q0)) - 1.0, grid[i], grid[i + 1],
                        xtol=1e-12, rtol=1e-12))
    below, above = chi1(act, np.array([root * (1 - 1e-8), root * (1 + 1e-8)]), sb2, q0)
    edge = root * (1 - 1e-8)  # on the ordered side, where the fixed point still exists
    q = float(fixed_point_q(act, edge, sb2, q0))
    others = tuple(r for r in length_fixed_points(act, edge, sb2)
                   if r.stable and not (r.q == q or abs(r.q - q) <= 1e-6 * max(q, 1e-12)))
    return CriticalPoint(act.name, sb2, root, float(below), float(above), q, others)


def critical_sigma_w2(activation, sigma_b2: float = 0.0,
                      search: tuple[float, float] = SEARCH_SIGMA_W2, q0: float = 0.0) -> float:
    """The critical σw² (χ₁ = 1, or where it jumps across 1) for this σb²; see `critical_point`."""
    return critical_point(activation, sigma_b2, search, q0).sigma_w2


def _refine(act: Activation, sb2: np.ndarray, a: np.ndarray, b: np.ndarray, q0: float,
            rtol: float) -> np.ndarray:
    """Bisect χ₁(σw²) = 1 in [a, b] per σb² (vectorised), to relative precision ``rtol``."""
    while a.size and np.max(b / a) > 1 + rtol:
        m = np.sqrt(a * b)
        below = chi1(act, m, sb2, q0) < 1.0
        a, b = np.where(below, m, a), np.where(below, b, m)
    return np.sqrt(a * b)


def critical_line(activation, sigma_b2, search: tuple[float, float] = SEARCH_SIGMA_W2,
                  q0: float = 0.0, rtol: float = 1e-7) -> np.ndarray:
    """σw² on the critical line for each σb² (nan where there is none): the search of
    `critical_sigma_w2`, refined by vectorised bisection to relative precision ``rtol``."""
    act = resolve_activation(activation)
    sb2 = np.atleast_1d(np.asarray(sigma_b2, dtype=np.float64))
    grid = _search_grid(search)
    idx, _ = _first_crossings(act, sb2, grid, q0)
    out = np.full(sb2.shape, np.nan)
    ok = np.where(idx >= 0)[0]
    out[ok] = _refine(act, sb2[ok], grid[idx[ok]], grid[idx[ok] + 1], q0, rtol)
    return out


@dataclass(frozen=True)
class PhaseDiagram:
    """log χ₁ (at the lowest stable fixed point, as the critical line) over a (σw², σb²)
    grid, and the critical line through it."""

    activation: str
    sigma_w2: np.ndarray          # (n_w,)
    sigma_b2: np.ndarray          # (n_b,)
    log_chi1: np.ndarray          # (n_b, n_w), natural log
    critical_b2: np.ndarray       # σb² values of the critical line
    critical_w2: np.ndarray       # its σw² (nan where none)
    critical_continuous: np.ndarray | None = None  # False where χ₁ jumps across 1 there


def phase_diagram(activation, sigma_w2=None, sigma_b2=None, n_w: int = 50, n_b: int = 30,
                  q0: float = 0.0, include=(), rtol: float = 1e-7) -> PhaseDiagram:
    """log χ₁ on a grid, by default σb² in [0, 0.5] (denser near 0) and σw² up to 4 (or 1.5
    times the largest critical σw² there), geometric where that spans over a decade; the
    critical line through each σb² row of the grid, to relative precision ``rtol`` (a
    figure needs far less than the default). Default ranges grow to hold the (σw², σb²)
    pairs in ``include``."""
    act = resolve_activation(activation)
    pts = np.asarray(list(include), dtype=np.float64).reshape(-1, 2)
    if sigma_b2 is None:
        top_b = max([0.5, *(1.2 * pts[:, 1])])
        sigma_b2 = top_b * np.linspace(0.0, 1.0, n_b) ** 1.5  # denser near 0, where lines bend
    sigma_b2 = np.asarray(sigma_b2, dtype=np.float64)
    if sigma_w2 is None:
        top = max([4.0, *(1.2 * pts[:, 0])])
        edge = critical_line(act, [sigma_b2.min(), sigma_b2.max()], q0=q0, rtol=1e-3)
        if np.isfinite(edge).any():
            top = max(top, 1.5 * float(np.nanmax(edge)))
        low = min([top / n_w, *(0.8 * pts[:, 0])])  # low enough to show every included point
        # over more than a decade (sigmoid: an init near 1, the critical line near 100) the
        # grid is geometric, so that both ends get cells (figures draw it on a log axis)
        sigma_w2 = np.geomspace(low, top, n_w) if top > 10 * low else np.linspace(low, top, n_w)
    sigma_w2 = np.asarray(sigma_w2, dtype=np.float64)
    for name, arr, least in (("sigma_w2", sigma_w2, 1e-300), ("sigma_b2", sigma_b2, 0.0)):
        if not arr.size or np.any(arr < least) or not np.all(np.isfinite(arr)):
            raise InputError(f"{name} = {arr.tolist()!r}: variances, finite and "
                             f"{'> 0' if least else '>= 0'}")
    W, B = np.meshgrid(sigma_w2, sigma_b2)
    chi = chi1(act, W, B, q0)
    with np.errstate(divide="ignore"):
        log_chi = np.log(chi)
    f = chi - 1.0
    cross = (f[:, :-1] < 0) & (f[:, 1:] >= 0)
    rows = np.where(cross.any(axis=1))[0]
    i = cross[rows].argmax(axis=1)
    line = np.full(sigma_b2.shape, np.nan)
    line[rows] = _refine(act, sigma_b2[rows], sigma_w2[i], sigma_w2[i + 1], q0, rtol)
    cont = np.ones(sigma_b2.shape, dtype=bool)
    if rows.size:  # across the bracket the bisection left, χ₁ jumps or moves by ~rtol
        step = max(rtol, 1e-6)
        jump = chi1(act, line[rows] * (1 + step), sigma_b2[rows], q0) - chi1(
            act, line[rows] * (1 - step), sigma_b2[rows], q0)
        cont[rows] = jump < CRITICAL_TOL
    return PhaseDiagram(act.name, sigma_w2, sigma_b2, log_chi, sigma_b2.copy(), line, cont)



# Critical initialisation: remembered per activation object and σb² -------------------------

_CRITICAL_CACHE: dict[tuple, tuple[Activation, float]] = {}


def cached_critical_sigma_w2(act: Activation, sigma_b2: float) -> float:
    """critical_sigma_w2, remembered per activation object and σb²."""
    key = (act.name, id(act), float(sigma_b2))
    hit = _CRITICAL_CACHE.get(key)
    if hit is None or hit[0] is not act:
        hit = (act, critical_sigma_w2(act, sigma_b2))
        if len(_CRITICAL_CACHE) > 256:
            _CRITICAL_CACHE.clear()
        _CRITICAL_CACHE[key] = hit
    return hit[1]

