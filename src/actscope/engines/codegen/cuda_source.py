"""Source of the gpu engine's CUDA kernels, generated for one architecture.

One thread trains one member for a whole epoch: its parameters and their gradients are
scalars in registers (every layer unrolled, sizes known), the ensemble is laid out
member-last (``theta[p * K + k]``, so a warp's loads of one parameter are coalesced), the
member's batch order is drawn in the thread by numpy's own PCG64 permutation (so the
batches are those of the NumPy engine) into shared memory, and the data points are read
through the cache. Nothing leaves the chip between the first batch and the last.

The same text compiles as C++ on the host (``#ifndef __CUDACC__``: a loop over members
instead of a grid), so the kernels' arithmetic is tested without a GPU.

This module builds text only; ``gpu_engine`` compiles and launches it.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

from actscope.engines.codegen.common import (
    OPT_KINDS,
    Dialect,
    ParamLayout,
    UnsupportedActivation,
    backward_lines,
    forward_lines,
)
from actscope.engines.codegen.lowering import lower

KERNEL_VERSION = 1

# (name, C type) of the kernels' arguments, in order; launchers build their calls from these
TRAIN_ARGS = [("theta", "T*"), ("s1", "T*"), ("s2", "T*"), ("X", "const T*"), ("Y", "const T*"),
              ("perms", "const int*"), ("pcg", "u64*"), ("mode", "int"), ("n", "int"), ("B", "int"),
              ("lr", "double"), ("mu", "double"), ("b1", "double"), ("b2", "double"),
              ("eps", "double"), ("wd", "double"), ("t0", "long long"), ("keep", "unsigned char*"),
              ("loss_out", "double*"), ("corr_out", "double*"), ("K", "long long"),
              ("ord", "unsigned*")]
EVAL_ARGS = [("theta", "const T*"), ("X", "const T*"), ("Y", "const T*"), ("n", "int"),
             ("loss_out", "double*"), ("acc_out", "double*"), ("K", "long long")]

# scalar-language functions -> libm (float: the f-suffixed forms); sigm is the prelude's
_LIBM = ("exp", "log", "log1p", "tanh", "sqrt", "erf", "erfc", "sin", "cos", "tan", "asin", "acos",
         "atan", "sinh", "cosh", "asinh")
_FUNCS = {"float": {**{f: f"{f}f" for f in _LIBM}, "abs": "fabsf", "min": "fminf", "max": "fmaxf",
                    "sigmoid": "sigm"},
          "double": {**{f: f for f in _LIBM}, "abs": "fabs", "min": "fmin", "max": "fmax",
                     "sigmoid": "sigm"}}
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_CMPOPS = {ast.Gt: ">", ast.Lt: "<", ast.GtE: ">=", ast.LtE: "<=", ast.Eq: "==", ast.NotEq: "!="}


def literal(x: float, ctype: str) -> str:
    """A C literal of the kernel's float type."""
    text = repr(float(x))
    if "inf" in text or "nan" in text:
        raise UnsupportedActivation(f"constant {x!r}")
    return f"{text}f" if ctype == "float" else text


class _ToC:
    """A Python scalar expression (an activation's ``scalar`` entry) as C."""

    def __init__(self, names: dict[str, str], params: dict, ctype: str):
        self.names, self.params, self.ctype = names, params, ctype
        self.funcs = _FUNCS[ctype]

    def __call__(self, node) -> str:
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            raise UnsupportedActivation(f"{type(node).__name__} in a scalar expression")
        return method(node)

    def _Expression(self, node):
        return self(node.body)

    def _Constant(self, node):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise UnsupportedActivation(f"constant {node.value!r}")
        return literal(node.value, self.ctype)

    def _Name(self, node):
        if node.id in self.names:
            return self.names[node.id]
        if node.id in self.params:
            return literal(self.params[node.id], self.ctype)
        raise UnsupportedActivation(f"name {node.id!r}")

    def _BinOp(self, node):
        left, right = self(node.left), self(node.right)
        if isinstance(node.op, ast.Pow):
            exp = node.right
            if isinstance(exp, ast.Constant) and isinstance(exp.value, int) and 1 <= exp.value <= 4:
                return "(" + " * ".join([f"({left})"] * exp.value) + ")"
            return f"{'powf' if self.ctype == 'float' else 'pow'}({left}, {right})"
        if type(node.op) not in _BINOPS:
            raise UnsupportedActivation(f"operator {type(node.op).__name__}")
        return f"({left} {_BINOPS[type(node.op)]} {right})"

    def _UnaryOp(self, node):
        if isinstance(node.op, ast.USub):
            return f"(-{self(node.operand)})"
        if isinstance(node.op, ast.UAdd):
            return self(node.operand)
        raise UnsupportedActivation(f"operator {type(node.op).__name__}")

    def _Compare(self, node):
        parts, left = [], self(node.left)
        for op, comp in zip(node.ops, node.comparators):
            if type(op) not in _CMPOPS:
                raise UnsupportedActivation(f"comparison {type(op).__name__}")
            right = self(comp)
            parts.append(f"({left} {_CMPOPS[type(op)]} {right})")
            left = right
        return parts[0] if len(parts) == 1 else "(" + " && ".join(parts) + ")"

    def _BoolOp(self, node):
        op = " && " if isinstance(node.op, ast.And) else " || "
        return "(" + op.join(self(v) for v in node.values) + ")"

    def _IfExp(self, node):
        return f"({self(node.test)} ? {self(node.body)} : {self(node.orelse)})"

    def _Call(self, node):
        f = node.func
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "math":
            name = f.attr
        elif isinstance(f, ast.Name):
            name = f.id
        else:
            raise UnsupportedActivation("call")
        if name not in self.funcs or node.keywords:
            raise UnsupportedActivation(f"function {name!r}")
        return f"{self.funcs[name]}({', '.join(self(a) for a in node.args)})"


def c_expr(src: str, params: dict, ctype: str, z: str, a: str = "") -> str:
    """``src`` (an activation's scalar expression in ``z`` and ``a``) as a C expression
    (functions without a C form expanded first, see ``lowering``)."""
    names = {"z": z, **({"a": a} if a else {})}
    return _ToC(names, dict(params), ctype)(lower(src))


def dialect(ctype: str) -> Dialect:
    """C for the unrolled bodies of ``model_source``: parameters and gradients are scalars."""
    return Dialect(weight=lambda p: f"w{p}", assign=lambda name, e: f"const T {name} = {e};",
                   grad_add=lambda p, e: f"g{p} += {e};",
                   expr=lambda src, params, z, a="": c_expr(src, params, ctype, z, a))


def _loss(ctype: str, ind: str) -> list[str]:
    """Stable binary cross-entropy of the logit v_s and label yv; v_p the probability."""
    f = _FUNCS[ctype]
    return [f"{ind}const T v_e = {f['exp']}(-{f['abs']}(v_s));",
            f"{ind}const T v_r = T(1) / (T(1) + v_e);",
            f"{ind}const T v_p = v_s >= T(0) ? v_r : v_e * v_r;",
            f"{ind}const T v_lp = {f['max']}(v_s, T(0)) - v_s * yv + {f['log1p']}(v_e);",
            f"{ind}const T v_cp = ((v_s >= T(0)) == (yv > T(0.5))) ? T(1) : T(0);"]


def _step(P: int, kind: int, ind: str) -> list[str]:
    """The optimiser's update of every parameter of a kept member (numpy's optim order)."""
    out = []
    for p in range(P):
        s = f"{p}LL * K + k"
        line = f"{ind}{{ const T gr = g{p} + wd * w{p}; "
        if kind == 0:
            line += f"w{p} = w{p} - lr * gr; }}"
        elif kind in (1, 2):
            upd = "gr + mu * buf" if kind == 2 else "buf"
            line += (f"const T buf = mu * s1[{s}] + gr; s1[{s}] = buf; "
                     f"w{p} = w{p} - lr * ({upd}); }}")
        else:
            line += (f"const T m1 = b1 * s1[{s}] + (T(1) - b1) * gr; "
                     f"const T v1 = b2 * s2[{s}] + (T(1) - b2) * gr * gr; "
                     f"s1[{s}] = m1; s2[{s}] = v1; "
                     f"w{p} = w{p} - (lr / c1) * m1 / (SQRT(v1) / c2 + eps); }}")
        out.append(line)
    return out


def _signature(args) -> str:
    return ", ".join(f"{ctype} {name}" for name, ctype in args)


def _call(args) -> str:
    return ", ".join(name for name, _ in args)


def model_source(sizes: Sequence[int], acts, dtype: str, optimizer: str, block: int = 64) -> str:
    """CUDA C (also host C++) with ``train_epoch_shared``, ``train_epoch_global`` and
    ``evaluate`` for a binary MLP of these sizes.

    ``acts[l] = ((f, params), (f', params))`` gives layer l's scalar expressions.
    """
    if sizes[-1] != 1:
        raise UnsupportedActivation("only binary outputs are compiled")
    if optimizer not in OPT_KINDS:
        raise UnsupportedActivation(f"optimizer {optimizer!r}")
    ctype = {"float32": "float", "float64": "double"}[dtype]
    nm, D = ParamLayout(sizes), sizes[0]
    xs = [f"x{d}" for d in range(D)]
    ind = " " * 12
    load = [f"{ind}const T x{d} = X[r * D + {d}];" for d in range(D)] + [f"{ind}const T yv = Y[r];"]
    c = dialect(ctype)
    body = (load + forward_lines(nm, acts, xs, ind, c) + _loss(ctype, ind)
            + [f"{ind}lb_ += v_lp;", f"{ind}cb_ += v_cp;"] + backward_lines(nm, acts, xs, ind, c))
    ind_e = " " * 8
    load_e = ([f"{ind_e}const T x{d} = X[j * D + {d}];" for d in range(D)]
              + [f"{ind_e}const T yv = Y[j];"])
    eval_body = (load_e + forward_lines(nm, acts, xs, ind_e, c) + _loss(ctype, ind_e)
                 + [f"{ind_e}ls += (double)v_lp;", f"{ind_e}cs += (double)v_cp;"])
    P = nm.P
    loads = "\n".join(f"    T w{p} = theta[{p}LL * K + k];" for p in range(P))
    stores = "\n".join(f"    theta[{p}LL * K + k] = w{p};" for p in range(P))
    cloads = "\n".join(f"    const T w{p} = theta[{p}LL * K + k];" for p in range(P))
    zero = "\n".join(f"        T g{p} = T(0);" for p in range(P))
    kind = OPT_KINDS[optimizer]
    return (_PRELUDE.replace("@T@", ctype).replace("@P@", str(P)).replace("@D@", str(D))
            .replace("@KIND@", str(kind)).replace("@BLOCK@", str(int(block)))
            .replace("@SQRT@", _FUNCS[ctype]["sqrt"]).replace("@EXP@", _FUNCS[ctype]["exp"])
            + _MEMBER.replace("#LOADS", loads).replace("#STORES", stores).replace("#ZERO", zero)
            .replace("#BODY", "\n".join(body)).replace("#STEP", "\n".join(_step(P, kind, " " * 12)))
            .replace("#CLOADS", cloads).replace("#EVAL", "\n".join(eval_body))
            + _ENTRIES.replace("#TSIG", _signature(TRAIN_ARGS)).replace("#TCALL", _call(TRAIN_ARGS))
            .replace("#ESIG", _signature(EVAL_ARGS)).replace("#ECALL", _call(EVAL_ARGS)))


_PRELUDE = r'''// actscope gpu engine kernels (generated; see actscope/engines/codegen/cuda_source.py)
#ifdef __CUDACC__
#define DEV __device__ __forceinline__
#else
#include <cmath>
#define DEV static inline
using std::isfinite;
static inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
    return (unsigned long long)(((unsigned __int128)a * b) >> 64);
}
#endif

typedef @T@ T;
typedef unsigned long long u64;
#define P @P@
#define D @D@
#define KIND @KIND@
#define BLOCK @BLOCK@
#define SQRT @SQRT@

DEV T sigm(T x) {
    const T e = @EXP@(x >= T(0) ? -x : x);
    const T r = T(1) / (T(1) + e);
    return x >= T(0) ? r : e * r;
}

// numpy's PCG64 (XSL-RR 128/64) and Generator.permutation, bit for bit
struct Pcg { u64 hi, lo, inc_hi, inc_lo, has, uint; };

DEV u64 pcg_next64(Pcg &s) {
    const u64 MULT_HI = 2549297995355413924ULL, MULT_LO = 4865540595714422341ULL;
    const u64 nlo = s.lo * MULT_LO;
    const u64 nhi = __umul64hi(s.lo, MULT_LO) + s.lo * MULT_HI + s.hi * MULT_LO;
    const u64 lo2 = nlo + s.inc_lo;
    s.hi = nhi + s.inc_hi + (lo2 < nlo ? 1ULL : 0ULL);
    s.lo = lo2;
    const u64 x = s.hi ^ s.lo;
    const unsigned rot = (unsigned)(s.hi >> 58);
    return (x >> rot) | (x << ((64u - rot) & 63u));
}

DEV u64 pcg_next32(Pcg &s) {
    if (s.has) { s.has = 0; return s.uint; }
    const u64 v = pcg_next64(s);
    s.has = 1;
    s.uint = v >> 32;
    return v & 0xFFFFFFFFULL;
}

DEV unsigned pcg_interval(Pcg &s, unsigned mx) {  // random_interval(max), max < 2**32
    u64 mask = mx;
    mask |= mask >> 1; mask |= mask >> 2; mask |= mask >> 4; mask |= mask >> 8; mask |= mask >> 16;
    u64 v = pcg_next32(s) & mask;
    while (v > mx) v = pcg_next32(s) & mask;
    return (unsigned)v;
}
'''

_MEMBER = r'''
// one member's epoch; its batch order lives at ord[j * os]
template <typename OT>
DEV void member_epoch(long long k, OT *ord, long long os, T *theta, T *s1, T *s2, const T *X,
                      const T *Y, const int *perms, u64 *pcg, int mode, int n, int B, double lr_,
                      double mu_, double b1_, double b2_, double eps_, double wd_, long long t0,
                      unsigned char *keep, double *loss_out, double *corr_out, long long K) {
#LOADS
    bool kp = keep[k] != 0;
    if (mode == 2) {
        Pcg s;
        s.hi = pcg[k * 6]; s.lo = pcg[k * 6 + 1]; s.inc_hi = pcg[k * 6 + 2];
        s.inc_lo = pcg[k * 6 + 3]; s.has = pcg[k * 6 + 4]; s.uint = pcg[k * 6 + 5];
        for (int i = 0; i < n; ++i) ord[i * os] = (OT)i;
        for (int i = n - 1; i > 0; --i) {
            const unsigned j = pcg_interval(s, (unsigned)i);
            const OT t = ord[i * os];
            ord[i * os] = ord[j * os];
            ord[j * os] = t;
        }
        pcg[k * 6] = s.hi; pcg[k * 6 + 1] = s.lo; pcg[k * 6 + 4] = s.has; pcg[k * 6 + 5] = s.uint;
    } else if (mode == 1) {
        for (int i = 0; i < n; ++i) ord[i * os] = (OT)perms[k * n + i];
    } else {
        for (int i = 0; i < n; ++i) ord[i * os] = (OT)i;
    }
    const T lr = (T)lr_, mu = (T)mu_, b1 = (T)b1_, b2 = (T)b2_, eps = (T)eps_, wd = (T)wd_;
    (void)mu; (void)b1; (void)b2; (void)eps;
    const int nb = (n + B - 1) / B;
    double lsum = 0.0, csum = 0.0;
    for (int bi = 0; bi < nb; ++bi) {
        const int start = bi * B;
        const int stop = start + B < n ? start + B : n;
        const T inv = (T)(1.0 / (stop - start));
#ZERO
        T lb_ = T(0), cb_ = T(0);
        for (int j = start; j < stop; ++j) {
            const int r = (int)ord[j * os];
#BODY
        }
        const double lb = (double)lb_ * (1.0 / (stop - start));
        if (kp && !isfinite(lb)) kp = false;
        lsum += kp ? lb : nan("");
        csum += (double)cb_;
        if (kp) {
            const long long t = t0 + bi + 1;
            const T c1 = (T)(1.0 - pow(b1_, (double)t));
            const T c2 = (T)sqrt(1.0 - pow(b2_, (double)t));
            (void)c1; (void)c2;
#STEP
        }
    }
#STORES
    keep[k] = kp ? 1 : 0;
    loss_out[k] = lsum / nb;
    corr_out[k] = csum;
}

// one member's mean loss and accuracy on shared data X (n, D)
DEV void member_eval(long long k, const T *theta, const T *X, const T *Y, int n,
                     double *loss_out, double *acc_out, long long K) {
#CLOADS
    double ls = 0.0, cs = 0.0;
    for (int j = 0; j < n; ++j) {
#EVAL
    }
    loss_out[k] = ls / n;
    acc_out[k] = cs / n;
}
'''

_ENTRIES = r'''
#ifdef __CUDACC__
// batch orders in shared memory: blockDim.x threads interleaved, n entries each
extern "C" __global__ void __launch_bounds__(BLOCK) train_epoch_shared(#TSIG) {
    extern __shared__ unsigned short sh_order[];
    const long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= K) return;
    member_epoch<unsigned short>(k, sh_order + threadIdx.x, blockDim.x, theta, s1, s2, X, Y, perms,
                                 pcg, mode, n, B, lr, mu, b1, b2, eps, wd, t0, keep, loss_out,
                                 corr_out, K);
}

// batch orders in global scratch ord (n, K), for data too large for shared memory
extern "C" __global__ void __launch_bounds__(BLOCK) train_epoch_global(#TSIG) {
    const long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= K) return;
    member_epoch<unsigned>(k, ord + k, K, theta, s1, s2, X, Y, perms, pcg, mode, n, B, lr, mu, b1,
                           b2, eps, wd, t0, keep, loss_out, corr_out, K);
}

extern "C" __global__ void __launch_bounds__(BLOCK) evaluate(#ESIG) {
    const long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= K) return;
    member_eval(k, theta, X, Y, n, loss_out, acc_out, K);
}
#else
// the host build (tests): the same arithmetic, one member after another
extern "C" void train_epoch_global(#TSIG) {
    for (long long k = 0; k < K; ++k)
        member_epoch<unsigned>(k, ord + k, K, theta, s1, s2, X, Y, perms, pcg, mode, n, B, lr, mu,
                               b1, b2, eps, wd, t0, keep, loss_out, corr_out, K);
}

extern "C" void evaluate(#ESIG) {
    for (long long k = 0; k < K; ++k) member_eval(k, theta, X, Y, n, loss_out, acc_out, K);
}
#endif
'''
