"""The generic kernels' layer loops: a layer's forward, backward and gradient reductions,
each over a whole minibatch in one call.

Blocks are unit-major, ``(units, points, LANES)``: a layer's inputs, outputs and deltas for
all the minibatch's points are contiguous. Each function is a function of its own in the
kernel module (compiled and vectorised alone: inlined into the big kernel, LLVM's SLP
vectoriser gives up), written lane by lane, one accumulator per lane in registers, and
*register-blocked*: the forward and backward sums hold VB inner units' weights in registers
through a loop over all the minibatch's points, so that each weight loaded serves every
point, and the gradient reductions run over 2 x 2 blocks of (inputs, outputs), so that each
value loaded serves two products. Tails (odd widths) run the same sums on smaller blocks.
"""

from __future__ import annotations

VB = 4  # inner units a pass of the forward and backward sums


def _lanes(template: str, lanes: int, indent: str) -> str:
    """``template`` once per lane (``@`` replaced by the lane), one statement a line: the
    straight-line form LLVM's SLP vectoriser packs into SIMD registers."""
    return "\n".join(indent + template.replace("@", str(m)) for m in range(lanes))


def _block(template: str, count: int, lanes: int, indent: str) -> str:
    """``template`` for each of ``count`` block members (``#`` replaced by the member), each
    once per lane."""
    return "\n".join(_lanes(template.replace("#", str(p)), lanes, indent) for p in range(count))


def _sums(name: str, doc: str, init: str, wrow: str, src: str, dst: str, lanes: int) -> str:
    """A layer sum over points: for each outer unit u, ``dst(u, j) = init + sum_v src(v, j)
    * w[wrow(v)]`` (``u``, ``v`` the outer and inner units, ``j`` the point), VB inner units
    a pass: their weights stay in registers while a long loop over the minibatch's points
    adds their products into dst (each weight loaded once serves every point)."""
    i1, i2, i3 = " " * 8, " " * 12, " " * 16

    def chunk(count: int) -> str:
        rows = "\n".join(f"{i2}r{k} = {wrow.replace('V', f'(v + {k})')}" for k in range(count))
        loads = _block("w#_@ = w[r#, @]", count, lanes, i2)
        terms = " + ".join(src.replace("V", f"(v + {k})") + f" * w{k}_@" for k in range(count))
        return f"""{rows}
{loads}
{i2}for j in range(nj):
{_lanes("a@ = " + dst, lanes, i3)}
{_lanes("a@ = a@ + " + terms, lanes, i3)}
{_lanes(dst + " = a@", lanes, i3)}"""

    return f"""

@njit(fastmath=FM, error_model="numpy", nogil=True)
def {name}:
    \"\"\"{doc}\"\"\"
    nb = nv - nv % {VB}
    for u in range(nu):
{_lanes("b@ = " + init, lanes, i1)}
{i1}for j in range(nj):
{_lanes(dst + " = b@", lanes, i2)}
{i1}for v in range(0, nb, {VB}):
{chunk(VB)}
{i1}for v in range(nb, nv):
{chunk(1)}
"""


def _grad_block(ni: int, no: int, lanes: int) -> str:
    """``_g{ni}{no}``: the W gradient rows of inputs i0..i1 x outputs o0..o1 in blocks of
    ni x no, each a sum over the minibatch's points."""
    i2, i3 = " " * 12, " " * 16
    acc = [(a, b) for a in range(ni) for b in range(no)]
    init = "\n".join(_lanes(f"c{a}{b}_@ = DT(0.0)", lanes, i2) for a, b in acc)
    loads = "\n".join([_lanes(f"h{a}_@ = Hs[ho + i + {a}, j, @]", lanes, i3) for a in range(ni)]
                      + [_lanes(f"d{b}_@ = Ds[do + o + {b}, j, @]", lanes, i3) for b in range(no)])
    fmas = "\n".join(_lanes(f"c{a}{b}_@ += h{a}_@ * d{b}_@", lanes, i3) for a, b in acc)
    store = "\n".join(_lanes(f"g[wo + (i + {a}) * fo + o + {b}, @] = c{a}{b}_@", lanes, i2) for a, b in acc)
    return f"""

@njit(fastmath=FM, error_model="numpy", nogil=True)
def _g{ni}{no}(Hs, ho, Ds, do, nj, g, wo, fo, i0, i1, o0, o1):
    \"\"\"W gradient rows of inputs i0..i1 x outputs o0..o1, {ni} x {no} at a time.\"\"\"
    for i in range(i0, i1, {ni}):
        for o in range(o0, o1, {no}):
{init}
            for j in range(nj):
{loads}
{fmas}
{store}
"""


def layer_source(lanes: int) -> str:
    """The source of ``_fwd_layer``, ``_bwd_layer`` and ``_grad_layer`` (and their block
    helpers) for ``lanes`` members per block; each takes a minibatch of ``nj`` points."""
    fwd = _sums("_fwd_layer(Hs, ho, w, wo, nv, nu, Zs, zo, nj)",
                "Zs[zo + o, j] = b[o] + sum_i Hs[ho + i, j] * W[i, o] for every output o\n"
                "    (u) and point j < nj (all lanes); inputs i are v.",
                "w[wo + nv * nu + u, @]", "wo + V * nu + u", "Hs[ho + V, j, @]", "Zs[zo + u, j, @]", lanes)
    bwd = _sums("_bwd_layer(Ds, do, w, wo, nu, nv, dr, nj)",
                "Ds[dr + i, j] = sum_o Ds[do + o, j] * W[i, o] for every input i (u) and point\n"
                "    j < nj (all lanes); outputs o are v.",
                "DT(0.0)", "wo + u * nv + V", "Ds[do + V, j, @]", "Ds[dr + u, j, @]", lanes)
    blocks = "".join(_grad_block(a, b, lanes) for a, b in ((2, 2), (2, 1), (1, 2), (1, 1)))
    ind2 = " " * 12
    return fwd + bwd + blocks + f"""

@njit(fastmath=FM, error_model="numpy", nogil=True)
def _grad_layer(Hs, ho, Ds, do, nj, g, wo, fi, fo):
    \"\"\"A layer's gradient rows: sums over the minibatch of Hs[ho + i, j] * Ds[do + o, j]
    (W, in 2 x 2 blocks and the odd row and column after) and of Ds[do + o, j] (b).\"\"\"
    for o in range(fo):
{_lanes("a@ = DT(0.0)", lanes, " " * 8)}
        for j in range(nj):
{_lanes("a@ += Ds[do + o, j, @]", lanes, ind2)}
{_lanes("g[wo + fi * fo + o, @] = a@", lanes, " " * 8)}
    fi2 = fi - fi % 2
    fo2 = fo - fo % 2
    _g22(Hs, ho, Ds, do, nj, g, wo, fo, 0, fi2, 0, fo2)
    _g21(Hs, ho, Ds, do, nj, g, wo, fo, 0, fi2, fo2, fo)
    _g12(Hs, ho, Ds, do, nj, g, wo, fo, fi2, fi, 0, fo2)
    _g11(Hs, ho, Ds, do, nj, g, wo, fo, fi2, fi, fo2, fo)
"""


__all__ = ["VB", "layer_source"]
