"""The mean-field theory against an independent reference, for every built-in activation.

The reference shares nothing with actscope's theory: each activation and its derivative
are plain NumPy/SciPy lambdas written here, Gaussian expectations are adaptive quadrature
(scipy.integrate.quad), and fixed points come from a different formulation. Every fixed
point q of the length map satisfies σw² = S(q) = (q - σb²) / E[φ(√q z)²], so the fixed
points at one σw² are the roots of S(q) = σw² (brentq between sign changes on a grid of q),
and the lowest stable one, followed from σw² -> 0, is the first rising stretch of S: the
critical σw² is where χ₁ = S(q) E[φ'(√q z)²] reaches 1 on it, or where S stops rising (the
fixed point meets an unstable one and vanishes), or S's limit at large q. With σb² = 0 and
φ(0) = 0, q = 0 is the lowest fixed point, stable until σw² E[φ'(0±)²] = 1.
"""

from __future__ import annotations

import math
import warnings
from functools import cache

import numpy as np
import pytest
from scipy.integrate import IntegrationWarning, quad
from scipy.optimize import brentq, minimize_scalar
from scipy.special import expit, ndtr

from actscope import list_activations, theory
from actscope.activations import USER_DEFINED

RTOL = 1e-6
Z = 12.0                 # |z| beyond 12 carries ~1e-33 of the Gaussian's mass
Q_GRID = np.geomspace(1e-7, 1e8, 15 * 8 + 1)   # 8 points a decade
SELU_A, SELU_L = 1.6732632423543772, 1.0507009873554805
GT = math.sqrt(2 / math.pi)


def _softplus(x):
    return np.logaddexp(0.0, x)


def _mish_grad(x):
    t = np.tanh(_softplus(x))
    return t + x * (1 - t * t) * expit(x)


def _gelu_tanh_grad(x):
    t = np.tanh(GT * (x + 0.044715 * x ** 3))
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GT * (1 + 3 * 0.044715 * x * x)


# name: (φ, φ', kinks of φ or φ')
REFERENCE = {
    "identity": (lambda x: x, lambda x: 1.0, ()),
    "sigmoid": (expit, lambda x: expit(x) * (1 - expit(x)), ()),
    "tanh": (np.tanh, lambda x: 1 - np.tanh(x) ** 2, ()),
    "relu": (lambda x: max(x, 0.0), lambda x: float(x > 0), (0.0,)),
    "leaky_relu": (lambda x: x if x > 0 else 0.01 * x, lambda x: 1.0 if x > 0 else 0.01, (0.0,)),
    "elu": (lambda x: x if x > 0 else math.expm1(x), lambda x: 1.0 if x > 0 else math.exp(x), (0.0,)),
    "selu": (lambda x: SELU_L * (x if x > 0 else SELU_A * math.expm1(x)),
             lambda x: SELU_L * (1.0 if x > 0 else SELU_A * math.exp(x)), (0.0,)),
    "gelu": (lambda x: x * ndtr(x),
             lambda x: ndtr(x) + x * math.exp(-x * x / 2) / math.sqrt(2 * math.pi), ()),
    "gelu_tanh": (lambda x: 0.5 * x * (1 + np.tanh(GT * (x + 0.044715 * x ** 3))), _gelu_tanh_grad, ()),
    "silu": (lambda x: x * expit(x), lambda x: expit(x) * (1 + x * (1 - expit(x))), ()),
    "mish": (lambda x: x * np.tanh(_softplus(x)), _mish_grad, ()),
    "softplus": (_softplus, expit, ()),
    "softsign": (lambda x: x / (1 + abs(x)), lambda x: 1 / (1 + abs(x)) ** 2, (0.0,)),
    "hard_sigmoid": (lambda x: min(max(x / 6 + 0.5, 0.0), 1.0), lambda x: float(abs(x) < 3) / 6, (-3.0, 3.0)),
    "hard_tanh": (lambda x: min(max(x, -1.0), 1.0), lambda x: float(abs(x) < 1), (-1.0, 1.0)),
    "sine": (math.sin, math.cos, ()),
    "gaussian": (lambda x: math.exp(-x * x), lambda x: -2 * x * math.exp(-x * x), ()),
}
# user formulas: actscope parses the text; the reference is written out by hand
FORMULAS = {
    "f(x) = x * tanh(log(1 + exp(x)))": REFERENCE["mish"],
    "f(x) = max(x, 0) - 0.5 * max(x - 1, 0)": (
        lambda x: max(x, 0.0) - 0.5 * max(x - 1.0, 0.0),
        lambda x: float(x > 0) - 0.5 * float(x > 1), (0.0, 1.0)),
}
ALL = {**REFERENCE, **FORMULAS}


def builtin_names() -> list[str]:
    return [n for n in list_activations() if n not in USER_DEFINED]


def test_every_builtin_activation_has_a_reference():
    assert sorted(builtin_names()) == sorted(REFERENCE)


# The reference --------------------------------------------------------------------------

def gauss_mean(g, q: float, kinks=()) -> float:
    """E[g(√q z)], z ~ N(0, 1), by adaptive quadrature split at the kinks and at φ's scale."""
    s = math.sqrt(q)
    cuts = {0.0, *(k / s for k in kinks), *(c / s for c in (-4.0, -1.0, 1.0, 4.0))}
    pts = sorted(p for p in cuts if -Z < p < Z)
    with warnings.catch_warnings():
        if q > 1e3:  # sine oscillates > 60 times over [-Z, Z]; there E[φ²] only gives H's sign
            warnings.simplefilter("ignore", IntegrationWarning)
        val, _ = quad(lambda z: g(s * z) * math.exp(-0.5 * z * z), -Z, Z, points=pts,
                      epsabs=1e-15, epsrel=1e-11, limit=500)
    return val / math.sqrt(2 * math.pi)


class Reference:
    """The length map's second moment V, χ₁'s K and the slope's P = q V'(q), by quadrature."""

    def __init__(self, name: str):
        self.fn, self.grad, self.kinks = ALL[name]
        self.V_grid = np.array([self.V(q) for q in Q_GRID])
        self.zero_is_fixed = abs(float(self.fn(0.0))) == 0.0

    def V(self, q):
        return gauss_mean(lambda u: self.fn(u) ** 2, q, self.kinks)

    def K(self, q):
        return gauss_mean(lambda u: self.grad(u) ** 2, q, self.kinks)

    def slope(self, q, sw2):  # σw² d/dq E[φ²] = σw² E[u φ φ'] / q (Stein)
        with warnings.catch_warnings():  # sine: u sin u cos u cancels to ~1e-4 of its size,
            warnings.simplefilter("ignore", IntegrationWarning)  # quad says so; abs 1e-9 allows
            return sw2 * gauss_mean(lambda u: u * self.fn(u) * self.grad(u), q, self.kinks) / q

    def roots(self, sw2: float, sb2: float) -> list[float]:
        """Every fixed point in [1e-7, 1e8] (and 0 where σb² = 0 and φ(0) = 0)."""
        H = sw2 * self.V_grid + sb2 - Q_GRID
        out = [0.0] if sb2 == 0 and self.zero_is_fixed else []
        out += [float(q) for q in Q_GRID[H == 0]]
        for k in np.flatnonzero(H[:-1] * H[1:] < 0):
            out.append(brentq(lambda q: sw2 * self.V(q) + sb2 - q, Q_GRID[k], Q_GRID[k + 1],
                              xtol=1e-300, rtol=1e-13))
        return sorted(out)

    def lowest(self, sw2: float, sb2: float) -> float:
        """The first root the map meets going up from 0: where it turns from growing to
        shrinking (0 if it shrinks just above 0, inf if it never does)."""
        if sb2 == 0 and self.zero_is_fixed and sw2 * self.K(1e-16) < 1:
            return 0.0
        H = sw2 * self.V_grid + sb2 - Q_GRID
        k = np.flatnonzero((H[:-1] > 0) & (H[1:] <= 0))
        if not k.size:
            return math.inf
        if H[k[0] + 1] == 0:
            return float(Q_GRID[k[0] + 1])
        return brentq(lambda q: sw2 * self.V(q) + sb2 - q, Q_GRID[k[0]], Q_GRID[k[0] + 1],
                      xtol=1e-300, rtol=1e-13)

    def critical(self, sb2: float) -> float:
        """The critical σw² at the lowest stable fixed point (module docstring)."""
        if sb2 == 0 and self.zero_is_fixed:
            return 1.0 / self.K(1e-16)
        ok = Q_GRID > sb2 * (1 + 1e-9)
        q, S = Q_GRID[ok], (Q_GRID[ok] - sb2) / self.V_grid[ok]
        for i in range(1, q.size):   # up the rising stretch of S, computing χ₁ as it goes
            if S[i] <= S[i - 1]:     # S peaks: the fixed point meets an unstable one there
                res = minimize_scalar(lambda t: -(math.exp(t) - sb2) / self.V(math.exp(t)),
                                      bounds=(math.log(q[i - 2]), math.log(q[i])), method="bounded",
                                      options={"xatol": 1e-9})
                return -float(res.fun)
            if S[i] * self.K(q[i]) >= 1:
                qc = brentq(lambda t: (t - sb2) / self.V(t) * self.K(t) - 1, q[i - 1], q[i], rtol=1e-13)
                return (qc - sb2) / self.V(qc)
        return float(S[-1])      # S keeps rising to its limit: χ₁ reaches 1 only there


@cache
def reference(name: str) -> Reference:
    return Reference(name)


# The comparisons --------------------------------------------------------------------------

SIGMA_B2 = (0.0, 0.05, 0.3, 1.0)
SIGMA_W2 = (0.7, 1.5, 2.11, 3.3)


def _check_fixed_points(name: str, sw2: float, sb2: float) -> None:
    ref = reference(name)
    got = [r for r in theory.length_fixed_points(name, sw2, sb2)
           if r.q == 0 or 1e-6 < r.q < 1e7]
    want = [q for q in ref.roots(sw2, sb2) if q == 0 or 1e-6 < q < 1e7]
    assert [r.q for r in got] == pytest.approx(want, rel=RTOL, abs=1e-300), (name, sw2, sb2)
    for r, q in zip(got, want):
        qe = max(q, 1e-16)
        assert r.chi1 == pytest.approx(sw2 * ref.K(qe), rel=RTOL), (name, sw2, sb2, q)
        slope = ref.slope(qe, sw2)
        assert r.slope == pytest.approx(slope, rel=RTOL, abs=1e-9), (name, sw2, sb2, q)
        assert r.stable == (abs(slope) < 1), (name, sw2, sb2, q)
    low = ref.lowest(sw2, sb2)   # what fixed_point reports: q* and χ₁ at the lowest stable root
    assert float(theory.fixed_point_q(name, sw2, sb2)) == pytest.approx(low, rel=RTOL, abs=1e-300)
    want = sw2 * ref.K(min(max(low, 1e-16), 1e16))   # 1e16 stands for inf (χ₁'s limit to 1e-8)
    assert float(theory.chi1(name, sw2, sb2)) == pytest.approx(want, rel=RTOL), (name, sw2, sb2)


@pytest.mark.parametrize("name", sorted(ALL))
def test_fixed_points_and_chi1_agree_with_quadrature(name):
    for sb2 in SIGMA_B2:
        for sw2 in SIGMA_W2:
            _check_fixed_points(name, sw2, sb2)


@pytest.mark.parametrize("name", sorted(ALL))
def test_critical_sigma_w2_agrees_with_quadrature(name):
    ref = reference(name)
    want = [ref.critical(sb2) for sb2 in SIGMA_B2]
    assert theory.critical_line(name, SIGMA_B2, rtol=1e-9) == pytest.approx(want, rel=RTOL)
    for sb2, w in zip(SIGMA_B2[1:3], want[1:3]):
        assert theory.critical_point(name, sb2).sigma_w2 == pytest.approx(w, rel=RTOL), (name, sb2)


# Known answers ----------------------------------------------------------------------------

def test_silu_keeps_both_roots_the_old_bracket_jumped_over():
    """Iterating the length map from q = 1 converges to q* = 1.6247 (χ₁ = 0.8715, ordered);
    a bracket grown 4-fold per step stepped over it and the unstable root, to q* = inf."""
    q = 1.0
    for _ in range(2000):
        q = float(theory.length_map("silu", q, 2.11, 0.3))
    fp = theory.fixed_point("silu", 2.11, 0.3)
    assert fp.q_star == pytest.approx(q, rel=1e-9) and fp.q_star == pytest.approx(1.6247, abs=1e-4)
    assert fp.chi1 == pytest.approx(0.8715, abs=1e-4) and fp.phase == "ordered"
    kinds = [r.kind for r in fp.roots]
    assert kinds == ["stable", "unstable", "diverges"]
    assert 1.6247 < fp.roots[1].q < 4 and len(fp.stable_roots) == 2
    assert float(theory.fixed_point_q("silu", 2.11, 0.3, q0=1.0)) == pytest.approx(q, rel=1e-9)
    assert math.isinf(theory.fixed_point_q("silu", 2.11, 0.3, q0=5.0))  # above the unstable root


def test_two_roots_inside_one_scan_cell_are_found():
    """Just below the saddle-node the two roots are closer than a scan step: no sign change
    on the grid, yet both are reported (the extremum of h between them is refined)."""
    sn = theory.critical_point("silu", 0.3)
    assert not sn.continuous
    roots = [r for r in theory.length_fixed_points("silu", sn.sigma_w2 * (1 - 1e-9), 0.3)
             if math.isfinite(r.q)]
    assert len(roots) == 2 and roots[1].q / roots[0].q < 10 ** (1 / 32)
    assert [r.kind for r in roots] == ["stable", "unstable"]
    assert not [r for r in theory.length_fixed_points("silu", sn.sigma_w2 * (1 + 1e-9), 0.3)
                if math.isfinite(r.q)]


def test_critical_point_names_the_other_stable_fixed_point():
    cp = theory.critical_point("silu", 0.3)
    assert cp.chi_below < 1 < cp.chi_above and math.isfinite(cp.q_star)
    assert [r.kind for r in cp.others] == ["diverges"] and "other stable" in cp.note()
    tanh = theory.critical_point("tanh", 0.05)
    assert not tanh.others and tanh.note() is None


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ALL))
def test_a_finer_grid_agrees_with_quadrature(name):
    ref = reference(name)
    sigma_b2 = (0.01, 0.1, 0.5, 2.0)
    for sb2 in sigma_b2:
        for sw2 in np.geomspace(0.3, 6.0, 6):
            _check_fixed_points(name, float(sw2), sb2)
    want = [ref.critical(sb2) for sb2 in sigma_b2]
    assert theory.critical_line(name, sigma_b2, rtol=1e-9) == pytest.approx(want, rel=RTOL)


def test_chi1_at_a_diverging_map_is_its_limit():
    """softplus: E[φ'(√q z)²] -> 1/2 like 1/√q, so χ₁ read at q = 1e12 would be 1e-6 low and
    put the critical σw² at 2.0000016; the limit puts it at 2, where ReLU's is."""
    assert theory.critical_sigma_w2("softplus", 0.3) == pytest.approx(2.0, rel=1e-10)
    assert theory.fixed_point("softplus", 2.5, 0.1).chi1 == pytest.approx(1.25, rel=1e-10)
