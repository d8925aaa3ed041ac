"""The generic kernels' layer loops: a layer's forward, backward and gradient reductions.

Each is a function of its own in the kernel module (compiled and vectorised alone: inlined
into the big kernel, LLVM's SLP vectoriser gives up), written lane by lane, one accumulator
per lane in registers and only loads in its inner loop.
"""

from __future__ import annotations


def _lanes(template: str, lanes: int, indent: str) -> str:
    """``template`` once per lane (``@`` replaced by the lane), one statement a line: the
    straight-line form LLVM's SLP vectoriser packs into SIMD registers."""
    return "\n".join(indent + template.replace("@", str(m)) for m in range(lanes))


def layer_source(lanes: int) -> str:
    """The source of ``_fwd_layer``, ``_bwd_layer`` and ``_grad_layer`` for ``lanes``
    members per block."""
    ind, ind2, ind3 = " " * 8, " " * 12, " " * 16
    return f"""

@njit(fastmath=FM, error_model="numpy", nogil=True)
def _fwd_layer(h, ho, w, wo, fi, fo, z, zo):
    \"\"\"z[zo + o] = b[o] + sum_i h[ho + i] * W[i, o] for every output o (all lanes).\"\"\"
    for o in range(fo):
        r = wo + fi * fo + o
{_lanes("a@ = w[r, @]", lanes, ind)}
        for i in range(fi):
            r = wo + i * fo + o
            s = ho + i
{_lanes("a@ += h[s, @] * w[r, @]", lanes, ind2)}
{_lanes("z[zo + o, @] = a@", lanes, ind)}


@njit(fastmath=FM, error_model="numpy", nogil=True)
def _bwd_layer(d, do, w, wo, fi, fo, dr):
    \"\"\"d[dr + i] = sum_o d[do + o] * W[i, o] for every input i (all lanes).\"\"\"
    for i in range(fi):
{_lanes("a@ = DT(0.0)", lanes, ind)}
        for o in range(fo):
            r = wo + i * fo + o
            s = do + o
{_lanes("a@ += d[s, @] * w[r, @]", lanes, ind2)}
{_lanes("d[dr + i, @] = a@", lanes, ind)}


@njit(fastmath=FM, error_model="numpy", nogil=True)
def _grad_layer(Hs, ho, Ds, do, nj, g, wo, fi, fo):
    \"\"\"A layer's gradient rows: sums over the minibatch of Hs[j, ho + i] * Ds[j, do + o]
    (W) and of Ds[j, do + o] (b).\"\"\"
    for o in range(fo):
{_lanes("a@ = DT(0.0)", lanes, ind)}
        for j in range(nj):
{_lanes("a@ += Ds[j, do + o, @]", lanes, ind2)}
{_lanes("g[wo + fi * fo + o, @] = a@", lanes, ind)}
    for i in range(fi):
        for o in range(fo):
{_lanes("a@ = DT(0.0)", lanes, ind2)}
            for j in range(nj):
{_lanes("a@ += Hs[j, ho + i, @] * Ds[j, do + o, @]", lanes, ind3)}
{_lanes("g[wo + i * fo + o, @] = a@", lanes, ind2)}
"""


__all__ = ["layer_source"]
