"""Source of the fast engine's *generic* numba kernels: one module per dtype for every
architecture and activation, so that a new architecture or activation compiles nothing.

Widths and depth are run-time arguments (``sizes``), and each hidden layer's activation is
a code: below ``len(TABLE)`` a built-in of the compiled table, with its parameters (alpha,
slope, beta) as run-time values; from ``len(TABLE)`` on, a register program
(``numba_program``: any scalar expression, formulas included) run by the module's
interpreter. Codes and parameters come per *group* and each block of LANES members names
its group, and the learning rate comes per member, so that one call trains many
activations and rates (``engines.mixed``). Members are laid out last (a block of ``LANES``
members runs in the innermost loop: one SIMD register holds one unit of LANES members), and
a minibatch's values are unit-major, ``(units, points, LANES)``: each layer is one call
over all the minibatch's points, register-blocked (``numba_layers``), and each activation
one loop over the layer's contiguous block (erf, erfc, sin and cos in the prelude's
vectorisable forms, in the table and in programs). The module is written once, cached on disk by numba and
loaded in well under a second afterwards (``fast_engine``).
"""

from __future__ import annotations

from actscope.engines.codegen.common import UnsupportedActivation
from actscope.engines.codegen.numba_layers import layer_source
from actscope.engines.codegen.numba_pcg import PCG_SOURCE
from actscope.engines.codegen.numba_prelude import prelude, special_source
from actscope.engines.codegen.numba_program import interpreter_source
from actscope.engines.codegen.numba_source import scalar_expr

GENERIC_VERSION = 4
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
    """The if-chain over activation codes; each branch a loop over units and a row's
    points x lanes (a run-time count, so that LLVM's loop vectoriser takes it)."""
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
    src = "\n".join(out) + "\n"
    for f in ("erfc", "erf", "sin", "cos"):  # the prelude's vectorisable forms
        src = src.replace(f"math.{f}(", f"v{f}(")
    return src


def generic_source(exprs: dict[str, tuple[tuple[str, str], dict]], dtype: str, lanes: int) -> str:
    """The generic module for ``dtype``; ``exprs[name] = ((f, f'), params)`` for every
    name of ``TABLE`` (the registry's scalar expressions and default parameters)."""
    missing = [n for n in TABLE if n not in exprs]
    if missing:
        raise UnsupportedActivation(f"no scalar expressions for {missing}")
    # table size, register elements a program run, points a run of evaluate
    sizes = f"NT = {len(TABLE)}\nRCHUNK = 512\nEVAL_POINTS = 64\n"
    src = prelude(dtype, lanes, 0, 0) + special_source(dtype) + PCG_SOURCE + sizes + interpreter_source()
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
    \"\"\"Forward pass of points 0..nj (inputs in Hs[:D, :nj]), one call per layer over the
    minibatch, then its activation over the layer's block; the logits end in Zs[Z - 1].\"\"\"
    L = sizes.shape[0] - 1
    N = nj * LANES
    H2 = Hs.reshape((Hs.shape[0], Hs.shape[1] * LANES))
    Z2 = Zs.reshape((Zs.shape[0], Zs.shape[1] * LANES))
    for l in range(L):
        fo = sizes[l + 1]
        _fwd_layer(Hs, hoffs[l], w, woffs[l], sizes[l], fo, Zs, zoffs[l], nj)
        if l < L - 1:
            c = codes[l]
            if c < NT:
                _act(c, qs[l, 0], qs[l, 1], Z2, zoffs[l], H2, hoffs[l + 1], fo, N)
            else:
                _prog_block(2 * (c - NT), progs, consts, Z2, zoffs[l], H2, hoffs[l + 1], H2, 0, fo, N, 0, R)


@njit(inline="always", fastmath=FM, error_model="numpy")
def _deltas(w, Hs, Zs, Ds, nj, sizes, codes, qs, woffs, hoffs, zoffs, progs, consts, R):
    \"\"\"Each hidden unit's delta from the output's (in Ds[Z - 1]), layer by layer down, for
    points 0..nj, one call per layer over the minibatch.\"\"\"
    L = sizes.shape[0] - 1
    N = nj * LANES
    H2 = Hs.reshape((Hs.shape[0], Hs.shape[1] * LANES))
    Z2 = Zs.reshape((Zs.shape[0], Zs.shape[1] * LANES))
    D2 = Ds.reshape((Ds.shape[0], Ds.shape[1] * LANES))
    for l in range(L - 1, 0, -1):
        zo = zoffs[l - 1]
        _bwd_layer(Ds, zoffs[l], w, woffs[l], sizes[l], sizes[l + 1], zo, nj)
        c = codes[l - 1]
        if c < NT:
            _dact(c, qs[l - 1, 0], qs[l - 1, 1], Z2, zo, H2, hoffs[l], D2, zo, sizes[l], N)
        else:
            _prog_block(2 * (c - NT) + 1, progs, consts, Z2, zo, H2, hoffs[l], D2, zo, sizes[l], N, 1, R)


@njit(fastmath=FM, error_model="numpy", nogil=True)
def _loss_rows(z, y, yo, inv, d, tl, tc, N):
    \"\"\"For the first N logits z against labels y[yo:] (points x lanes, flat): the output's
    delta d = (sigmoid(z) - y) * inv, the loss tl and correct (1/0) tc, stable; one loop
    over contiguous elements, vectorised.\"\"\"
    for e in range(N):
        s = z[e]
        yv = y[yo + e]
        x = vexp(-abs(s))
        r = DT(1.0) / (DT(1.0) + x)
        p = r if s >= DT(0.0) else x * r
        d[e] = (p - yv) * inv
        tl[e] = max(s, DT(0.0)) - s * yv + vlog1p(x)
        tc[e] = DT(1.0) if (s >= DT(0.0)) == (yv > DT(0.5)) else DT(0.0)


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
                xy[d, j, m] = X[r, d]
            xy[D, j, m] = Y[r]


@njit(cache=True, nogil=True, fastmath=FM, error_model="numpy")
def train_epoch(theta, s1, s2, X, Y, perms, pcg, mode, B, kind, hyper, t0, keep, loss_out, corr_out,
                sizes, codes, qs, progs, consts, bgroup, lrs, blk0, blk1):
    \"\"\"One epoch for the members of blocks blk0..blk1 (LANES members each), in place on
    theta (P, K) and the optimiser state; the arguments as the specialised kernels', with
    the architecture as ``sizes`` (L + 1,), each group's activation codes ``codes`` (G,
    L - 1) and parameters ``qs`` (G, L - 1, 2), the programs (``progs``, ``consts``), each
    block's group ``bgroup`` (empty: all group 0) and each member's rate ``lrs`` (K,)
    (hyper[0] is not read). Each minibatch runs forward and deltas point by point, then
    the gradient, each a call per layer over the minibatch's points.\"\"\"
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
        R = np.zeros((nr, max(RCHUNK, B * LANES)), DT)
        lr = np.zeros(LANES, DT)
        w = np.zeros((P, LANES), DT)
        g = np.zeros((P, LANES), DT)
        m1 = np.zeros((P, LANES), DT)
        m2 = np.zeros((P, LANES), DT)
        Hs = np.zeros((H, B, LANES), DT)
        Zs = np.zeros((Z, B, LANES), DT)
        Ds = np.zeros((Z, B, LANES), DT)
        xy = np.empty((D + 1, n, LANES), DT)
        tl = np.empty(B * LANES, DT)
        tc = np.empty(B * LANES, DT)
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
            for c in range(D):
                Hs[c, :nj] = xy[c, start:stop]
            _forward(w, Hs, Zs, nj, sizes, cg, qg, woffs, hoffs, zoffs, progs, consts, R)
            N = nj * LANES
            _loss_rows(Zs[Z - 1].reshape(B * LANES), xy[D].reshape(n * LANES), start * LANES, inv,
                       Ds[Z - 1].reshape(B * LANES), tl, tc, N)
            for j in range(nj):
                for m in range(LANES):
                    bl[m] += tl[j * LANES + m]
                    bc[m] += tc[j * LANES + m]
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
        R = np.zeros((nr, max(RCHUNK, EVAL_POINTS * LANES)), DT)
        w = np.zeros((P, LANES), DT)
        Hs = np.zeros((H, EVAL_POINTS, LANES), DT)
        Zs = np.zeros((Z, EVAL_POINTS, LANES), DT)
        acc = np.zeros((2, LANES), DT)
        yb = np.empty(EVAL_POINTS * LANES, DT)
        tl = np.empty(EVAL_POINTS * LANES, DT)
        tc = np.empty(EVAL_POINTS * LANES, DT)
        dd = np.empty(EVAL_POINTS * LANES, DT)
        for m in range(LANES):
            k = min(k0 + m, K - 1)
            for p in range(P):
                w[p, m] = theta[p, k]
        for j0 in range(0, n, EVAL_POINTS):
            nj = min(EVAL_POINTS, n - j0)
            for c in range(D):
                for j in range(nj):
                    for m in range(LANES):
                        Hs[c, j, m] = DT(X[j0 + j, c])
            for j in range(nj):
                for m in range(LANES):
                    yb[j * LANES + m] = DT(Y[j0 + j])
            _forward(w, Hs, Zs, nj, sizes, cg, qg, woffs, hoffs, zoffs, progs, consts, R)
            _loss_rows(Zs[Z - 1].reshape(EVAL_POINTS * LANES), yb, 0, DT(1.0), dd, tl, tc, nj * LANES)
            for j in range(nj):
                for m in range(LANES):
                    acc[0, m] += tl[j * LANES + m]
                    acc[1, m] += tc[j * LANES + m]
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
    R = np.zeros((_registers(progs), RCHUNK), DT)
    _prog_block(2 * (code - NT), progs, consts, z, 0, h, 0, h, 0, n, LANES, 0, R)
    if grad:
        _prog_block(2 * (code - NT) + 1, progs, consts, z, 0, h, 0, d, 0, n, LANES, 1, R)
"""


__all__ = ["GENERIC_VERSION", "N_PARAMS", "TABLE", "generic_source", "table_entry"]
