"""Between the two notations of an activation: scalar-language expressions in ``z`` and
formulas in ``x``.

A candidate is trained from its expression (``activations.compile_expression``, no sympy)
and exported as a formula (``[activations.NAME] formula = ...``, read by sympy). Both are
Python syntax, so the conversion is an ``ast`` rewrite: the variable's name, ``pi`` and
``e``, n-ary max/min, and the scalar language's functions a formula lacks (``log1p``,
``expm1``, ``ndtr``, ``clip``) written with those it has. Conditionals have no formula
form; the built-ins written with one have theirs in ``BUILTIN_FORMULAS``.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable

_SELU = (1.0507009873554805, 1.6732632423543772)

BUILTIN_FORMULAS: dict[str, str] = {
    "relu": "max(x, 0)",
    "leaky_relu": "max(x, 0.01 * x)",
    "elu": "max(x, 0) + exp(min(x, 0)) - 1",
    "selu": f"{_SELU[0]!r} * (max(x, 0) + {_SELU[1]!r} * (exp(min(x, 0)) - 1))",
    "silu": "x * sigmoid(x)",
    "gelu": "x * (1 + erf(x / sqrt(2))) / 2",
}
"""Formulas of the built-ins whose expressions use conditionals (or read better so)."""

_CONSTANTS = {"pi": math.pi, "e": math.e}


def _name(n: str) -> ast.Name:
    return ast.Name(n, ast.Load())


def _call(f: str, *args: ast.expr) -> ast.Call:
    return ast.Call(_name(f), list(args), [])


class _ToExpr(ast.NodeTransformer):
    def visit_Name(self, n: ast.Name) -> ast.expr:
        if n.id == "x":
            return _name("z")
        if n.id in _CONSTANTS:
            return ast.Constant(_CONSTANTS[n.id])
        if n.id == "z":
            raise ValueError("a formula is written in x; an expression in z")
        return n

    def visit_Call(self, n: ast.Call) -> ast.expr:
        args = [self.visit(a) for a in n.args]
        name = n.func.id if isinstance(n.func, ast.Name) else ""
        if name in ("max", "min") and len(args) > 2:
            out = args[0]
            for a in args[1:]:
                out = _call(name, out, a)
            return out
        n.args = args
        return n


def _ndtr(u: ast.expr) -> ast.expr:
    erf = _call("erf", ast.BinOp(u, ast.Div(), _call("sqrt", ast.Constant(2))))
    return ast.BinOp(ast.BinOp(ast.Constant(1), ast.Add(), erf), ast.Div(), ast.Constant(2))


_REWRITES: dict[str, Callable[..., ast.expr]] = {
    "log1p": lambda u: _call("log", ast.BinOp(ast.Constant(1), ast.Add(), u)),
    "expm1": lambda u: ast.BinOp(_call("exp", u), ast.Sub(), ast.Constant(1)),
    "ndtr": _ndtr,
    "clip": lambda u, lo, hi: _call("min", _call("max", u, lo), hi),
}


class _ToFormula(ast.NodeTransformer):
    def visit_Name(self, n: ast.Name) -> ast.expr:
        return _name("x") if n.id == "z" else n

    def visit_Call(self, n: ast.Call) -> ast.expr:
        args = [self.visit(a) for a in n.args]
        name = n.func.id if isinstance(n.func, ast.Name) else ""
        if name in _REWRITES:
            return _REWRITES[name](*args)
        n.args = args
        return n

    def visit_IfExp(self, n: ast.IfExp) -> ast.expr:
        raise ValueError("a conditional (a if test else b) has no formula form")

    def visit_Constant(self, n: ast.Constant) -> ast.expr:
        v = n.value
        return ast.Constant(int(v)) if isinstance(v, float) and v.is_integer() and abs(v) < 1e15 else n


def is_formula(text: str) -> bool:
    """Whether ``text`` is written in ``x`` (a formula) rather than ``z`` (an expression)."""
    names = {n.id for n in ast.walk(ast.parse(text.strip(), mode="eval")) if isinstance(n, ast.Name)}
    return "x" in names


def to_expr(formula: str) -> str:
    """The scalar-language expression (in ``z``) of a formula in ``x``.

    Parameters
    ----------
    formula : str
        E.g. ``"x / (1 + exp(-x))"``.

    Returns
    -------
    str
        E.g. ``"z / (1 + exp(-z))"`` (checked by ``compile_expression`` where it is used).
    """
    tree = _ToExpr().visit(ast.parse(formula.strip(), mode="eval"))
    return ast.unparse(ast.fix_missing_locations(tree))


def to_formula(expr: str) -> str:
    """The formula (in ``x``) of a scalar-language expression in ``z``.

    Parameters
    ----------
    expr : str
        E.g. ``"z * ndtr(z)"``.

    Returns
    -------
    str
        E.g. ``"x * ((1 + erf(x / sqrt(2))) / 2)"``.

    Raises
    ------
    ValueError
        If the expression uses a conditional (no formula form).
    """
    tree = _ToFormula().visit(ast.parse(expr.strip(), mode="eval"))
    return ast.unparse(ast.fix_missing_locations(tree))


__all__ = ["BUILTIN_FORMULAS", "is_formula", "to_expr", "to_formula"]
