"""The derivative of a scalar expression, by the rules of each node (micrograd style).

``derivative`` walks the tree once: a number's derivative is 0, ``z``'s is 1, a sum's is
the sum of derivatives, a call's is the chain rule over the partials of its ``FUNCTIONS``
row. The constructors below simplify as they build (0 + x, 1 * x, a condition known from
an enclosing one), so the derivative of ``z if z > 0 else slope * z`` reads
``1.0 if z > 0.0 else slope``. ``in_terms_of_a`` writes f(z) inside f' as ``a``, the value
the engines already hold (sigmoid' becomes ``a * (1.0 - a)``).
"""

from __future__ import annotations

import ast
import copy
from typing import TypeGuard, cast

from actscope.activations._expr import (
    FUNCTIONS,
    ExprError,
    const,
    key,
    number,
    replace,
    substitute,
    template,
)

ZERO, ONE = 0.0, 1.0


def derivative(tree: ast.Expression) -> ast.Expression:
    """d/dz of a parsed expression in ``z`` (parameters are constants), simplified."""
    return ast.Expression(_d(tree.body))


def in_terms_of_a(grad: ast.Expression, f: ast.Expression) -> ast.Expression:
    """``grad`` with every copy of f's expression written ``a``."""
    if isinstance(f.body, ast.Name | ast.Constant) or number(f.body) is not None:
        return grad
    return replace(grad, f.body, ast.Name("a", ast.Load()))


def _d(node: ast.expr) -> ast.expr:
    if number(node) is not None:
        return const(ZERO)
    if isinstance(node, ast.Name):
        if node.id == "a":
            raise ExprError("a definition may not use 'a' (it is f(z) itself)")
        return const(ONE if node.id == "z" else ZERO)
    if isinstance(node, ast.UnaryOp):
        inner = _d(node.operand)
        return neg(inner) if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp):
        return _RULES[type(node.op)](node.left, node.right)
    if isinstance(node, ast.IfExp):
        return ifexp(node.test, _d(node.body), _d(node.orelse))
    if isinstance(node, ast.Call):
        args = node.args
        parts = [mul(substitute(template(p), dict(zip("uvw", args))), _d(x))
                 for p, x in zip(FUNCTIONS[cast(ast.Name, node.func).id].partials, args)]
        out = parts[0]
        for p in parts[1:]:
            out = add(out, p)
        return out
    raise ExprError(f"cannot differentiate {type(node).__name__}")


def _d_pow(u: ast.expr, v: ast.expr) -> ast.expr:
    c = number(v)
    if c is not None:  # c * u ** (c - 1) * u'
        k = c - 1
        k = int(k) if float(k).is_integer() and isinstance(c, int) else k
        return mul(mul(const(c), power(u, k)), _d(u))
    # u ** v * (v' * log(u) + v * u' / u)
    return mul(ast.BinOp(u, ast.Pow(), v),
               add(mul(_d(v), ast.Call(ast.Name("log", ast.Load()), [u], [])), div(mul(v, _d(u)), u)))


def _d_div(u: ast.expr, v: ast.expr) -> ast.expr:
    dv = _d(v)
    if number(dv) == 0:
        return div(_d(u), v)
    return sub(div(_d(u), v), div(mul(u, dv), mul(v, v)))


_RULES = {
    ast.Add: lambda u, v: add(_d(u), _d(v)),
    ast.Sub: lambda u, v: sub(_d(u), _d(v)),
    ast.Mult: lambda u, v: add(mul(_d(u), v), mul(u, _d(v))),
    ast.Div: _d_div,
    ast.Pow: _d_pow,
}


# Simplifying constructors -------------------------------------------------------------------

def _both(x, y):
    a, b = number(x), number(y)
    return (a, b) if a is not None and b is not None else None


def _is_neg(x: ast.expr) -> TypeGuard[ast.UnaryOp]:
    return isinstance(x, ast.UnaryOp) and isinstance(x.op, ast.USub) and number(x) is None


def add(x: ast.expr, y: ast.expr) -> ast.expr:
    if (ab := _both(x, y)) is not None:
        return const(ab[0] + ab[1])
    if number(x) == 0:
        return y
    if number(y) == 0:
        return x
    if _is_neg(x) and _is_neg(y):
        return neg(add(x.operand, y.operand))
    if _is_neg(y):
        return sub(x, y.operand)
    if isinstance(x, ast.IfExp) and isinstance(y, ast.IfExp) and key(x.test) == key(y.test):
        return ifexp(x.test, add(x.body, y.body), add(x.orelse, y.orelse))
    return ast.BinOp(x, ast.Add(), y)


def sub(x: ast.expr, y: ast.expr) -> ast.expr:
    if (ab := _both(x, y)) is not None:
        return const(ab[0] - ab[1])
    if number(y) == 0:
        return x
    if number(x) == 0:
        return neg(y)
    return ast.BinOp(x, ast.Sub(), y)


def mul(x: ast.expr, y: ast.expr) -> ast.expr:
    if (ab := _both(x, y)) is not None:
        return const(ab[0] * ab[1])
    for p, q in ((x, y), (y, x)):
        c = number(p)
        if c == 0:
            return const(ZERO)
        if c == 1:
            return q
        if c == -1:
            return neg(q)
    for p, left in ((y, True), (x, False)):
        if isinstance(p, ast.IfExp) and (number(p.body) == 0 or number(p.orelse) == 0):
            # x * (y if c else 0) -> (x * y if c else 0): the product is not computed
            # where it is not used, and the order of factors is kept
            q = x if left else y
            both = [(q, p.body), (q, p.orelse)] if left else [(p.body, q), (p.orelse, q)]
            return ifexp(p.test, mul(*both[0]), mul(*both[1]))
    return ast.BinOp(x, ast.Mult(), y)


def div(x: ast.expr, y: ast.expr) -> ast.expr:
    if number(x) == 0:
        return const(ZERO)
    if number(y) == 1:
        return x
    if (ab := _both(x, y)) is not None and ab[1] != 0:
        return const(ab[0] / ab[1])
    if isinstance(x, ast.BinOp) and isinstance(x.op, ast.Mult) and key(x.right) == key(y):
        return x.left  # (u * c) / c
    return ast.BinOp(x, ast.Div(), y)


def neg(x: ast.expr) -> ast.expr:
    c = number(x)
    if c is not None:
        return const(-c)
    if _is_neg(x):
        return x.operand
    return ast.UnaryOp(ast.USub(), x)


def power(x: ast.expr, k: float) -> ast.expr:
    if k == 0:
        return const(ONE)
    if k == 1:
        return x
    return ast.BinOp(x, ast.Pow(), ast.Constant(k) if k >= 0 else const(k))


def ifexp(test: ast.expr, body: ast.expr, orelse: ast.expr) -> ast.expr:
    body, orelse = assume(body, test, True), assume(orelse, test, False)
    if key(body) == key(orelse):
        return body
    return ast.IfExp(test, body, orelse)


_NEGATED = {ast.Gt: ast.LtE, ast.LtE: ast.Gt, ast.Lt: ast.GtE, ast.GtE: ast.Lt,
            ast.Eq: ast.NotEq, ast.NotEq: ast.Eq}


def _negation(test: ast.expr) -> str | None:
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and type(test.ops[0]) in _NEGATED:
        return key(ast.Compare(test.left, [_NEGATED[type(test.ops[0])]()], test.comparators))
    return None


def assume(node: ast.expr, test: ast.expr, truth: bool) -> ast.expr:
    """``node`` with the conditionals decided by ``test`` being ``truth`` resolved."""
    yes, no = key(test), _negation(test)

    class _Assume(ast.NodeTransformer):
        def visit_IfExp(self, n):
            k = key(n.test)
            if k in (yes, no):
                return self.visit(n.body if (k == yes) == truth else n.orelse)
            return self.generic_visit(n)

    if not any(isinstance(n, ast.IfExp) and key(n.test) in (yes, no) for n in ast.walk(node)):
        return node
    return _Assume().visit(copy.deepcopy(node))  # subtrees are shared with f: never edit them


__all__ = ["add", "assume", "derivative", "div", "ifexp", "in_terms_of_a", "mul", "neg", "power", "sub"]
