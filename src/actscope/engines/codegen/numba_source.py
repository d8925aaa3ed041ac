"""Source of the fast engine's numba kernels, generated for one architecture.

The ensemble is laid out member-last: ``theta[p, k]`` is parameter ``p`` of member ``k``.
A kernel takes a block of ``LANES`` members at a time and runs a straight-line body
(every layer unrolled, sizes known) inside ``for m in range(LANES)``, so LLVM turns each
scalar of the body into one SIMD register holding that value for LANES members.
Transcendentals (exp, log, tanh, sigmoid) are written with float arithmetic and bit
casts, so the loop vectorises without a vector math library.

This module builds text only; ``fast_engine`` writes it to a cache folder and imports it.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from dataclasses import dataclass

KERNEL_VERSION = 3
OPT_KINDS = {"sgd": 0, "momentum": 1, "nesterov": 2, "adam": 3}  # the kernels' optimiser codes

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

_FUNCS = {"exp": "vexp", "log": "vlog", "log1p": "vlog1p", "tanh": "vtanh", "sigmoid": "vsigmoid",
          "sqrt": "math.sqrt", "abs": "abs", "min": "min", "max": "max"}


class UnsupportedActivation(ValueError):
    """The activation has no scalar expression the kernels can compile."""


class _Rewrite(ast.NodeTransformer):
    def __init__(self, names: dict[str, str], params: dict):
        self.names, self.params = names, params

    def visit_Constant(self, node):
        if isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return ast.parse(f"DT({float(node.value)!r})", mode="eval").body
        raise UnsupportedActivation(f"constant {node.value!r}")

    def visit_Name(self, node):
        if node.id in self.names:
            return ast.Name(self.names[node.id], ast.Load())
        if node.id in self.params:
            return ast.parse(f"DT({float(self.params[node.id])!r})", mode="eval").body
        if node.id in _FUNCS:
            return ast.parse(_FUNCS[node.id], mode="eval").body
        raise UnsupportedActivation(f"name {node.id!r}")

    def visit_Attribute(self, node):
        if isinstance(node.value, ast.Name) and node.value.id == "math":
            return node
        raise UnsupportedActivation("attribute")


def scalar_expr(src: str, params: dict, z: str, a: str = "") -> str:
    """``src`` with ``z``/``a`` renamed, constants typed DT and functions vectorisable."""
    tree = ast.parse(src, mode="eval")
    names = {"z": z, **({"a": a} if a else {})}
    return ast.unparse(_Rewrite(names, dict(params)).visit(tree))


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

_PCG = '''

MULT_HI = np.uint64(2549297995355413924)
MULT_LO = np.uint64(4865540595714422341)
M32 = np.uint64(0xFFFFFFFF)
U32 = np.uint64(32)
U58 = np.uint64(58)
U63 = np.uint64(63)
U64 = np.uint64(64)
U1 = np.uint64(1)
U0 = np.uint64(0)


@njit
def _mulhi(a, b):
    a0 = a & M32
    a1 = a >> U32
    b0 = b & M32
    b1 = b >> U32
    p00 = a0 * b0
    p01 = a0 * b1
    p10 = a1 * b0
    mid = (p00 >> U32) + (p01 & M32) + (p10 & M32)
    return a1 * b1 + (p01 >> U32) + (p10 >> U32) + (mid >> U32)


@njit
def _next64(st):
    """PCG64 (XSL-RR 128/64) step then output, as numpy's PCG64; st = [hi, lo, inc_hi, inc_lo]."""
    hi, lo = st[0], st[1]
    nlo = lo * MULT_LO
    nhi = _mulhi(lo, MULT_LO) + lo * MULT_HI + hi * MULT_LO
    lo2 = nlo + st[3]
    carry = U1 if lo2 < nlo else U0
    hi2 = nhi + st[2] + carry
    st[0] = hi2
    st[1] = lo2
    x = hi2 ^ lo2
    rot = hi2 >> U58
    return (x >> rot) | (x << ((U64 - rot) & U63))


@njit
def _next32(st, buf):
    """numpy's next_uint32 for PCG64; buf = [has_uint32, uinteger]."""
    if buf[0] != U0:
        buf[0] = U0
        return buf[1]
    v = _next64(st)
    buf[0] = U1
    buf[1] = v >> U32
    return v & M32


@njit
def _interval(st, buf, mx):
    """numpy's random_interval(max) for max < 2**32."""
    mask = np.uint64(mx)
    mask |= mask >> np.uint64(1)
    mask |= mask >> np.uint64(2)
    mask |= mask >> np.uint64(4)
    mask |= mask >> np.uint64(8)
    mask |= mask >> np.uint64(16)
    v = _next32(st, buf) & mask
    while v > np.uint64(mx):
        v = _next32(st, buf) & mask
    return np.int64(v)


@njit
def _permute(st, buf, out):
    """out = Generator.permutation(n) for the PCG64 state st (advanced in place)."""
    n = out.shape[0]
    for i in range(n):
        out[i] = i
    for i in range(n - 1, 0, -1):
        j = _interval(st, buf, i)
        t = out[i]
        out[i] = out[j]
        out[j] = t


@njit(cache=True, nogil=True)
def permutations(pcg, out, k0, k1):
    """Rows k0..k1 of out (K, n): one permutation per row of pcg (K, 6), as numpy's
    Generator.permutation (the states advance in place)."""
    for k in range(k0, k1):
        _permute(pcg[k, 0:4], pcg[k, 4:6], out[k])
'''


def _poly(coefs: Sequence[str], var: str) -> str:
    expr = coefs[-1]
    for c in reversed(coefs[:-1]):
        expr = f"({expr}) * {var} + {c}"
    return expr


def _fmt(x: float) -> str:
    return f"DT({x!r})"


class _Names:
    """Row indices of parameters in theta (W of layer l is row-major (fan_in, fan_out))."""

    def __init__(self, sizes: Sequence[int]):
        self.w_off, self.b_off = [], []
        off = 0
        for fi, fo in zip(sizes[:-1], sizes[1:]):
            self.w_off.append(off)
            off += fi * fo
            self.b_off.append(off)
            off += fo
        self.P = off
        self.sizes = list(sizes)

    def w(self, layer: int, i: int, o: int) -> int:
        return self.w_off[layer] + i * self.sizes[layer + 1] + o

    def b(self, layer: int, o: int) -> int:
        return self.b_off[layer] + o


@dataclass(frozen=True)
class Dialect:
    """How an unrolled body is written: a parameter, a new scalar, a gradient update, and an
    activation's scalar expression (``expr(src, params, z, a)``). numba kernels use PYTHON;
    the CUDA kernels (``cuda_kernels``) their own C dialect."""

    weight: Callable[[int], str]
    assign: Callable[[str, str], str]
    grad_add: Callable[[int, str], str]
    expr: Callable[..., str]


PYTHON = Dialect(weight=lambda p: f"w[{p}, m]", assign=lambda name, e: f"{name} = {e}",
                 grad_add=lambda p, e: f"g[{p}, m] += {e}", expr=scalar_expr)


def forward_lines(nm: _Names, acts: Sequence[tuple[str, str]], inputs: list[str], indent: str,
                  dialect: Dialect = PYTHON) -> list[str]:
    """Straight-line forward pass; leaves the output logit in ``v_s``."""
    w, assign = dialect.weight, dialect.assign
    lines = []
    prev = inputs
    L = len(nm.sizes) - 1
    for layer in range(L):
        fo = nm.sizes[layer + 1]
        outs = []
        for o in range(fo):
            terms = " + ".join(f"{x} * {w(nm.w(layer, i, o))}" for i, x in enumerate(prev))
            zname = f"z{layer}_{o}" if layer < L - 1 else "v_s"
            lines.append(f"{indent}{assign(zname, f'{w(nm.b(layer, o))} + {terms}')}")
            outs.append(zname)
        if layer < L - 1:
            fn = acts[layer][0]
            new = []
            for o, zname in enumerate(outs):
                aname = f"a{layer}_{o}"
                lines.append(f"{indent}{assign(aname, dialect.expr(fn[0], fn[1], zname))}")
                new.append(aname)
            prev = new
    return lines


def _loss_lines(indent: str) -> list[str]:
    """Binary cross-entropy from the logit v_s and the label yv (stable), the sigmoid v_p,
    the per-point loss ``v_lp`` and correctness ``v_cp``. (Body names are unique in the
    kernel: a name shared with another loop would keep values alive across loops, and
    LLVM would then refuse to vectorise.)"""
    return [
        f"{indent}v_e = vexp(-abs(v_s))",
        f"{indent}v_r = DT(1.0) / (DT(1.0) + v_e)",
        f"{indent}v_p = v_r if v_s >= DT(0.0) else v_e * v_r",
        f"{indent}v_lp = max(v_s, DT(0.0)) - v_s * yv + vlog1p(v_e)",
        f"{indent}v_cp = DT(1.0) if (v_s >= DT(0.0)) == (yv > DT(0.5)) else DT(0.0)",
    ]


def backward_lines(nm: _Names, acts: Sequence[tuple[str, str]], inputs: list[str], indent: str,
                   dialect: Dialect = PYTHON) -> list[str]:
    """Gradient of the mean loss (delta already divided by the batch size), added into g."""
    w, assign, add = dialect.weight, dialect.assign, dialect.grad_add
    lines = [f"{indent}{assign('d0_0', '(v_p - yv) * inv')}"]
    L = len(nm.sizes) - 1
    delta = ["d0_0"]
    for layer in range(L - 1, -1, -1):
        fi = nm.sizes[layer]
        prev = inputs if layer == 0 else [f"a{layer - 1}_{i}" for i in range(fi)]
        for o, d in enumerate(delta):
            lines.append(f"{indent}{add(nm.b(layer, o), d)}")
            for i, x in enumerate(prev):
                lines.append(f"{indent}{add(nm.w(layer, i, o), f'{x} * {d}')}")
        if layer > 0:
            grad = acts[layer - 1][1]
            new = []
            for i in range(fi):
                terms = " + ".join(f"{d} * {w(nm.w(layer, i, o))}" for o, d in enumerate(delta))
                zi, ai = f"z{layer - 1}_{i}", f"a{layer - 1}_{i}"
                gexpr = dialect.expr(grad[0], grad[1], zi, ai)
                lines.append(f"{indent}{assign(f'dd{layer - 1}_{i}', f'({terms}) * ({gexpr})')}")
                new.append(f"dd{layer - 1}_{i}")
            delta = new
    return lines


def model_source(sizes: Sequence[int], acts: Sequence[tuple[tuple[str, str], tuple[str, str]]],
                 dtype: str, lanes: int) -> str:
    """A module with ``train_epoch`` and ``evaluate`` for a binary MLP of these sizes.

    ``acts[l] = ((f, params), (f', params))`` gives layer l's scalar expressions.
    """
    if sizes[-1] != 1:
        raise UnsupportedActivation("only binary outputs are compiled")
    nm = _Names(sizes)
    c = _CONST[dtype]
    bits = 32 if dtype == "float32" else 64
    exp_coefs, f = [], 1.0
    for k in range(_EXP_DEG[dtype] + 1):
        exp_coefs.append(_fmt(1.0 / f))
        f *= k + 1
    log_coefs = [_fmt(1.0 / (2 * k + 1)) for k in range(_LOG_TERMS[dtype])]
    src = _PRELUDE.format(dtype=dtype, lanes=lanes, P=nm.P, D=sizes[0], bits=bits,
                          exp_poly=_poly(exp_coefs, "r"), log_poly=_poly(log_coefs, "s2"), **c)
    src += _PCG
    D = sizes[0]
    ind = " " * 20
    xs_train = [f"x{d}" for d in range(D)]
    load_train = [f"{ind}x{d} = xy[j, {d}, m]" for d in range(D)] + [f"{ind}yv = xy[j, {D}, m]"]
    fwd_train = forward_lines(nm, acts, xs_train, ind)
    bwd = backward_lines(nm, acts, xs_train, ind)
    train_body = "\n".join(load_train + fwd_train + _loss_lines(ind) + [
        f"{ind}g[P, m] += v_lp", f"{ind}g[P + 1, m] += v_cp"] + bwd)
    ind_e = " " * 16
    load_eval = [f"{ind_e}x{d} = X[j, {d}]" for d in range(D)] + [f"{ind_e}yv = Y[j]"]
    eval_body = "\n".join(load_eval + forward_lines(nm, acts, xs_train, ind_e) + _loss_lines(ind_e) + [
        f"{ind_e}acc[0, m] += v_lp", f"{ind_e}acc[1, m] += v_cp"])
    src += _TRAIN.replace("#BODY", train_body.lstrip()).replace("#EVAL", eval_body.lstrip())
    return src


_TRAIN = '''

@njit(inline="always", fastmath=FM, error_model="numpy")
def _step(w, g, s1, s2, keep, kind, lr, mu, b1, b2, eps, wd, c1, c2):
    """One optimiser step on a block (lanes with keep False are left as they are)."""
    lanes = keep.shape[0]
    for p in range(P):
        for m in range(lanes):
            gr = g[p, m] + wd * w[p, m]
            if kind == 0:
                upd = lr * gr
            elif kind == 1 or kind == 2:
                buf = mu * s1[p, m] + gr
                s1[p, m] = buf if keep[m] else s1[p, m]
                upd = lr * (gr + mu * buf if kind == 2 else buf)
            else:
                m1 = b1 * s1[p, m] + (DT(1.0) - b1) * gr
                v1 = b2 * s2[p, m] + (DT(1.0) - b2) * gr * gr
                s1[p, m] = m1 if keep[m] else s1[p, m]
                s2[p, m] = v1 if keep[m] else s2[p, m]
                upd = (lr / c1) * m1 / (math.sqrt(v1) / c2 + eps)
            w[p, m] = w[p, m] - upd if keep[m] else w[p, m]


@njit(cache=True, nogil=True, fastmath=FM, error_model="numpy")
def train_epoch(theta, s1, s2, X, Y, perms, pcg, mode, B, kind, hyper, t0, keep, loss_out, corr_out,
                lanes, blk0, blk1):
    """One epoch for the members of blocks blk0..blk1 (``lanes`` members each, a
    runtime value so that LLVM vectorises the lane loops instead of unrolling them), in
    place on theta (P, K) and the optimiser state.

    mode 0: points in order; 1: perms (K, n) given; 2: permutations drawn from pcg (K, 6).
    hyper = [lr, mu, b1, b2, eps, wd]; t0 = optimiser steps taken before this epoch.
    keep (K,) is updated: a member whose minibatch loss is not finite stops there.
    loss_out: mean minibatch loss (NaN once diverged); corr_out: points classified right.
    """
    K = theta.shape[1]
    n = X.shape[0]
    nb = (n + B - 1) // B
    lr, mu, b1, b2, eps, wd = (DT(hyper[0]), DT(hyper[1]), DT(hyper[2]), DT(hyper[3]),
                               DT(hyper[4]), DT(hyper[5]))
    for blk in range(blk0, blk1):
        k0 = blk * lanes
        w = np.zeros((P, LANES), DT)
        g = np.zeros((P + 2, LANES), DT)
        m1 = np.zeros((P, LANES), DT)
        m2 = np.zeros((P, LANES), DT)
        xy = np.empty((n, D + 1, LANES), DT)
        kp = np.zeros(lanes, np.bool_)
        lsum = np.zeros(LANES)
        csum = np.zeros(LANES)
        order = np.empty(n, np.int64)
        for m in range(lanes):
            k = min(k0 + m, K - 1)
            kp[m] = keep[k] and k0 + m < K
            for p in range(P):
                w[p, m] = theta[p, k]
                if kind != 0:
                    m1[p, m] = s1[p, k]
                if kind == 3:
                    m2[p, m] = s2[p, k]
            if mode == 2 and k0 + m < K:
                _permute(pcg[k, 0:4], pcg[k, 4:6], order)
            elif mode == 1:
                order[:] = perms[k]
            else:
                for j in range(n):
                    order[j] = j
            for j in range(n):
                r = order[j]
                for d in range(D):
                    xy[j, d, m] = X[r, d]
                xy[j, D, m] = Y[r]
        for bi in range(nb):
            start = bi * B
            stop = min(start + B, n)
            inv = DT(1.0 / (stop - start))
            g[:] = 0
            for j in range(start, stop):
                for m in range(lanes):
                    #BODY
            t = t0 + bi + 1
            c1 = DT(1.0 - hyper[2] ** t)
            c2 = DT((1.0 - hyper[3] ** t) ** 0.5)
            for m in range(lanes):
                lb = np.float64(g[P, m]) * (1.0 / (stop - start))
                if kp[m] and not np.isfinite(lb):
                    kp[m] = False
                lsum[m] += lb if kp[m] else np.nan
                csum[m] += g[P + 1, m]
            _step(w, g, m1, m2, kp, kind, lr, mu, b1, b2, eps, wd, c1, c2)
        for m in range(lanes):
            k = k0 + m
            if k < K:
                for p in range(P):
                    theta[p, k] = w[p, m]
                    if kind != 0:
                        s1[p, k] = m1[p, m]
                    if kind == 3:
                        s2[p, k] = m2[p, m]
                keep[k] = kp[m]
                loss_out[k] = lsum[m] / nb
                corr_out[k] = csum[m]


@njit(cache=True, nogil=True, fastmath=FM, error_model="numpy")
def evaluate(theta, X, Y, loss_out, acc_out, lanes, blk0, blk1):
    """Mean loss and accuracy of the members of blocks blk0..blk1 (theta (P, K)) on shared
    data X (N, D)."""
    K = theta.shape[1]
    n = X.shape[0]
    for blk in range(blk0, blk1):
        k0 = blk * lanes
        w = np.zeros((P, LANES), DT)
        acc = np.zeros((2, LANES), DT)
        for m in range(lanes):
            k = min(k0 + m, K - 1)
            for p in range(P):
                w[p, m] = theta[p, k]
        for j in range(n):
            for m in range(lanes):
                #EVAL
        for m in range(lanes):
            if k0 + m < K:
                loss_out[k0 + m] = np.float64(acc[0, m]) / n
                acc_out[k0 + m] = np.float64(acc[1, m]) / n
'''
