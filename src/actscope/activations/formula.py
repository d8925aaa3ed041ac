"""Activations written as formulas in ``x``, parsed safely and differentiated exactly.

A formula such as ``"x * tanh(log(1 + exp(x)))"`` is parsed with Python's ``ast`` (which
never runs code) and every node is checked against a whitelist: numbers, ``x``, ``pi``,
``e``, ``+ - * / **`` and the functions in ``FUNCTIONS``. The
tree becomes a sympy expression and its derivative comes from ``sympy.diff``; both are
printed in the scalar language every activation is written in, so a formula gets NumPy
and torch callables and kernel source exactly as a built-in does (and trains on the
compiled engines). No ``eval`` anywhere.

``log(1 + exp(u))`` is rewritten to the stable ``softplus(u)`` and ``1 / (1 + exp(-u))``
to ``sigmoid(u)``, so large inputs give finite values and gradients.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable

import numpy as np
import sympy

from actscope.activations._define import compile_expression, second_moment_gain
from actscope.activations._expr import ExprError
from actscope.activations._registry import FAMILIES, Activation, is_builtin, lookup, register_user
from actscope.activations._sympy_print import sigmoid, softplus, to_scalar
from actscope.errors import InputError, shown

MAX_LENGTH = 500
MAX_NODES = 300
X = sympy.Symbol("x", real=True)


# name in a formula -> (sympy function, number of arguments; None = two or more)
FUNCTIONS: dict[str, tuple[Callable, int | None]] = {
    "exp": (sympy.exp, 1), "log": (sympy.log, 1), "sqrt": (sympy.sqrt, 1),
    "abs": (sympy.Abs, 1), "sign": (sympy.sign, 1),
    "sin": (sympy.sin, 1), "cos": (sympy.cos, 1), "tan": (sympy.tan, 1),
    "asin": (sympy.asin, 1), "acos": (sympy.acos, 1), "atan": (sympy.atan, 1),
    "sinh": (sympy.sinh, 1), "cosh": (sympy.cosh, 1), "tanh": (sympy.tanh, 1),
    "asinh": (sympy.asinh, 1), "erf": (sympy.erf, 1), "erfc": (sympy.erfc, 1),
    "softplus": (softplus, 1), "sigmoid": (sigmoid, 1),
    "max": (sympy.Max, None), "min": (sympy.Min, None),
}
CONSTANTS = {"pi": sympy.pi, "e": sympy.E}
_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.Pow: operator.pow}


class FormulaError(InputError):
    """A formula that cannot be used; the message shows where."""


def _where(text: str, col: int | None) -> str:
    """``formula '...', column N (...‸...)``: the caret before character ``col`` (0-based);
    a long formula is shown as a window around the caret."""
    if col is None:
        return f"formula {shown(text)}"
    col = max(0, min(col, len(text)))
    left, right = text[max(0, col - 30):col], text[col:col + 30]
    left = ("…" if col > 30 else "") + left
    right += "…" if col + 30 < len(text) else ""
    return f"formula {shown(text)}, column {col + 1} ({left}‸{right})"


def _char_col(text: str, node: ast.AST, end: bool = False) -> int:
    """The character column of ``node`` (its end with ``end``) in ``text``, whose stripped
    form was parsed: ast offsets count UTF-8 bytes of that form, from its first character."""
    lead = len(text) - len(text.lstrip())
    raw = text.lstrip().encode("utf-8")[: getattr(node, "end_col_offset" if end else "col_offset", 0) or 0]
    return lead + len(raw.decode("utf-8", errors="ignore"))


def _op_col(text: str, node: ast.BinOp, symbol: str) -> int:
    """The column of a binary operator's symbol (not of its left operand)."""
    start = _char_col(text, node.left, end=True)
    found = text.find(symbol, start)
    return found if found >= 0 else _char_col(text, node)


def _num(value, text: str, node) -> sympy.Expr:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FormulaError(f"{_where(text, _char_col(text, node))}: only real numbers are allowed")
    if not np.isfinite(value) or abs(value) > 1e15:
        raise FormulaError(f"{_where(text, _char_col(text, node))}: number {value!r} is too large "
                           "(at most 1e15)")
    return sympy.Integer(value) if isinstance(value, int) else sympy.Float(value)


def _pow(a: sympy.Expr, b: sympy.Expr, text: str, node) -> sympy.Expr:
    if a.is_number and b.is_number:
        # fold numbers as floats, so 9 ** 9 ** 9 cannot build a gigantic integer
        try:
            v = float(a) ** float(b)
        except (OverflowError, ZeroDivisionError, TypeError, ValueError):
            v = float("nan")
        if isinstance(v, complex) or not np.isfinite(v):
            raise FormulaError(f"{_where(text, _char_col(text, node))}: the constant power is "
                               "not a finite real number")
        return sympy.Float(v)
    return a**b


def _to_sympy(node: ast.AST, text: str) -> sympy.Expr:
    col = _char_col(text, node)
    if isinstance(node, ast.Expression):
        return _to_sympy(node.body, text)
    if isinstance(node, ast.Constant):
        return _num(node.value, text, node)
    if isinstance(node, ast.Name):
        if node.id == "x":
            return X
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        hint = " (a function needs parentheses)" if node.id in FUNCTIONS else ""
        raise FormulaError(f"{_where(text, col)}: unknown name {node.id!r}{hint}; the variable is "
                           f"x, the constants pi and e")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        v = _to_sympy(node.operand, text)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitXor):
        where = _where(text, _op_col(text, node, "^"))
        raise FormulaError(f"{where}: '^' is not allowed; write powers with **")
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        a, b = _to_sympy(node.left, text), _to_sympy(node.right, text)
        if isinstance(node.op, ast.Pow):
            return _pow(a, b, text, node)
        if isinstance(node.op, ast.Div) and b.is_number and b == 0:
            raise FormulaError(f"{_where(text, _op_col(text, node, '/'))}: division by zero")
        return _BINOPS[type(node.op)](a, b)
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            name = node.func.id if isinstance(node.func, ast.Name) else ast.dump(node.func)[:20]
            raise FormulaError(f"{_where(text, col)}: unknown function {name!r}; allowed: "
                               f"{', '.join(sorted(FUNCTIONS))}")
        fn, arity = FUNCTIONS[node.func.id]
        if node.keywords:
            raise FormulaError(f"{_where(text, col)}: {node.func.id}() takes no keyword arguments")
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise FormulaError(f"{_where(text, col)}: * arguments are not allowed")
        n = len(node.args)
        if (arity is None and n < 2) or (arity is not None and n != arity):
            want = "two or more arguments" if arity is None else f"{arity} argument"
            raise FormulaError(f"{_where(text, col)}: {node.func.id}() takes {want}, got {n}")
        return fn(*(_to_sympy(a, text) for a in node.args))
    kind = type(getattr(node, "op", node)).__name__
    raise FormulaError(f"{_where(text, col)}: {kind} is not allowed; use numbers, x, pi, e, "
                       "+ - * / ** and functions")


_W = sympy.Wild("w")


def _stabilise(expr: sympy.Expr) -> sympy.Expr:
    """Rewrite log(1 + exp(u)) -> softplus(u) and 1 / (1 + exp(-u)) -> sigmoid(u)."""
    expr = expr.replace(sympy.log(1 + sympy.exp(_W)), softplus(_W))
    return expr.replace(1 / (1 + sympy.exp(-_W)), sigmoid(_W))


def parse_formula(text: str) -> sympy.Expr:
    """The sympy expression of a formula in ``x``; FormulaError (an InputError) if invalid."""
    if not isinstance(text, str):
        raise FormulaError(f"formula {text!r}: must be a string")
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"formula of {len(text)} characters: at most {MAX_LENGTH}")
    if not text.strip():
        raise FormulaError("formula '': empty; write an expression in x, e.g. x * tanh(x)")
    if "\n" in text or "\r" in text:
        raise FormulaError(f"{_where(text, None)}: must be one line")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as err:
        col = (err.offset or 1) - 1 + (len(text) - len(text.lstrip()))
        raise FormulaError(f"{_where(text, col)}: syntax error ({err.msg})") from None
    except (ValueError, RecursionError, MemoryError):
        raise FormulaError(f"{_where(text, None)}: cannot be parsed") from None
    n_nodes = sum(1 for _ in ast.walk(tree))
    if n_nodes > MAX_NODES:
        raise FormulaError(f"{_where(text, None)}: too complex ({n_nodes} nodes, at most {MAX_NODES})")
    offset = len(text) - len(text.lstrip())
    try:
        expr = _to_sympy(tree, " " * offset + text.strip())
    except FormulaError:
        raise
    except (RecursionError, MemoryError, OverflowError, TypeError, ValueError, ZeroDivisionError) as err:
        raise FormulaError(f"{_where(text, None)}: cannot be built ({type(err).__name__})") from None
    if not isinstance(expr, sympy.Expr) or expr.has(sympy.zoo, sympy.nan, sympy.I):
        raise FormulaError(f"{_where(text, None)}: is not a finite real expression")
    return _stabilise(expr)


# Compilation: through the scalar language, as every activation ---------------------------

def scalar_text(expr: sympy.Expr, text: str = "") -> str:
    """``expr`` as scalar-language text in ``z`` (FormulaError if it has no scalar form)."""
    try:
        return to_scalar(expr, X)
    except (ExprError, TypeError, ValueError, OverflowError) as err:
        raise FormulaError(f"{_where(text or sympy.sstr(expr), None)}: cannot be compiled ({err})") from None


def compile_numpy(expr: sympy.Expr) -> Callable[[np.ndarray], np.ndarray]:
    """A NumPy function of ``z`` (any shape) computing ``expr``."""
    return compile_expression(scalar_text(expr), "0.0").fn


def compile_torch(expr: sympy.Expr) -> Callable:
    """A torch function of a tensor computing ``expr`` (torch imported on first call)."""
    return compile_expression(scalar_text(expr), "0.0").torch_fn


# Activations from formulas --------------------------------------------------------------

_GRID = np.linspace(-6.0, 6.0, 241)
_WIDE = np.concatenate([-np.logspace(3, -3, 61), [0.0], np.logspace(-3, 3, 61)])


def _estimate_range(fn) -> tuple[float, float]:
    with np.errstate(all="ignore"):
        v = fn(_WIDE)
        v100 = fn(np.array([-100.0, 100.0]))
    v = np.where(np.isfinite(v), v, np.nan)
    lo, hi = float(np.nanmin(v)), float(np.nanmax(v))
    ends = [v[0], v[-1]]
    for i, end in enumerate(ends):
        moving = abs(end - v100[i]) > 1e-6 * (1 + abs(end))
        if moving and end == lo:
            lo = -np.inf
        if moving and end == hi:
            hi = np.inf
    return round(lo, 6) if np.isfinite(lo) else lo, round(hi, 6) if np.isfinite(hi) else hi


def formula_activation(name: str, text: str, family: str | None = None,
                       gain: float | None = None) -> Activation:
    """An Activation (not registered) computing the formula ``text``."""
    expr = parse_formula(text)
    try:
        dexpr = sympy.diff(expr, X)
    except Exception:  # noqa: BLE001 - sympy may fail in many ways on odd input
        raise FormulaError(f"{_where(text, None)}: cannot be differentiated") from None
    if dexpr.has(sympy.Derivative, sympy.Subs, sympy.zoo, sympy.nan):
        raise FormulaError(f"{_where(text, None)}: has no usable derivative")
    try:
        c = compile_expression(scalar_text(expr, text), scalar_text(dexpr, text))
    except ExprError as err:  # e.g. a derivative too large to compile
        raise FormulaError(f"{_where(text, None)}: cannot be compiled ({err})") from None
    fn, grad = c.fn, c.grad
    with np.errstate(all="ignore"):
        try:
            v, g = np.asarray(fn(_GRID.copy()), dtype=float), np.asarray(grad(_GRID.copy()), dtype=float)
        except (TypeError, ValueError, FloatingPointError) as err:
            raise FormulaError(f"{_where(text, None)}: cannot be evaluated ({err})") from None
    for what, arr in (("its value", v), ("its derivative", g)):
        bad = ~np.isfinite(arr)
        if bad.any():
            raise FormulaError(f"{_where(text, None)}: {what} is not finite at x = {_GRID[bad][0]:g} "
                               "(an activation must be defined on -6 <= x <= 6)")
    fam = family or "smooth"
    if fam not in FAMILIES:
        raise FormulaError(f"family = {fam!r}: allowed: {', '.join(FAMILIES)}")
    return Activation(
        name, fn, grad, fam, gain=second_moment_gain(fn) if gain is None else float(gain),
        range=_estimate_range(fn), description=f"f(x) = {sympy.sstr(expr)}",
        torch_fn=c.torch_fn, torch_grad=c.torch_grad, scalar=c.scalar,
    )


def inline_activation(key: str) -> Activation:
    """The activation of an inline formula ``"f(x) = <formula>"`` (named by that string)."""
    head, sep, body = key.partition("=")
    if not sep or head.replace(" ", "") != "f(x)":
        raise FormulaError(f"activation {key!r}: an inline formula is written 'f(x) = <formula in x>'")
    return formula_activation(f"f(x) = {body.strip()}", body.strip())


_USER_FORMULAS: dict[str, tuple] = {}


def register_formula(name: str, text: str, family: str | None = None,
                     gain: float | None = None) -> Activation:
    """Register ``name`` as the activation of formula ``text`` (re-defining a formula is allowed,
    replacing a built-in is not)."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name or ""):
        raise InputError(f"activations.{name}: a name is letters, digits and _ (not starting with a digit)")
    key = (text, family, gain)
    if is_builtin(name):
        raise InputError(f"activations.{name}: {name!r} is a built-in activation; choose another name")
    if _USER_FORMULAS.get(name) == key and (known := lookup(name)) is not None:
        return known
    act = formula_activation(name, text, family, gain)
    _USER_FORMULAS[name] = key
    return register_user(act)


__all__ = ["FUNCTIONS", "FormulaError", "compile_numpy", "compile_torch", "formula_activation",
           "inline_activation", "parse_formula", "register_formula", "scalar_text"]
