"""The head of every numba kernel module: imports, sizes, and vector math.

Transcendentals (exp, log, log1p, tanh, sigmoid) are written with float arithmetic and bit
casts, so the lane loop vectorises without a vector math library: exp by a Taylor
polynomial on [-ln2/2, ln2/2] and a power of two built from the exponent bits, log by the
atanh series of the mantissa.
"""

from __future__ import annotations

from collections.abc import Sequence

# exp(x) on [-ln2/2, ln2/2]: Taylor terms up to r**deg; log(m), m in [1, 2), by the
# 2*atanh((m-1)/(m+1)) series (no branch: a branch in the lane loop stops vectorisation)
_EXP_DEG = {"float32": 7, "float64": 13}
_LOG_TERMS = {"float32": 9, "float64": 18}  # branch-free: s in [0, 1/3]
_CONST = {
    "float32": dict(ITYPE="np.int32", MANT=23, BIAS=127, MAGIC="12582912.0", HI="88.0", LO="-87.0",
                    LN2HI="0.693359375", LN2LO="-2.12194440e-4", MASK="0x7fffff", ONE="0x3f800000"),
    "float64": dict(ITYPE="np.int64", MANT=52, BIAS=1023, MAGIC="6755399441055744.0", HI="709.0",
                    LO="-708.0", LN2HI="6.93147180369123816490e-01",
                    LN2LO="1.90821492927058770002e-10", MASK="0xfffffffffffff",
                    ONE="0x3ff0000000000000"),
}


def _poly(coefs: Sequence[str], var: str) -> str:
    expr = coefs[-1]
    for c in reversed(coefs[:-1]):
        expr = f"({expr}) * {var} + {c}"
    return expr


def _fmt(x: float) -> str:
    return f"DT({x!r})"


_PRELUDE = '''\
import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

DT = np.{dtype}
ITYPE = {ITYPE}
LANES = {lanes}
P = {P}
D = {D}
FM = {{"contract"}}


@intrinsic
def _pow2_of_magic(typingctx, x):
    """2**n, where x = n + MAGIC was rounded by the float adder."""
    def codegen(context, builder, sig, args):
        it = ir.IntType({bits})
        i = builder.bitcast(args[0], it)
        i = builder.add(builder.sub(i, builder.bitcast(ir.Constant(args[0].type, {MAGIC}), it)),
                        ir.Constant(it, {BIAS}))
        return builder.bitcast(builder.shl(i, ir.Constant(it, {MANT})), args[0].type)
    return x(x), codegen


@intrinsic
def _mantissa(typingctx, x):
    """x with its exponent set to 0: a value in [1, 2)."""
    def codegen(context, builder, sig, args):
        it = ir.IntType({bits})
        i = builder.and_(builder.bitcast(args[0], it), ir.Constant(it, {MASK}))
        return builder.bitcast(builder.or_(i, ir.Constant(it, {ONE})), args[0].type)
    return x(x), codegen


@intrinsic
def _exponent(typingctx, x):
    """The unbiased binary exponent of x, as a float."""
    def codegen(context, builder, sig, args):
        it = ir.IntType({bits})
        i = builder.lshr(builder.bitcast(args[0], it), ir.Constant(it, {MANT}))
        i = builder.sub(i, ir.Constant(it, {BIAS}))
        return builder.sitofp(i, args[0].type)
    return x(x), codegen


@njit(inline="always", fastmath=FM, error_model="numpy")
def vexp(x):
    x = min(max(x, DT({LO})), DT({HI}))
    t = x * DT(1.4426950408889634) + DT({MAGIC})
    n = t - DT({MAGIC})
    r = (x - n * DT({LN2HI})) - n * DT({LN2LO})
    p = {exp_poly}
    return p * _pow2_of_magic(t)


@njit(inline="always", fastmath=FM, error_model="numpy")
def vlog(x):
    m = _mantissa(x)
    e = _exponent(x)
    s = (m - DT(1.0)) / (m + DT(1.0))
    s2 = s * s
    q = {log_poly}
    return e * DT({LN2HI}) + (DT(2.0) * s * q + e * DT({LN2LO}))


@njit(inline="always", fastmath=FM, error_model="numpy")
def vlog1p(u):
    v = DT(1.0) + u
    return vlog(v) - ((v - DT(1.0)) - u) / v


@njit(inline="always", fastmath=FM, error_model="numpy")
def vsigmoid(z):
    e = vexp(-abs(z))
    r = DT(1.0) / (DT(1.0) + e)
    return r if z >= DT(0.0) else e * r


@njit(inline="always", fastmath=FM, error_model="numpy")
def vtanh(z):
    e = vexp(DT(-2.0) * abs(z))
    t = (DT(1.0) - e) / (DT(1.0) + e)
    return t if z >= DT(0.0) else -t

'''


def prelude(dtype: str, lanes: int, P: int, D: int) -> str:
    """The module head for ``dtype`` ("float32" or "float64"), ``lanes`` members per block,
    ``P`` parameters and ``D`` inputs."""
    c = _CONST[dtype]
    exp_coefs, f = [], 1.0
    for k in range(_EXP_DEG[dtype] + 1):
        exp_coefs.append(_fmt(1.0 / f))
        f *= k + 1
    log_coefs = [_fmt(1.0 / (2 * k + 1)) for k in range(_LOG_TERMS[dtype])]
    return _PRELUDE.format(dtype=dtype, lanes=lanes, P=P, D=D, bits=32 if dtype == "float32" else 64,
                           exp_poly=_poly(exp_coefs, "r"), log_poly=_poly(log_coefs, "s2"), **c)


# erf and erfc, sin and cos in plain arithmetic (no library call, so a loop over elements
# vectorises). Coefficients fitted with mpmath.chebyfit (relative error below 2e-18):
# erf(x)/x as a polynomial in x*x - 0.5 for |x| < 1; erfc(x) * exp(x*x) as polynomials
# in x - centre on [1, 2), [2, 3.5), [3.5, 6), and erfc(x) * x * sqrt(pi) * exp(x*x) in
# 1/x**2 - 1/72 beyond 6. exp(-x*x) is taken as exp(-xh*xh) * exp(-(x - xh) * (x + xh))
# with xh the high half of x's bits (xh*xh exact), so erfc keeps its relative accuracy far
# into the tail.
_ERF_SMALL = (0.9654687386698673, -0.2810721780454342, 0.07940998675593483, -0.018283884489152906,
              0.003480274496665589, -0.0005611894221159957, 7.82964952550334e-05, -9.614808686837411e-06,
              1.053644949301286e-06, -1.0420369437776738e-07, 9.387642467190585e-09,
              -7.798543168142326e-10, 5.957176147748911e-11)
_ERFC_PIECES = (
    (1.5, (0.3215854164543175, -0.16362291773256005, 0.0761510398554774, -0.03293090529956527,
           0.013377340953067394, -0.0051459575478377826, 0.0018861348769919975, -0.0006619300701084315,
           0.0002233099453004411, -7.265887301589559e-05, 2.2864299608127746e-05, -6.97536222785843e-06,
           2.0670657912156654e-06, -5.944961119917664e-07, 1.6714292901928126e-07,
           -4.9545807838901603e-08, 1.3242541506849586e-08)),
    (2.75, (0.1936620962790687, -0.06323763756063484, 0.019758592987322816, -0.005934337896997966,
            0.0017195818852915683, -0.0004821950849815436, 0.0001311818004875362, -3.469860956890751e-05,
            8.940156439196906e-06, -2.2473735137402935e-06, 5.519738191507474e-07,
            -1.3262502467727597e-07, 3.121531648858328e-08, -7.2012225046835695e-09,
            1.6194561547466204e-09, -3.601905695321358e-10, 8.88871719258283e-11,
            -1.9033341776852134e-11)),
    (4.75, (0.11630270721024731, -0.02350344859816315, 0.004661326368972343, -0.0009080988970296908,
            0.0001739283040406064, -3.277578113462419e-05, 6.08111455078227e-06, -1.1115677201483395e-06,
            2.002919683441791e-07, -3.559574699373066e-08, 6.242438035376163e-09,
            -1.0807615553487736e-09, 1.8479759770409932e-10, -3.12214957291069e-11,
            5.21891018757171e-12, -8.616561594719681e-13, 1.3788567789968384e-13,
            -2.2296939163216056e-14, 4.418116067216368e-15, -6.967058483586665e-16)),
)
_ERFC_ASYM = (0.9931954380164302, -0.4801864457652631, 0.6787598731422515, -1.5598596654099712,
              4.8997182356166, -19.334632562499827, 91.18191998379247, -497.26714091182663,
              3062.3039662327174, -20945.89519517661, 163768.9197649109, -1338866.8237274187)
# pi/2 as three parts, the first two of 33 significant bits (k * part exact for |k| < 2**20)
_PIO2 = (1.5707963267341256, 6.077100506303966e-11, 2.0222662487959506e-21)
_ERFC_CUT = {"float32": "9.1", "float64": "26.6"}  # exp(-x*x) below vexp's range: erfc = 0
_SPLIT_MASK = {"float32": "0xfffff000", "float64": "0xfffffffff8000000"}  # keeps half the bits


def _select_poly(pieces, var: str) -> str:
    """Horner over the piece whose flag (``in0``, ``in1``, ...) holds, coefficients chosen
    by selects (no branch, so that the element loop stays vectorised)."""
    n = max(len(c) for _, c in pieces)
    terms = []
    for k in range(n):
        cs = [(c[k] if k < len(c) else 0.0) for _, c in pieces]
        sel = _fmt(cs[-1])
        for i in range(len(cs) - 2, -1, -1):
            sel = f"({_fmt(cs[i])} if in{i} else {sel})"
        terms.append(sel)
    return _poly(terms, var)


def _taylor(first: int, n: int) -> list[str]:
    """The n coefficients of r**first, r**(first + 2), ... of the sin (first 3) or cos
    (first 4) series: (-1)**(k // 2) / k!."""
    out, f = [], 1.0
    for k in range(1, first + 2 * n):
        f *= k
        if k >= first and (k - first) % 2 == 0:
            out.append(f"np.float64({(-1) ** (k // 2) / f!r})")
    return out


_SPECIAL = '''

@intrinsic
def _split_hi(typingctx, x):
    """x with the low half of its significand's bits cleared (its square is exact)."""
    def codegen(context, builder, sig, args):
        it = ir.IntType({bits})
        i = builder.and_(builder.bitcast(args[0], it), ir.Constant(it, {mask}))
        return builder.bitcast(i, args[0].type)
    return x(x), codegen


@njit(inline="always", fastmath=FM, error_model="numpy")
def _erfc_mid(a):
    """erfc(a) * exp(a*a) for 1 <= a <= 6."""
    in0 = a < DT(2.0)
    in1 = a < DT(3.5)
    t = a - (DT(1.5) if in0 else (DT(2.75) if in1 else DT(4.75)))
    return {pieces}


@njit(inline="always", fastmath=FM, error_model="numpy")
def _erfc_big(a):
    """erfc(a) for 1 <= a <= ERFC_CUT, to a few ulp (exp(-a*a) by the exact split)."""
    ra = DT(1.0) / a
    u = ra * ra - DT(1.0 / 72.0)
    q = ({asym}) * (ra * DT(0.5641895835477563))
    g = _erfc_mid(min(a, DT(6.0))) if a < DT(6.0) else q
    h = _split_hi(a)
    return g * (vexp(-(h * h)) * vexp(-((a - h) * (a + h))))


@njit(inline="always", fastmath=FM, error_model="numpy")
def _erf_small(x):
    """erf(x) for |x| < 1."""
    t = x * x - DT(0.5)
    return x * ({small})


@njit(inline="always", fastmath=FM, error_model="numpy")
def verfc(x):
    """erfc(x), branch-free."""
    a = abs(x)
    e = _erf_small(min(a, DT(1.0)))
    c = _erfc_big(min(max(a, DT(1.0)), DT({cut})))
    c = c if a < DT({cut}) else DT(0.0)
    r = DT(1.0) - (e if x >= DT(0.0) else -e) if a < DT(1.0) else (c if x > DT(0.0) else DT(2.0) - c)
    return r if x == x else x


@njit(inline="always", fastmath=FM, error_model="numpy")
def verf(x):
    """erf(x), branch-free."""
    a = abs(x)
    e = _erf_small(min(a, DT(1.0)))
    b = min(max(a, DT(1.0)), DT(6.0))  # erfc(6) < 2**-54: erf = 1 beyond
    c = _erfc_mid(b) * vexp(-(b * b))
    r = e if a < DT(1.0) else (DT(1.0) - c if a < DT(6.0) else DT(1.0))
    r = r if x >= DT(0.0) else -r
    return r if x == x else x


@njit(inline="always", fastmath=FM, error_model="numpy")
def _sincos(x):
    """(sin, cos) of x in float64: x - k*pi/2 in three parts (Cody and Waite), Taylor
    polynomials on [-pi/4, pi/4], the quadrant k mod 4 by selects."""
    x = np.float64(x)
    k = (x * np.float64(0.6366197723675814) + np.float64(6755399441055744.0)) - np.float64(6755399441055744.0)
    r = ((x - k * np.float64({p1!r})) - k * np.float64({p2!r})) - k * np.float64({p3!r})
    z = r * r
    s = r + r * z * ({sin_poly})
    c = np.float64(1.0) - np.float64(0.5) * z + z * z * ({cos_poly})
    q = k - np.float64(4.0) * np.floor(k * np.float64(0.25))
    sn = s if q == np.float64(0.0) else (c if q == np.float64(1.0) else (-s if q == np.float64(2.0) else -c))
    cs = c if q == np.float64(0.0) else (-s if q == np.float64(1.0) else (-c if q == np.float64(2.0) else s))
    return sn, cs


@njit(inline="always", fastmath=FM, error_model="numpy")
def vsin(x):
    """sin(x), branch-free; a few ulp for |x| < 2**20 * pi / 2."""
    return DT(_sincos(x)[0])


@njit(inline="always", fastmath=FM, error_model="numpy")
def vcos(x):
    """cos(x), branch-free; a few ulp for |x| < 2**20 * pi / 2."""
    return DT(_sincos(x)[1])
'''


def special_source(dtype: str) -> str:
    """``verf``, ``verfc``, ``vsin`` and ``vcos`` for ``dtype``: erf, erfc, sin and cos in
    plain arithmetic (selects, no branch or library call), so that a loop over elements
    vectorises; they follow ``prelude``'s head (``vexp``, ``DT``). erf and erfc are in
    ``dtype``'s arithmetic, sin and cos in float64 whatever ``dtype``."""
    return _SPECIAL.format(
        bits=32 if dtype == "float32" else 64, mask=_SPLIT_MASK[dtype], cut=_ERFC_CUT[dtype],
        pieces=_select_poly(_ERFC_PIECES, "t"), asym=_poly([_fmt(c) for c in _ERFC_ASYM], "u"),
        small=_poly([_fmt(c) for c in _ERF_SMALL], "t"), p1=_PIO2[0], p2=_PIO2[1], p3=_PIO2[2],
        sin_poly=_poly(_taylor(3, 8), "z"), cos_poly=_poly(_taylor(4, 8), "z"))


__all__ = ["prelude", "special_source"]
