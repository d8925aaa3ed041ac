"""The scalar language every activation is written in, once.

An activation is an expression in ``z`` (a hand-tuned derivative may also use ``a``, the
value f(z)): numbers, named parameters, ``+ - * / **``, comparisons, ``and``/``or``,
conditionals ``x if test else y`` and the functions of ``FUNCTIONS``. Text is parsed with
``ast`` (nothing is ever evaluated) and every node is checked against this whitelist.
The NumPy and torch callables (``_backends``), the derivative (``_calculus``) and the
kernels' source (``actscope.engines.codegen``) are all derived from the tree.

Each function's row holds its NumPy form, its torch form and its partial derivatives
(templates in ``u``, ``v``, ``w``), so adding a function is adding one row.
"""

from __future__ import annotations

import ast
import copy
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from scipy.special import erf, erfc, expit, ndtr


class ExprError(ValueError):
    """A scalar expression outside the language."""


@dataclass(frozen=True)
class Fn:
    """A function of the language: NumPy form, torch form (given the torch module), and
    its partial derivatives as expressions in its arguments ``u`` (``v``, ``w``)."""

    numpy: Callable
    torch: Callable[[Any], Callable]
    partials: tuple[str, ...]


def _tsoftplus(t):
    return lambda u: t.logaddexp(u, t.zeros_like(u))


def _tbinary(t, fn, clamp):
    """torch.maximum/minimum that also take a Python number on either side."""
    def f(u, v):
        if not hasattr(u, "dtype"):
            u, v = v, u
        return clamp(u, v) if not hasattr(v, "dtype") else fn(u, v)
    return f


_TWO_OVER_SQRT_PI = 1.1283791670955126
_INV_SQRT_2PI = 0.3989422804014327

FUNCTIONS: dict[str, Fn] = {
    "exp": Fn(np.exp, lambda t: t.exp, ("exp(u)",)),
    "expm1": Fn(np.expm1, lambda t: t.expm1, ("exp(u)",)),
    "log": Fn(np.log, lambda t: t.log, ("1.0 / u",)),
    "log1p": Fn(np.log1p, lambda t: t.log1p, ("1.0 / (1.0 + u)",)),
    "sqrt": Fn(np.sqrt, lambda t: t.sqrt, ("0.5 / sqrt(u)",)),
    "tanh": Fn(np.tanh, lambda t: t.tanh, ("1.0 - tanh(u) * tanh(u)",)),
    "sigmoid": Fn(expit, lambda t: t.sigmoid, ("sigmoid(u) * (1.0 - sigmoid(u))",)),
    "softplus": Fn(lambda u: np.logaddexp(0.0, u), _tsoftplus, ("sigmoid(u)",)),
    "erf": Fn(erf, lambda t: t.erf, (f"{_TWO_OVER_SQRT_PI!r} * exp(-u * u)",)),
    "erfc": Fn(erfc, lambda t: t.erfc, (f"-{_TWO_OVER_SQRT_PI!r} * exp(-u * u)",)),
    "ndtr": Fn(ndtr, lambda t: t.special.ndtr, (f"{_INV_SQRT_2PI!r} * exp(-0.5 * u * u)",)),
    "sin": Fn(np.sin, lambda t: t.sin, ("cos(u)",)),
    "cos": Fn(np.cos, lambda t: t.cos, ("-sin(u)",)),
    "tan": Fn(np.tan, lambda t: t.tan, ("1.0 + tan(u) * tan(u)",)),
    "asin": Fn(np.arcsin, lambda t: t.asin, ("1.0 / sqrt(1.0 - u * u)",)),
    "acos": Fn(np.arccos, lambda t: t.acos, ("-1.0 / sqrt(1.0 - u * u)",)),
    "atan": Fn(np.arctan, lambda t: t.atan, ("1.0 / (1.0 + u * u)",)),
    "sinh": Fn(np.sinh, lambda t: t.sinh, ("cosh(u)",)),
    "cosh": Fn(np.cosh, lambda t: t.cosh, ("sinh(u)",)),
    "asinh": Fn(np.arcsinh, lambda t: t.asinh, ("1.0 / sqrt(u * u + 1.0)",)),
    "abs": Fn(np.abs, lambda t: t.abs, ("sign(u)",)),
    "sign": Fn(np.sign, lambda t: t.sign, ("0.0",)),
    # at a tie the first argument's derivative is taken (elu's min(z, 0) is z's at 0)
    "max": Fn(np.maximum, lambda t: _tbinary(t, t.maximum, lambda u, c: t.clamp(u, min=c)),
              ("1.0 if u >= v else 0.0", "0.0 if u >= v else 1.0")),
    "min": Fn(np.minimum, lambda t: _tbinary(t, t.minimum, lambda u, c: t.clamp(u, max=c)),
              ("1.0 if u <= v else 0.0", "0.0 if u <= v else 1.0")),
    # clip(u, lo, hi): one pass in NumPy and torch; the derivative is 0 at the corners (as torch)
    "clip": Fn(np.clip, lambda t: t.clamp,
               ("1.0 if u > v and u < w else 0.0", "1.0 if u <= v else 0.0", "1.0 if u >= w else 0.0")),
}

BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)
COMPARISONS = (ast.Gt, ast.Lt, ast.GtE, ast.LtE, ast.Eq, ast.NotEq)
MAX_NODES = 5000


def parse(src: str, params: Iterable[str] = (), *, a: bool = False) -> ast.Expression:
    """The checked tree of ``src``; names are ``z``, ``params`` and (if ``a``) ``a``."""
    try:
        tree = ast.parse(src.strip(), mode="eval")
    except SyntaxError as err:
        raise ExprError(f"scalar expression {src!r}: syntax error ({err.msg})") from None
    except (ValueError, RecursionError, MemoryError):
        raise ExprError(f"scalar expression of {len(src)} characters cannot be parsed") from None
    names = {"z", *params, *(("a",) if a else ())}
    nodes = list(ast.walk(tree))
    if len(nodes) > MAX_NODES:
        raise ExprError(f"scalar expression of {len(nodes)} nodes: at most {MAX_NODES}")
    funcs = {id(n.func) for n in nodes if isinstance(n, ast.Call)}
    for node in nodes:
        problem = None if id(node) in funcs else _problem(node, names)
        if problem:
            raise ExprError(f"scalar expression {src!r}: {problem}")
    return tree


def _problem(node: ast.AST, names: set[str]) -> str | None:
    """Why ``node`` is outside the language (None if it is inside)."""
    if isinstance(node, ast.Expression | ast.IfExp | ast.BoolOp | ast.expr_context):
        return None
    if isinstance(node, (ast.And, ast.Or, ast.USub, ast.UAdd, *BINOPS, *COMPARISONS)):
        return None
    if isinstance(node, ast.BinOp | ast.UnaryOp | ast.Compare):
        return None  # their operators are checked as nodes of their own
    if isinstance(node, ast.Constant):
        v = node.value
        ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        return None if ok else f"constant {v!r} is not a finite real number"
    if isinstance(node, ast.Call):
        f = node.func
        if not isinstance(f, ast.Name) or f.id not in FUNCTIONS:
            return f"unknown function {ast.unparse(f)!r}"
        want = len(FUNCTIONS[f.id].partials)
        if node.keywords or len(node.args) != want:
            return f"{f.id}() takes {want} positional argument(s)"
        return None
    if isinstance(node, ast.Name):
        return None if node.id in names else f"unknown name {node.id!r}"
    return f"{type(node).__name__} is not allowed"


# Building and comparing trees --------------------------------------------------------------

def key(node: ast.AST) -> str:
    """A structural key: equal keys, equal expressions."""
    return ast.dump(node, annotate_fields=False)


def names_in(node: ast.AST) -> set[str]:
    """The variable names an expression reads (not its functions)."""
    calls = {id(n.func) for n in ast.walk(node) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and id(n) not in calls}


def number(node: ast.AST) -> float | None:
    """The value of a literal number (also ``-c``), else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) \
            and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = number(node.operand)
        return None if inner is None else -inner
    return None


def const(v: float) -> ast.expr:
    """A literal (a negative one as ``-c``, so every printer writes it alike)."""
    v = float(v)
    return ast.UnaryOp(ast.USub(), ast.Constant(-v)) if v < 0 else ast.Constant(v)


def call(name: str, *args: ast.expr) -> ast.Call:
    return ast.Call(ast.Name(name, ast.Load()), list(args), [])


def substitute(node: ast.expr, values: dict[str, ast.expr]) -> ast.expr:
    """A copy of ``node`` with the variables in ``values`` replaced by (copies of) trees."""
    class _Sub(ast.NodeTransformer):
        def visit_Call(self, n):
            n.args = [self.visit(x) for x in n.args]
            return n

        def visit_Name(self, n):
            return copy.deepcopy(values[n.id]) if n.id in values else n

    return _Sub().visit(copy.deepcopy(node))


def replace(node: ast.Expression, target: ast.expr, by: ast.expr) -> ast.Expression:
    """A copy of ``node`` with every subtree equal to ``target`` replaced by ``by``."""
    want = key(target)

    class _Rep(ast.NodeTransformer):
        def visit(self, n):
            if isinstance(n, ast.expr) and key(n) == want:
                return copy.deepcopy(by)
            return self.generic_visit(n)

    return _Rep().visit(copy.deepcopy(node))


@cache
def template(src: str) -> ast.expr:
    """A partial derivative's tree (in the arguments ``u``, ``v``, ``w``), parsed once."""
    return parse(src, ("u", "v", "w")).body


def unparse(tree: ast.AST) -> str:
    return ast.unparse(ast.fix_missing_locations(tree))


__all__ = ["FUNCTIONS", "ExprError", "Fn", "call", "const", "key", "names_in", "number", "parse",
           "replace", "substitute", "template", "unparse"]
