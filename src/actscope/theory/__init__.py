"""Mean-field theory of signal propagation in wide random networks, for any activation.

Poole et al. 2016 ("Exponential expressivity in deep neural networks through transient
chaos") and Schoenholz et al. 2017 ("Deep information propagation"). A layer computes
``z = W a + b`` with ``W_ij ~ N(0, σw²/fan_in)`` and ``b_i ~ N(0, σb²)``, ``a = φ(z)``.
In the wide limit the pre-activations are Gaussian and their moments follow maps:

- length map      q^l = σw² E_z[φ(√q^{l-1} z)²] + σb²              (fixed point q*)
- correlation map c^l = (σw² E[φ(u1) φ(u2)] + σb²) / q^l            (fixed point c*)
- χ₁ = σw² E[φ'(√q* z)²]: the gradient gain per layer; < 1 ordered, > 1 chaotic
- depth scales ξ_q = -1/ln(∂q^l/∂q^{l-1} at q*), ξ_c = -1/ln(σw² E[φ'(u1*) φ'(u2*)])

Every expectation is a Gaussian quadrature over ``Activation.fn`` and ``Activation.grad``
from the registry (Gauss–Legendre panels split at the kinks found in fn and grad; plain
Gauss–Hermite is kept as `hermite_expectation` for checks): there is no per-activation
code here, so activations registered later (and user formulas) work unchanged.

Conventions: q* is the fixed point reached from q0 = 1 (inputs of unit mean square); the
critical σw² is the first crossing of χ₁ = 1 in σw² ∈ [0.01, 1000]; none there raises
NoCriticalPointError (an InputError: one line, exit status 2 on the command line).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy.optimize import brentq
from scipy.special import roots_hermitenorm

from actscope.activations import Activation, UnknownActivationError, get_activation
from actscope.errors import InputError
from actscope.seeding import aux_rng

Z_MAX = 10.0             # quadrature over z in [-10, 10] (the mass beyond is ~1e-23)
N_COARSE = 40            # panels of width 0.5 over [-Z_MAX, Z_MAX] ...
U_FINE, N_FINE = 10.0, 40  # ... plus 40 panels over u = √q z in [-10, 10], where φ bends
GL_ORDER = 5             # Gauss–Legendre nodes per panel
SCAN_U, SCAN_STEP = 30.0, 2e-3   # where breakpoints of φ and φ' are looked for
Q_FLOOR = 1e-12          # expectations at q = 0 are taken as the limit q -> 0+
Q_CAP = 1e12             # a length map still growing here diverges (q* = inf)
SEARCH_SIGMA_W2 = (0.01, 1000.0)   # where the critical line is searched for
CRITICAL_TOL = 1e-3      # |χ₁ - 1| below this is called critical
PROPAGATION_PURPOSE = 5  # spawn key of the random streams of `propagate`


class NoCriticalPointError(InputError):
    """χ₁ = 1 is not crossed in the searched σw² range."""


# Quadrature -------------------------------------------------------------------------------
# Gaussian expectations E[f(m + s z)], z ~ N(0, 1), by Gauss–Legendre on panels in z whose
# edges include the activation's breakpoints (kinks of φ, jumps of φ'), found numerically
# from fn and grad. Plain Gauss–Hermite (`hermite_expectation`) converges slowly for
# those: 4% error in χ₁ of hard_tanh with 200 nodes, 5% for sigmoid at q = 100.

def _call(f, u: np.ndarray) -> np.ndarray:
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


# Argument checks --------------------------------------------------------------------------

def resolve_activation(activation: str | Activation) -> Activation:
    """The registry's Activation, or an InputError naming the known ones."""
    try:
        return get_activation(activation)
    except UnknownActivationError as err:
        raise InputError(f"activation = {activation!r}: {err}") from None


def _check(name: str, value: float, positive: bool = False) -> float:
    v = float(value)
    if not math.isfinite(v) or v < 0 or (positive and v == 0):
        rule = "must be > 0" if positive else "must be >= 0"
        raise InputError(f"{name} = {value!r}: a variance, {rule} and finite")
    return v


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
    lo, hi = q.copy(), q.copy()
    # grow the bracket upwards (g > 0: q^l increases) or downwards (g < 0)
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
    # regula falsi (Illinois) on what is bracketed: G(lo) > 0 > G(hi)
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
    sw2 = _check("sigma_w2", sigma_w2, positive=True)
    sb2 = _check("sigma_b2", sigma_b2)
    q0 = _check("q0", q0, positive=True)
    q = float(fixed_point_q(act, sw2, sb2, q0))
    q_eval = Q_CAP if math.isinf(q) else q
    chi = float(sw2 * gaussian_expectation(lambda u: act.grad(u) ** 2, q_eval, breakpoints(act)))
    c = fixed_point_c(act, q_eval, sw2, sb2, chi) if math.isfinite(q) else (1.0 if chi <= 1 else math.nan)
    cc = chi if c == 1.0 or math.isnan(c) else chi_c(act, c, q_eval, sw2)
    slope_q = float(length_map_slope(act, q_eval, sw2)) if math.isfinite(q) else math.inf
    return FixedPoint(act.name, sw2, sb2, q, c, chi, cc, _depth_scale(slope_q),
                      _depth_scale(cc), classify(chi))


# The critical line ------------------------------------------------------------------------

def _search_grid(search: tuple[float, float]) -> np.ndarray:
    lo, hi = (_check("search", v, positive=True) for v in search)
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
    """Where χ₁ crosses 1 at one σb². Where the fixed point reached from q0 changes branch
    (GELU, SiLU, ...: q* jumps from a finite value to infinity), χ₁ jumps across 1 and
    ``continuous`` is False: the order-to-chaos transition is discontinuous there."""

    activation: str
    sigma_b2: float
    sigma_w2: float
    chi_below: float   # χ₁ just below sigma_w2 (relative 1e-8)
    chi_above: float   # χ₁ just above

    @property
    def continuous(self) -> bool:
        return self.chi_above - self.chi_below < CRITICAL_TOL

    def note(self) -> str | None:
        if self.continuous:
            return None
        return (f"note: χ₁ jumps from {self.chi_below:.4g} to {self.chi_above:.4g} at this σw² (the "
                f"length map's fixed point changes branch): the transition is discontinuous and "
                f"no σw² has χ₁ = 1 exactly")


def critical_point(activation, sigma_b2: float = 0.0,
                   search: tuple[float, float] = SEARCH_SIGMA_W2, q0: float = 1.0) -> CriticalPoint:
    """The σw² at which χ₁ crosses 1 for this σb²: the first crossing from order to chaos
    on a geometric grid over ``search``, refined with Brent's method.

    Raises NoCriticalPointError when χ₁ does not cross 1 in ``search``.
    """
    act = resolve_activation(activation)
    sb2 = _check("sigma_b2", sigma_b2)
    q0 = _check("q0", q0, positive=True)
    grid = _search_grid(search)
    idx, f = _first_crossings(act, np.array([sb2]), grid, q0)
    i = int(idx[0])
    if i < 0:
        raise _no_critical(act, sb2, f, grid)
    root = float(brentq(lambda s: float(chi1(act, s, sb2, q0)) - 1.0, grid[i], grid[i + 1],
                        xtol=1e-12, rtol=1e-12))
    below, above = chi1(act, np.array([root * (1 - 1e-8), root * (1 + 1e-8)]), sb2, q0)
    return CriticalPoint(act.name, sb2, root, float(below), float(above))


def critical_sigma_w2(activation, sigma_b2: float = 0.0,
                      search: tuple[float, float] = SEARCH_SIGMA_W2, q0: float = 1.0) -> float:
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
                  q0: float = 1.0, rtol: float = 1e-7) -> np.ndarray:
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
    """log χ₁ over a (σw², σb²) grid, and the critical line through it."""

    activation: str
    sigma_w2: np.ndarray          # (n_w,)
    sigma_b2: np.ndarray          # (n_b,)
    log_chi1: np.ndarray          # (n_b, n_w), natural log
    critical_b2: np.ndarray       # σb² values of the critical line
    critical_w2: np.ndarray       # its σw² (nan where none)
    critical_continuous: np.ndarray | None = None  # False where χ₁ jumps across 1 there


def phase_diagram(activation, sigma_w2=None, sigma_b2=None, n_w: int = 50, n_b: int = 30,
                  q0: float = 1.0, include=(), rtol: float = 1e-7) -> PhaseDiagram:
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


# Prediction against experiment ------------------------------------------------------------

def predict_layers(activation, sigma_w2: float, sigma_b2: float, q_in: float,
                   c_in: float | None, depth: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Predicted q^l and c^l, l = 1..depth, for two inputs with |x|²/n = q_in and
    correlation c_in (layer 1 is linear in the input: q^1 = σw² q_in + σb²).
    With ``c_in=None`` only q^l is computed."""
    act = resolve_activation(activation)
    q = sigma_w2 * q_in + sigma_b2
    q12 = sigma_w2 * (c_in or 0.0) * q_in + sigma_b2
    qs, cs = [q], [q12 / q if q > 0 else 1.0]
    for _ in range(depth - 1):
        if c_in is not None:
            c = q12 / q if q > 0 else 1.0
            q12 = float(sigma_w2 * bivariate_expectation(act.fn, act.fn, q, q, c, breakpoints(act))
                        + sigma_b2)
        q = float(length_map(act, q, sigma_w2, sigma_b2))
        qs.append(q)
        cs.append(q12 / q if q > 0 else 1.0)
    return np.asarray(qs), (np.asarray(cs) if c_in is not None else None)


@dataclass
class Propagation:
    """Predicted and measured q^l and c^l of deep random networks at (σw², σb²)."""

    activation: str
    sigma_w2: float
    sigma_b2: float
    depth: int
    width: int
    n_networks: int
    seed: int
    q0: np.ndarray                # (n_q,) input lengths
    c0: np.ndarray                # (n_c,) input correlations (inputs of length q_c)
    q_c: float
    q_pred: np.ndarray            # (n_q, depth)
    q_meas: np.ndarray            # (n_q, depth): mean over units, inputs and networks
    q_meas_std: np.ndarray        # (n_q, depth): std over networks
    c_pred: np.ndarray            # (n_c, depth)
    c_meas: np.ndarray            # (n_c, depth): mean over input pairs and networks
    c_meas_std: np.ndarray        # (n_c, depth)
    fixed: FixedPoint | None = field(default=None)

    @property
    def q_rel_err(self) -> np.ndarray:
        return self.q_meas / self.q_pred - 1.0

    def table(self) -> str:
        """Layer by layer: predicted and measured q (first q0) and c (first c0)."""
        head = (f"{'layer':>5} {'q pred':>11} {'q meas':>11} {'rel err':>8} "
                f"{'c pred':>8} {'c meas':>8}")
        rows = [head]
        for layer in range(self.depth):
            rows.append(f"{layer + 1:>5} {self.q_pred[0, layer]:>11.5g} {self.q_meas[0, layer]:>11.5g} "
                        f"{self.q_rel_err[0, layer]:>+8.2%} {self.c_pred[0, layer]:>8.4f} "
                        f"{self.c_meas[0, layer]:>8.4f}")
        return "\n".join(rows)


def _inputs(rng: np.random.Generator, width: int, q0, n_per: int, q_c: float, c0) -> np.ndarray:
    """Rows with |x|²/width exactly q0 (n_per each), then n_per pairs per c0 of length q_c
    and correlation exactly c0 (pair members adjacent)."""
    rows = []
    for q in q0:
        x = rng.standard_normal((n_per, width))
        rows.append(x * np.sqrt(q * width) / np.linalg.norm(x, axis=1, keepdims=True))
    s = np.sqrt(q_c * width)
    for c in c0:
        for _ in range(n_per):
            a, b = rng.standard_normal((2, width))
            a /= np.linalg.norm(a)
            b -= (b @ a) * a
            b /= np.linalg.norm(b)
            rows.append(np.stack([s * a, s * (c * a + np.sqrt(1.0 - c * c) * b)]))
    return np.concatenate(rows)


def measure_layers(activation, sigma_w2: float, sigma_b2: float, X: np.ndarray, depth: int,
                   seed: int) -> np.ndarray:
    """Pre-activations' mean square per input and layer, (depth, n_inputs), and their
    Gram matrices, for one random network of width X.shape[1] (weights drawn layer by
    layer from ``aux_rng(seed)``, so memory stays at one weight matrix)."""
    act = resolve_activation(activation)
    rng = aux_rng(seed, PROPAGATION_PURPOSE)
    a = X
    grams = []
    for _ in range(depth):
        n = a.shape[1]
        W = rng.standard_normal((n, n)) * np.sqrt(sigma_w2 / n)
        b = rng.standard_normal(n) * np.sqrt(sigma_b2)
        z = a @ W + b
        grams.append(z @ z.T / n)
        a = act.fn(z)
    return np.stack(grams)


def propagate(activation, sigma_w2: float, sigma_b2: float, depth: int = 30, width: int = 1000,
              q0=(0.5, 1.0, 2.0), c0=(0.2, 0.6, 0.9), q_c: float = 1.0, n_networks: int = 4,
              n_per: int = 4, seed: int = 0) -> Propagation:
    """Predicted q^l, c^l next to those measured in ``n_networks`` random networks.

    Inputs have dimension ``width``; ``n_per`` inputs per q0 and ``n_per`` pairs per c0,
    averaged. Network k uses seed ``seed + k``.
    """
    act = resolve_activation(activation)
    sw2 = _check("sigma_w2", sigma_w2, positive=True)
    sb2 = _check("sigma_b2", sigma_b2)
    q0 = np.asarray([_check("q0", v, positive=True) for v in np.atleast_1d(q0)])
    c0 = np.atleast_1d(np.asarray(c0, dtype=np.float64))
    if np.any(np.abs(c0) > 1):
        raise InputError(f"c0 = {c0.tolist()}: correlations must lie in [-1, 1]")
    for name, v, least in (("depth", depth, 1), ("width", width, 2), ("n_networks", n_networks, 1),
                           ("n_per", n_per, 1)):
        if int(v) != v or v < least:
            raise InputError(f"{name} = {v!r}: must be an integer >= {least}")
    q_c = _check("q_c", q_c, positive=True)
    pred_q = np.stack([predict_layers(act, sw2, sb2, q, None, depth)[0] for q in q0])
    pred_c = np.stack([predict_layers(act, sw2, sb2, q_c, c, depth)[1] for c in c0])
    X = _inputs(aux_rng(seed, PROPAGATION_PURPOSE + 1), int(width), q0, n_per, q_c, c0)
    nq = len(q0) * n_per
    mq, mc = [], []
    for k in range(n_networks):
        G = measure_layers(act, sw2, sb2, X, depth, seed + k)      # (depth, M, M)
        diag = np.diagonal(G, axis1=1, axis2=2)                     # (depth, M)
        mq.append(diag[:, :nq].reshape(depth, len(q0), n_per).mean(axis=2).T)
        i = nq + 2 * np.arange(len(c0) * n_per)
        c = G[:, i, i + 1] / np.sqrt(diag[:, i] * diag[:, i + 1])  # (depth, n_c * n_per)
        mc.append(c.reshape(depth, len(c0), n_per).mean(axis=2).T)
    mq, mc = np.stack(mq), np.stack(mc)
    return Propagation(act.name, sw2, sb2, int(depth), int(width), int(n_networks), int(seed),
                       q0, c0, q_c, pred_q, mq.mean(0), mq.std(0), pred_c, mc.mean(0), mc.std(0),
                       fixed_point(act, sw2, sb2))


# Critical initialisation ------------------------------------------------------------------

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


def critical_weight_scale(fan_in: int, fan_out: int, act: Activation,
                          sigma_b2: float = 0.0) -> tuple[str, float]:
    """Init scheme "critical": normal weights with std √(σw²_crit / fan_in)."""
    try:
        sw2 = cached_critical_sigma_w2(act, sigma_b2)
    except NoCriticalPointError as err:
        raise InputError(f"init = 'critical': {err}") from None
    return "normal", math.sqrt(sw2 / fan_in)


def register_critical_scheme(name: str, sigma_b2: float) -> None:
    """Register an init scheme ``name`` on the critical line at this σb² (biases N(0, σb²))."""
    from actscope.nn.model import register_init_scheme

    sb2 = _check("sigma_b2", sigma_b2)
    bias = (lambda fi, fo, act: ("normal", math.sqrt(sb2))) if sb2 > 0 else None
    register_init_scheme(name, lambda fi, fo, act: critical_weight_scale(fi, fo, act, sb2), bias)


# Where an experiment's initialisation sits ------------------------------------------------

@dataclass(frozen=True)
class InitPoint:
    """The (σw², σb²) a hidden layer of an arm is initialised at, and its mean-field state."""

    arm: str
    layer: int
    activation: str
    init: str
    point: FixedPoint


def init_points(mlp, arm: str = "") -> list[InitPoint]:
    """(σw², σb²) of each hidden layer of an MLPSpec, from its init scheme, with the
    mean-field state there (the first layer sees the data; the maps describe the rest)."""
    from actscope.nn.model import init_variances

    variances = init_variances(mlp)
    seen: dict[tuple, FixedPoint] = {}
    out = []
    for i in range(mlp.depth):
        key = (mlp.activation[i], *(round(v, 12) for v in variances[i]))
        if key not in seen:
            seen[key] = fixed_point(*key)
        out.append(InitPoint(arm, i + 1, mlp.activation[i], mlp.init, seen[key]))
    return out


def experiment_init_points(run) -> list[InitPoint]:
    """`init_points` of every arm of a Run (or anything with ``.arms`` of ArmResults)."""
    return [p for name, arm in run.arms.items() for p in init_points(arm.mlp, name)]
