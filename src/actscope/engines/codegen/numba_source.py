"""Source of the fast engine's numba kernels, generated for one architecture.

The ensemble is laid out member-last: ``theta[p, k]`` is parameter ``p`` of member ``k``.
A kernel takes a block of ``LANES`` members at a time and runs a straight-line body
(every layer unrolled, sizes known) inside ``for m in range(LANES)``, so LLVM turns each
scalar of the body into one SIMD register holding that value for LANES members. The
module head (vector math) is ``numba_prelude``, the batch orders ``numba_pcg``, the body
``common``; activations come in as scalar expressions, lowered by ``lowering``.

This module builds text only; ``fast_engine`` writes it to a cache folder and imports it.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

from actscope.engines.codegen.common import (
    OPT_KINDS,
    Acts,
    Dialect,
    ParamLayout,
    UnsupportedActivation,
    backward_lines,
    forward_lines,
)
from actscope.engines.codegen.lowering import lower
from actscope.engines.codegen.numba_pcg import PCG_SOURCE
from actscope.engines.codegen.numba_prelude import prelude

KERNEL_VERSION = 5  # 5: batch orders drawn with the PCG state in registers (numba_pcg)
# a layer's sums as this many multiply-add chains side by side. Two measured about 10 %
# faster (one long chain waits on each step's latency), but change where an overflowing
# member first turns non-finite: NumPy's matmul adds in one chain, and a member diverging
# then marks the same epoch on both engines (tests/test_fast_engine.py)
CHAINS = 1

# scalar-language functions -> the kernel's: vector math where written, else numba's math
_FUNCS = {"exp": "vexp", "log": "vlog", "log1p": "vlog1p", "tanh": "vtanh", "sigmoid": "vsigmoid",
          "sqrt": "math.sqrt", "abs": "abs", "min": "min", "max": "max",
          **{f: f"math.{f}" for f in ("erf", "erfc", "sin", "cos", "tan", "asin", "acos", "atan",
                                      "sinh", "cosh", "asinh")}}


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


def scalar_expr(src: str, params: dict, z: str, a: str = "", renames: dict | None = None) -> str:
    """``src`` with ``z``/``a`` renamed, constants typed DT and functions vectorisable;
    ``renames`` maps further names (run-time activation parameters) to kernel names."""
    names = {"z": z, **({"a": a} if a else {}), **(renames or {})}
    return ast.unparse(_Rewrite(names, dict(params)).visit(lower(src)))


PYTHON = Dialect(weight=lambda p: f"w[{p}, m]", assign=lambda name, e: f"{name} = {e}",
                 grad_add=lambda p, e: f"g[{p}, m] += {e}", expr=scalar_expr)


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


def model_source(sizes: Sequence[int], acts: Acts, dtype: str, lanes: int, chains: int = CHAINS) -> str:
    """A module with ``train_epoch`` and ``evaluate`` for a binary MLP of these sizes.

    ``acts[l] = ((f, params), (f', params))`` gives layer l's scalar expressions; each
    layer's sums run in ``chains`` chains side by side (``common.sum_expr``).
    """
    if sizes[-1] != 1:
        raise UnsupportedActivation("only binary outputs are compiled")
    nm = ParamLayout(sizes)
    src = prelude(dtype, lanes, nm.P, sizes[0]) + PCG_SOURCE
    D = sizes[0]
    ind = " " * 20
    xs_train = [f"x{d}" for d in range(D)]
    load_train = [f"{ind}x{d} = xy[j, {d}, m]" for d in range(D)] + [f"{ind}yv = xy[j, {D}, m]"]
    fwd_train = forward_lines(nm, acts, xs_train, ind, PYTHON, chains)
    bwd = backward_lines(nm, acts, xs_train, ind, PYTHON, chains)
    # the loss value and correctness after the gradient (nothing in it waits on them: the
    # core meets the backward pass's chain of dependences sooner; ~10 % faster measured
    # with CHAINS = 2, no difference measurable with one chain)
    loss = _loss_lines(ind)
    train_body = "\n".join(load_train + fwd_train + loss[:3] + bwd + loss[3:] + [
        f"{ind}g[P, m] += v_lp", f"{ind}g[P + 1, m] += v_cp"])
    ind_e = " " * 16
    load_eval = [f"{ind_e}x{d} = X[j, {d}]" for d in range(D)] + [f"{ind_e}yv = Y[j]"]
    eval_body = "\n".join(load_eval + forward_lines(nm, acts, xs_train, ind_e, PYTHON, chains)
                          + _loss_lines(ind_e)
                          + [f"{ind_e}acc[0, m] += v_lp", f"{ind_e}acc[1, m] += v_cp"])
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


__all__ = ["KERNEL_VERSION", "OPT_KINDS", "PYTHON", "UnsupportedActivation", "model_source", "scalar_expr"]
