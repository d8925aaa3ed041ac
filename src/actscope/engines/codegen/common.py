"""What the numba and CUDA kernel generators share: the parameter layout, the optimiser
codes, and the unrolled forward and backward body, written through a ``Dialect``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

# per hidden layer: ((f, params), (f', params)), the activation's scalar expressions
Acts = Sequence[tuple[tuple[str, dict], tuple[str, dict]]]

OPT_KINDS = {"sgd": 0, "momentum": 1, "nesterov": 2, "adam": 3}  # the kernels' optimiser codes


class UnsupportedActivation(ValueError):
    """The activation has no scalar expression the kernels can compile."""


class ParamLayout:
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
    activation's scalar expression (``expr(src, params, z, a)``): ``numba_source.PYTHON``
    and ``cuda_source.dialect(ctype)``."""

    weight: Callable[[int], str]
    assign: Callable[[str, str], str]
    grad_add: Callable[[int, str], str]
    expr: Callable[..., str]


def sum_expr(terms: list[str], chains: int = 1) -> str:
    """``terms`` added up: one chain left to right, or ``chains`` chains side by side, each
    in parentheses (a long chain of multiply-adds waits on each step's latency; two halves
    run at once). One chain is the plain ``a + b + c``."""
    if chains <= 1 or len(terms) < 2 * chains:
        return " + ".join(terms)
    edges = [round(i * len(terms) / chains) for i in range(chains + 1)]
    return " + ".join(f"({' + '.join(terms[a:b])})" for a, b in zip(edges[:-1], edges[1:]))


def forward_lines(nm: ParamLayout, acts: Acts, inputs: list[str], indent: str,
                  dialect: Dialect, chains: int = 1) -> list[str]:
    """Straight-line forward pass; leaves the output logit in ``v_s`` (sums in ``chains``
    chains: ``sum_expr``)."""
    w, assign = dialect.weight, dialect.assign
    lines = []
    prev = inputs
    L = len(nm.sizes) - 1
    for layer in range(L):
        fo = nm.sizes[layer + 1]
        outs = []
        for o in range(fo):
            terms = [w(nm.b(layer, o))] + [f"{x} * {w(nm.w(layer, i, o))}" for i, x in enumerate(prev)]
            zname = f"z{layer}_{o}" if layer < L - 1 else "v_s"
            lines.append(f"{indent}{assign(zname, sum_expr(terms, chains))}")
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


def backward_lines(nm: ParamLayout, acts: Acts, inputs: list[str], indent: str,
                   dialect: Dialect, chains: int = 1) -> list[str]:
    """Gradient of the mean loss (delta already divided by the batch size), added into g
    (sums in ``chains`` chains: ``sum_expr``)."""
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
                terms = sum_expr([f"{d} * {w(nm.w(layer, i, o))}" for o, d in enumerate(delta)], chains)
                zi, ai = f"z{layer - 1}_{i}", f"a{layer - 1}_{i}"
                gexpr = dialect.expr(grad[0], grad[1], zi, ai)
                lines.append(f"{indent}{assign(f'dd{layer - 1}_{i}', f'({terms}) * ({gexpr})')}")
                new.append(f"dd{layer - 1}_{i}")
            delta = new
    return lines


__all__ = ["OPT_KINDS", "Acts", "Dialect", "ParamLayout", "UnsupportedActivation", "backward_lines",
           "forward_lines", "sum_expr"]
