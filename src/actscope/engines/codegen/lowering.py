"""Scalar-language functions the kernels have no instruction for, written in ones they have.

Activations are written once in the scalar language of ``actscope.activations``; both
kernel generators first expand ``softplus``, ``expm1``, ``ndtr``, ``sign`` and ``clip``
here (the numba kernels' vector math has exp and log1p, not these), then translate the rest.
"""

from __future__ import annotations

import ast
import copy
from functools import cache

EXPANSIONS = {
    "softplus": "max(u, 0.0) + log1p(exp(-abs(u)))",
    "expm1": "exp(u) - 1.0",
    "ndtr": "0.5 * erfc(-u * 0.7071067811865476)",
    "sign": "1.0 if u > 0.0 else (-1.0 if u < 0.0 else 0.0)",
    "clip": "min(max(u, v), w)",
}


@cache
def _template(name: str) -> ast.expr:
    return ast.parse(EXPANSIONS[name], mode="eval").body


class _Expand(ast.NodeTransformer):
    def visit_Call(self, node):
        self.generic_visit(node)  # arguments first: nested expansions
        f = node.func
        if isinstance(f, ast.Name) and f.id in EXPANSIONS and not node.keywords:
            args = dict(zip("uvw", node.args))

            class _Put(ast.NodeTransformer):
                def visit_Name(self, n):
                    return copy.deepcopy(args[n.id]) if n.id in args else n

            return _Put().visit(copy.deepcopy(_template(f.id)))
        return node


def lower(src: str) -> ast.Expression:
    """The tree of scalar expression ``src`` with ``EXPANSIONS`` applied (SyntaxError if
    ``src`` is not an expression)."""
    return _Expand().visit(ast.parse(src, mode="eval"))


__all__ = ["EXPANSIONS", "lower"]
