"""sympy expressions written in the scalar language, so formulas take the built-ins' path.

A formula is parsed and differentiated by sympy; ``to_scalar`` prints the expression and
its derivative as scalar-language text (``x`` becomes ``z``), from which NumPy, torch and
the kernels are derived exactly as for a built-in. ``softplus`` and ``sigmoid`` are the
two stable functions sympy lacks.
"""

from __future__ import annotations

import ast

import sympy

from actscope.activations._calculus import add, div, ifexp, mul, neg, sub
from actscope.activations._expr import ExprError, call, const, unparse


class softplus(sympy.Function):  # noqa: N801 - sympy function names are lower case
    """log(1 + exp(u)), evaluated stably."""

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0])

    def _eval_is_real(self):  # real and positive for real u: Abs() of it stays real
        return self.args[0].is_real

    _eval_is_positive = _eval_is_real


class sigmoid(sympy.Function):  # noqa: N801
    """1 / (1 + exp(-u)), evaluated stably."""

    def fdiff(self, argindex=1):
        s = sigmoid(self.args[0])
        return s * (1 - s)

    def _eval_is_real(self):  # real and positive for real u: Abs() of it stays real
        return self.args[0].is_real

    _eval_is_positive = _eval_is_real


_CALLS = {sympy.exp: "exp", sympy.log: "log", sympy.sin: "sin", sympy.cos: "cos", sympy.tan: "tan",
          sympy.asin: "asin", sympy.acos: "acos", sympy.atan: "atan", sympy.sinh: "sinh",
          sympy.cosh: "cosh", sympy.tanh: "tanh", sympy.asinh: "asinh", sympy.erf: "erf",
          sympy.erfc: "erfc", sympy.Abs: "abs", sympy.sign: "sign", softplus: "softplus",
          sigmoid: "sigmoid"}
_RELATIONS = {sympy.StrictGreaterThan: ast.Gt, sympy.StrictLessThan: ast.Lt,
              sympy.GreaterThan: ast.GtE, sympy.LessThan: ast.LtE, sympy.Equality: ast.Eq,
              sympy.Unequality: ast.NotEq}


def to_scalar(expr: sympy.Expr, x: sympy.Symbol) -> str:
    """``expr`` (in ``x``) as scalar-language text in ``z``; ExprError if it has a part
    the language cannot write."""
    return unparse(ast.Expression(_node(expr, x)))


def _node(e: sympy.Basic, x: sympy.Symbol) -> ast.expr:
    if e == x:
        return ast.Name("z", ast.Load())
    if e.is_Number or e.is_NumberSymbol:
        return const(float(e))
    if e.is_Add:
        return _sum(e, x)
    if e.is_Mul:
        return _product(e, x)
    if e.is_Pow:
        return _power(e.base, e.exp, x)
    args = [_node(a, x) for a in e.args]
    if e.func in _CALLS:
        return call(_CALLS[e.func], *args)
    if e.func in (sympy.Max, sympy.Min):
        out = args[0]
        for a in args[1:]:
            out = call("max" if e.func is sympy.Max else "min", out, a)
        return out
    if isinstance(e, sympy.Heaviside):  # H(0) = 1/2 unless given
        h0 = const(float(e.args[1])) if len(e.args) > 1 else const(0.5)
        return ifexp(_compare(args[0], ast.Gt), const(1.0),
                     ifexp(_compare(args[0], ast.Eq), h0, const(0.0)))
    if isinstance(e, sympy.DiracDelta):
        return const(0.0)
    if isinstance(e, sympy.Piecewise):
        return _piecewise(e, x)
    raise ExprError(f"{e.func.__name__} has no scalar form")


def _compare(u: ast.expr, op: type, v: ast.expr | None = None) -> ast.Compare:
    return ast.Compare(u, [op()], [v if v is not None else const(0.0)])


def _sum(e: sympy.Add, x) -> ast.expr:
    out = None
    for term in e.as_ordered_terms():
        minus = term.could_extract_minus_sign()
        node = _node(-term if minus else term, x)
        if out is None:
            out = neg(node) if minus else node
        else:
            out = sub(out, node) if minus else add(out, node)
    assert out is not None  # a sum has two terms or more
    return out


def _product(e: sympy.Mul, x) -> ast.expr:
    coeff, factors = e.as_coeff_mul()
    num, den = None, None
    for f in factors:
        if f.is_Pow and f.exp.is_number and f.exp.is_negative:
            part = _node(f.base ** -f.exp, x)
            den = part if den is None else mul(den, part)
        else:
            part = _node(f, x)
            num = part if num is None else mul(num, part)
    c = float(coeff)
    if num is None or abs(c) != 1:
        num = const(abs(c)) if num is None else mul(const(abs(c)), num)
    out = num if den is None else div(num, den)
    return neg(out) if c < 0 else out


def _power(base, ex, x) -> ast.expr:
    if base == sympy.E:
        return call("exp", _node(ex, x))
    b = _node(base, x)
    if ex == sympy.Rational(1, 2):
        return call("sqrt", b)
    if ex == -sympy.Rational(1, 2):
        return div(const(1.0), call("sqrt", b))
    if ex.is_Integer:
        n = int(ex)
        return ast.BinOp(b, ast.Pow(), ast.Constant(n)) if n > 0 else div(
            const(1.0), b if n == -1 else ast.BinOp(b, ast.Pow(), ast.Constant(-n)))
    return ast.BinOp(b, ast.Pow(), _node(ex, x))


def _condition(c, x) -> ast.expr:
    if isinstance(c, sympy.And | sympy.Or):
        op = ast.And() if isinstance(c, sympy.And) else ast.Or()
        return ast.BoolOp(op, [_condition(a, x) for a in c.args])
    if type(c) in _RELATIONS:
        return _compare(_node(c.lhs, x), _RELATIONS[type(c)], _node(c.rhs, x))
    raise ExprError(f"condition {c} has no scalar form")


def _piecewise(e: sympy.Piecewise, x) -> ast.expr:
    *pieces, (last, cond) = e.args
    if cond is not sympy.true:
        raise ExprError("a piecewise expression without an otherwise branch has no scalar form")
    out = _node(last, x)
    for value, c in reversed(pieces):
        out = ast.IfExp(_condition(c, x), _node(value, x), out)
    return out


__all__ = ["sigmoid", "softplus", "to_scalar"]
