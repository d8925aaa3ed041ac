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


__all__ = ["prelude"]
