"""Source of the fast engine's *generic* numba kernels: one module per dtype for every
architecture and activation, so that a new architecture or activation compiles nothing.

Widths and depth are run-time arguments (``sizes``), and each hidden layer's activation is
a code: below ``len(TABLE)`` a built-in of the compiled table, with its parameters (alpha,
slope, beta) as run-time values; from ``len(TABLE)`` on, a register program
(``numba_program``: any scalar expression, formulas included) run by the module's
interpreter. Codes and parameters come per *group* and each block of LANES members names
its group, and the learning rate comes per member, so that one call trains many
activations and rates (``engines.mixed``). The members are still laid out member-last and a block of
``LANES`` members runs in the innermost loop of every layer loop (one SIMD register holds
one unit of LANES members); only the unrolling of the specialised kernels
(``numba_source``) is given up. The module is written once, cached on disk by numba and
loaded in well under a second afterwards (``fast_engine``).
"""

from __future__ import annotations

from actscope.engines.codegen.common import UnsupportedActivation
from actscope.engines.codegen.numba_layers import layer_source
from actscope.engines.codegen.numba_pcg import PCG_SOURCE
from actscope.engines.codegen.numba_prelude import prelude
from actscope.engines.codegen.numba_program import interpreter_source
from actscope.engines.codegen.numba_source import scalar_expr

GENERIC_VERSION = 3
# the built-ins the generic kernels carry compiled (registry names); others run as programs
TABLE = ("identity", "relu", "leaky_relu", "elu", "selu", "sigmoid", "tanh", "softplus", "softsign",
         "silu", "gelu", "gelu_tanh", "mish", "gaussian", "hard_sigmoid", "hard_tanh", "sine")
N_PARAMS = 2  # run-time activation parameters per layer (q0, q1)


def table_entry(scalar, params: dict, builtins: dict[str, tuple[tuple[str, str], dict]]):
    """(code, [q0, q1]) of an activation in ``TABLE`` (``builtins[name] = ((f, f'),
    params)``): the built-in with the same scalar expressions and parameter names, whatever
    the activation is called ("leaky_relu(0.3)", or a formula that is a built-in); None
    where the generic kernels do not carry it."""
    for code, name in enumerate(TABLE):
        exprs, defaults = builtins[name]
        if tuple(scalar) == tuple(exprs) and set(params) == set(defaults):
            q = [float(params[k]) for k in sorted(params)] + [0.0] * N_PARAMS
            return code, q[:N_PARAMS]
    return None


def _branches(exprs: dict[str, tuple[tuple[str, str], dict]], which: int) -> str:
    """The if-chain over activation codes; each branch a loop over units and lanes (a
    run-time lane count, so that LLVM's loop vectoriser takes it)."""
    out = []
    for code, name in enumerate(TABLE):
        (f, df), params = exprs[name]
        qnames = {k: f"q{i}" for i, k in enumerate(sorted(params))}
        if which == 0:
            body = f"h[ao + i, m] = {scalar_expr(f, {}, 'zz', renames=qnames)}"
        else:
            body = f"d[do + i, m] *= {scalar_expr(df, {}, 'zz', 'aa', renames=qnames)}"
        loads = "zz = z[zo + i, m]" + ("\n                aa = h[ao + i, m]" if which else "")
        out.append(f"""    {"if" if code == 0 else "elif"} code == {code}:
        for i in range(n):
            for m in range(lanes):
                {loads}
                {body}""")
    return "\n".join(out) + "\n"


def generic_source(exprs: dict[str, tuple[tuple[str, str], dict]], dtype: str, lanes: int) -> str:
    """The generic module for ``dtype``; ``exprs[name] = ((f, f'), params)`` for every
    name of ``TABLE`` (the registry's scalar expressions and default parameters)."""
    missing = [n for n in TABLE if n not in exprs]
    if missing:
        raise UnsupportedActivation(f"no scalar expressions for {missing}")
    sizes = f"NT = {len(TABLE)}\nPCHUNK = 8\nEVAL_POINTS = 64\n"  # table size, points a run
    src = prelude(dtype, lanes, 0, 0) + PCG_SOURCE + sizes + interpreter_source()
    act = _ACT_HEAD + _branches(exprs, 0)
    dact = _DACT_HEAD + _branches(exprs, 1)
    return src + act + dact + layer_source(lanes) + _GENERIC


_ACT_HEAD = """

@njit(fastmath=FM, error_model="numpy", nogil=True)
def _act(code, q0, q1, z, zo, h, ao, n, lanes):
    \"\"\"h[ao:ao+n] = f(z[zo:zo+n]) for the table's activation with this code.\"\"\"
"""

_DACT_HEAD = """

@njit(fastmath=FM, error_model="numpy", nogil=True)
def _dact(code, q0, q1, z, zo, h, ao, d, do, n, lanes):
    \"\"\"d[do:do+n] *= f'(z[zo:zo+n], h[ao:ao+n]) for the activation with this code.\"\"\"
"""

_GENERIC = """

@njit(cache=True, nogil=True)
def layout(sizes):
    \"\"\"(P, each layer's first W row in theta, its input's first row in h, its output's
    first row in z and d, rows of h, rows of z).\"\"\"
    L = sizes.shape[0] - 1
    woffs = np.zeros(L, np.int64)
    hoffs = np.zeros(L, np.int64)
    zoffs = np.zeros(L, np.int64)
    P = 0
    H = 0
    Z = 0
    for l in range(L):
        woffs[l] = P
        hoffs[l] = H
        zoffs[l] = Z
        P += sizes[l] * sizes[l + 1] + sizes[l + 1]
        H += sizes[l]
        Z += sizes[l + 1]
    return P, woffs, hoffs, zoffs, H, Z


@njit(inline="always")
def _registers(progs):
    \"\"\"The registers the programs need (z and a at least).\"\"\"
    nr = 2
    for p in range(progs.shape[0]):
        nr = max(nr, progs[p, 0, 2])
    return nr


@njit(inline="always", fastmath=FM, error_model="numpy")
def _forward(w, Hs, Zs, nj, sizes, codes, qs, woffs, hoffs, zoffs, progs, consts, R):
    \"\"\"Forward pass of points 0..nj (inputs in Hs[j, :D]) layer by layer; each logit
    ends in its z's last row. A table activation runs point by point, a program over all.\"\"\"
    L = sizes.shape[0] - 1
    for l in range(L):
        fi = sizes[l]
        fo = sizes[l + 1]
        for j in range(nj):
            _fwd_layer(Hs[j], hoffs[l], w, woffs[l], fi, fo, Zs[j], zoffs[l])
        if l < L - 1:
            c = codes[l]
            if c < NT:
                for j in range(nj):
                    _act(c, qs[l, 0], qs[l, 1], Zs[j], zoffs[l], Hs[j], hoffs[l + 1], fo, LANES)
            else:
                _prog_points(2 * (c - NT), progs, consts, Zs, zoffs[l], Hs, hoffs[l + 1], Hs, 0, fo, nj, 0, R)


@njit(inline="always", fastmath=FM, error_model="numpy")
def _deltas(w, Hs, Zs, Ds, nj, sizes, codes, qs, woffs, hoffs, zoffs, progs, consts, R):
    \"\"\"Each hidden unit's delta from the output's (in Ds[j]'s last row), layer by layer
    down, for points 0..nj.\"\"\"
    L = sizes.shape[0] - 1
    for l in range(L - 1, 0, -1):
        for j in range(nj):
            _bwd_layer(Ds[j], zoffs[l], w, woffs[l], sizes[l], sizes[l + 1], zoffs[l - 1])
        c = codes[l - 1]
        if c < NT:
            for j in range(nj):
                _dact(c, qs[l - 1, 0], qs[l - 1, 1], Zs[j], zoffs[l - 1], Hs[j], hoffs[l], Ds[j],
                      zoffs[l - 1], sizes[l], LANES)
        else:
            _prog_points(2 * (c - NT) + 1, progs, consts, Zs, zoffs[l - 1], Hs, hoffs[l], Ds, zoffs[l - 1],
                         sizes[l], nj, 1, R)


@njit(inline="always", fastmath=FM, error_model="numpy")
def _loss(s, yv):
    \"\"\"(sigmoid, loss, correct) of the logit s against the label yv, stable.\"\"\"
    e = vexp(-abs(s))
    r = DT(1.0) / (DT(1.0) + e)
    p = r if s >= DT(0.0) else e * r
    lp = max(s, DT(0.0)) - s * yv + vlog1p(e)
    cp = DT(1.0) if (s >= DT(0.0)) == (yv > DT(0.5)) else DT(0.0)
    return p, lp, cp


@njit(inline="always", fastmath=FM, error_model="numpy")
def _gradient(Hs, Ds, nj, g, sizes, woffs, hoffs, zoffs):
    \"\"\"The minibatch's gradient into g (rows of theta), from its points' h and deltas.\"\"\"
    L = sizes.shape[0] - 1
    for l in range(L):
        _grad_layer(Hs, hoffs[l], Ds, zoffs[l], nj, g, woffs[l], sizes[l], sizes[l + 1])


@njit(inline="always", fastmath=FM, error_model="numpy")
def _step(w, g, s1, s2, keep, kind, lr, mu, b1, b2, eps, wd, c1, c2, P, lanes):
    \"\"\"One optimiser step on a block, lane m at rate lr[m] (lanes with keep False are
    left as they are).\"\"\"
    for p in range(P):
        for m in range(lanes):
            gr = g[p, m] + wd * w[p, m]
            if kind == 0:
                upd = lr[m] * gr
            elif kind == 1 or kind == 2:
                buf = mu * s1[p, m] + gr
                s1[p, m] = buf if keep[m] else s1[p, m]
                upd = lr[m] * (gr + mu * buf if kind == 2 else buf)
            else:
                m1 = b1 * s1[p, m] + (DT(1.0) - b1) * gr
                v1 = b2 * s2[p, m] + (DT(1.0) - b2) * gr * gr
                s1[p, m] = m1 if keep[m] else s1[p, m]
                s2[p, m] = v1 if keep[m] else s2[p, m]
                upd = (lr[m] / c1) * m1 / (math.sqrt(v1) / c2 + eps)
            w[p, m] = w[p, m] - upd if keep[m] else w[p, m]


@njit(inline="always", nogil=True)
def _load_block(theta, s1, s2, X, Y, perms, pcg, mode, kind, keep, k0, w, m1, m2, xy, kp, order, lrs, lr):
    \"\"\"A block's parameters, optimiser state, keep flags, rates and ordered data, lane
    by lane.\"\"\"
    K = theta.shape[1]
    n = X.shape[0]
    D = X.shape[1]
    P = w.shape[0]
    for m in range(LANES):
        k = min(k0 + m, K - 1)
        kp[m] = keep[k] and k0 + m < K
        lr[m] = DT(lrs[k])
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


@njit(cache=True, nogil=True, fastmath=FM, error_model="numpy")
def train_epoch(theta, s1, s2, X, Y, perms, pcg, mode, B, kind, hyper, t0, keep, loss_out, corr_out,
                sizes, codes, qs, progs, consts, bgroup, lrs, blk0, blk1):
    \"\"\"One epoch for the members of blocks blk0..blk1 (LANES members each), in place on
    theta (P, K) and the optimiser state; the arguments as the specialised kernels', with
    the architecture as ``sizes`` (L + 1,), each group's activation codes ``codes`` (G,
    L - 1) and parameters ``qs`` (G, L - 1, 2), the programs (``progs``, ``consts``), each
    block's group ``bgroup`` (empty: all group 0) and each member's rate ``lrs`` (K,)
    (hyper[0] is not read). Each minibatch runs forward and deltas point by point, then
    the gradient row by row as sums over the minibatch.\"\"\"
    K = theta.shape[1]
    n = X.shape[0]
    D = sizes[0]
    P, woffs, hoffs, zoffs, H, Z = layout(sizes)
    nb = (n + B - 1) // B
    mu, b1, b2, eps, wd = DT(hyper[1]), DT(hyper[2]), DT(hyper[3]), DT(hyper[4]), DT(hyper[5])
    nr = _registers(progs)
    for blk in range(blk0, blk1):
        k0 = blk * LANES
        grp = bgroup[blk] if bgroup.shape[0] > 0 else 0
        cg = codes[grp]
        qg = qs[grp]
        R = np.zeros((nr, PCHUNK * Z * LANES), DT)
        lr = np.zeros(LANES, DT)
        w = np.zeros((P, LANES), DT)
        g = np.zeros((P, LANES), DT)
        m1 = np.zeros((P, LANES), DT)
        m2 = np.zeros((P, LANES), DT)
        Hs = np.zeros((B, H, LANES), DT)
        Zs = np.zeros((B, Z, LANES), DT)
        Ds = np.zeros((B, Z, LANES), DT)
        xy = np.empty((n, D + 1, LANES), DT)
        kp = np.zeros(LANES, np.bool_)
        lsum = np.zeros(LANES)
        csum = np.zeros(LANES)
        bl = np.zeros(LANES, DT)
        bc = np.zeros(LANES, DT)
        order = np.empty(n, np.int64)
        _load_block(theta, s1, s2, X, Y, perms, pcg, mode, kind, keep, k0, w, m1, m2, xy, kp, order, lrs, lr)
        for bi in range(nb):
            start = bi * B
            stop = min(start + B, n)
            nj = stop - start
            inv = DT(1.0 / nj)
            bl[:] = 0
            bc[:] = 0
            for j in range(nj):
                for c in range(D):
                    for m in range(LANES):
                        Hs[j, c, m] = xy[start + j, c, m]
            _forward(w, Hs, Zs, nj, sizes, cg, qg, woffs, hoffs, zoffs, progs, consts, R)
            for j in range(nj):
                for m in range(LANES):
                    yv = xy[start + j, D, m]
                    p, lp, cp = _loss(Zs[j, Z - 1, m], yv)
                    bl[m] += lp
                    bc[m] += cp
                    Ds[j, Z - 1, m] = (p - yv) * inv
            _deltas(w, Hs, Zs, Ds, nj, sizes, cg, qg, woffs, hoffs, zoffs, progs, consts, R)
            _gradient(Hs, Ds, nj, g, sizes, woffs, hoffs, zoffs)
            t = t0 + bi + 1
            c1 = DT(1.0 - hyper[2] ** t)
            c2 = DT((1.0 - hyper[3] ** t) ** 0.5)
            for m in range(LANES):
                lb = np.float64(bl[m]) * (1.0 / (stop - start))
                if kp[m] and not np.isfinite(lb):
                    kp[m] = False
                lsum[m] += lb if kp[m] else np.nan
                csum[m] += bc[m]
            _step(w, g, m1, m2, kp, kind, lr, mu, b1, b2, eps, wd, c1, c2, P, LANES)
        for m in range(LANES):
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
def evaluate(theta, X, Y, loss_out, acc_out, sizes, codes, qs, progs, consts, bgroup, blk0, blk1):
    \"\"\"Mean loss and accuracy of the members of blocks blk0..blk1 on shared data X (N, D)
    (the activations as ``train_epoch`` takes them).\"\"\"
    K = theta.shape[1]
    n = X.shape[0]
    D = sizes[0]
    P, woffs, hoffs, zoffs, H, Z = layout(sizes)
    nr = _registers(progs)
    for blk in range(blk0, blk1):
        k0 = blk * LANES
        grp = bgroup[blk] if bgroup.shape[0] > 0 else 0
        cg = codes[grp]
        qg = qs[grp]
        R = np.zeros((nr, PCHUNK * Z * LANES), DT)
        w = np.zeros((P, LANES), DT)
        Hs = np.zeros((EVAL_POINTS, H, LANES), DT)
        Zs = np.zeros((EVAL_POINTS, Z, LANES), DT)
        acc = np.zeros((2, LANES), DT)
        for m in range(LANES):
            k = min(k0 + m, K - 1)
            for p in range(P):
                w[p, m] = theta[p, k]
        for j0 in range(0, n, EVAL_POINTS):
            nj = min(EVAL_POINTS, n - j0)
            for j in range(nj):
                for c in range(D):
                    for m in range(LANES):
                        Hs[j, c, m] = DT(X[j0 + j, c])
            _forward(w, Hs, Zs, nj, sizes, cg, qg, woffs, hoffs, zoffs, progs, consts, R)
            for j in range(nj):
                for m in range(LANES):
                    p, lp, cp = _loss(Zs[j, Z - 1, m], DT(Y[j0 + j]))
                    acc[0, m] += lp
                    acc[1, m] += cp
        for m in range(LANES):
            if k0 + m < K:
                loss_out[k0 + m] = np.float64(acc[0, m]) / n
                acc_out[k0 + m] = np.float64(acc[1, m]) / n


@njit(cache=True, nogil=True, fastmath=FM, error_model="numpy")
def values(code, q, progs, consts, z, h, d, grad):
    \"\"\"h = f(z) and, with ``grad``, d = f'(z) (n, LANES) through the activation code's
    own path.\"\"\"
    n = z.shape[0]
    d[:] = DT(1.0)
    if code < NT:
        _act(code, q[0], q[1], z, 0, h, 0, n, LANES)
        if grad:
            _dact(code, q[0], q[1], z, 0, h, 0, d, 0, n, LANES)
        return
    Zs, Hs, Ds = z.reshape((1, n, LANES)), h.reshape((1, n, LANES)), d.reshape((1, n, LANES))
    R = np.zeros((_registers(progs), n * LANES), DT)
    _prog_points(2 * (code - NT), progs, consts, Zs, 0, Hs, 0, Hs, 0, n, 1, 0, R)
    if grad:
        _prog_points(2 * (code - NT) + 1, progs, consts, Zs, 0, Hs, 0, Ds, 0, n, 1, 1, R)
"""


__all__ = ["GENERIC_VERSION", "N_PARAMS", "TABLE", "generic_source", "table_entry"]
