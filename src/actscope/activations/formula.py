"""Activations written as formulas in ``x``, parsed safely and differentiated exactly.

A formula such as ``"x * tanh(log(1 + exp(x)))"`` is parsed with Python's ``ast`` (which
never runs code) and every node is checked against a whitelist: numbers, ``x``, ``pi``,
``e``, ``+ - * / **`` and the functions in ``FUNCTIONS``. The
tree becomes a sympy expression, its derivative comes from ``sympy.diff``, and both are
compiled to NumPy and torch closures by walking the expression. No ``eval`` anywhere.

``log(1 + exp(u))`` is rewritten to the stable ``softplus(u)`` and ``1 / (1 + exp(-u))``
to ``sigmoid(u)``, so large inputs give finite values and gradients.
"""

from __future__ import annotations

import ast
import functools
import operator
from collections.abc import Callable

import numpy as np
import sympy
from scipy.special import erf, erfc, expit

from actscope.activations import (
    FAMILIES,
    USER_DEFINED,
    Activation,
    get_activation,
    list_activations,
    register,
    second_moment_gain,
)
from actscope.errors import InputError

MAX_LENGTH = 500
MAX_NODES = 300
X = sympy.Symbol("x", real=True)


class softplus(sympy.Function):  # noqa: N801 - sympy function names are lower case
    """log(1 + exp(u)), evaluated stably."""

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0])


class sigmoid(sympy.Function):  # noqa: N801
    """1 / (1 + exp(-u)), evaluated stably."""

    def fdiff(self, argindex=1):
        s = sigmoid(self.args[0])
        return s * (1 - s)


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
    if col is None:
        return f"formula {text!r}"
    col = max(0, min(col, len(text)))
    return f"formula {text!r}, column {col + 1} ({text[:col]}‸{text[col:]})"


def _char_col(text: str, node: ast.AST) -> int:
    """ast offsets count UTF-8 bytes; convert to characters."""
    raw = text.encode("utf-8")[: getattr(node, "col_offset", 0)]
    return len(raw.decode("utf-8", errors="ignore"))


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
        raise FormulaError(f"{_where(text, col)}: '^' is not allowed; write powers with **")
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        a, b = _to_sympy(node.left, text), _to_sympy(node.right, text)
        if isinstance(node.op, ast.Pow):
            return _pow(a, b, text, node)
        if isinstance(node.op, ast.Div) and b.is_number and b == 0:
            raise FormulaError(f"{_where(text, col)}: division by zero")
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
        expr = _to_sympy(tree, " " * offset + text.strip() if offset else text)
    except FormulaError:
        raise
    except (RecursionError, MemoryError, OverflowError, TypeError, ValueError, ZeroDivisionError) as err:
        raise FormulaError(f"{_where(text, None)}: cannot be built ({type(err).__name__})") from None
    if not isinstance(expr, sympy.Expr) or expr.has(sympy.zoo, sympy.nan, sympy.I):
        raise FormulaError(f"{_where(text, None)}: is not a finite real expression")
    return _stabilise(expr)


# Compilation: a closure per node, on NumPy or torch --------------------------------------

def _tmax(torch, a, b):
    if not hasattr(a, "dtype"):
        a, b = b, a
    return torch.clamp(a, min=b) if not hasattr(b, "dtype") else torch.maximum(a, b)


def _tmin(torch, a, b):
    if not hasattr(a, "dtype"):
        a, b = b, a
    return torch.clamp(a, max=b) if not hasattr(b, "dtype") else torch.minimum(a, b)


def _numpy_table() -> dict:
    return {
        sympy.exp: np.exp, sympy.log: np.log, sympy.sin: np.sin, sympy.cos: np.cos,
        sympy.tan: np.tan, sympy.asin: np.arcsin, sympy.acos: np.arccos, sympy.atan: np.arctan,
        sympy.sinh: np.sinh, sympy.cosh: np.cosh, sympy.tanh: np.tanh, sympy.asinh: np.arcsinh,
        sympy.erf: erf, sympy.erfc: erfc, sympy.Abs: np.abs, sympy.sign: np.sign,
        softplus: lambda a: np.logaddexp(0.0, a), sigmoid: expit,
        sympy.Heaviside: lambda a, *h: np.heaviside(a, 0.5),
        sympy.DiracDelta: lambda a, *k: np.zeros_like(a),
        sympy.Max: lambda *a: functools.reduce(np.maximum, a),
        sympy.Min: lambda *a: functools.reduce(np.minimum, a),
    }


def _torch_table() -> dict:
    import torch

    return {
        sympy.exp: torch.exp, sympy.log: torch.log, sympy.sin: torch.sin, sympy.cos: torch.cos,
        sympy.tan: torch.tan, sympy.asin: torch.asin, sympy.acos: torch.acos,
        sympy.atan: torch.atan, sympy.sinh: torch.sinh, sympy.cosh: torch.cosh,
        sympy.tanh: torch.tanh, sympy.asinh: torch.asinh, sympy.erf: torch.erf,
        sympy.erfc: torch.erfc, sympy.Abs: torch.abs, sympy.sign: torch.sign,
        softplus: lambda a: torch.logaddexp(a, torch.zeros_like(a)), sigmoid: torch.sigmoid,
        sympy.Heaviside: lambda a, *h: torch.heaviside(a, torch.full_like(a, 0.5)),
        sympy.DiracDelta: lambda a, *k: torch.zeros_like(a),
        sympy.Max: lambda *a: functools.reduce(lambda p, q: _tmax(torch, p, q), a),
        sympy.Min: lambda *a: functools.reduce(lambda p, q: _tmin(torch, p, q), a),
    }


def _const(expr: sympy.Expr) -> float:
    """A constant sub-expression, evaluated in float64 NumPy (never by sympy's evalf)."""
    fn = _compile_node(expr, _NUMPY)
    with np.errstate(all="ignore"):
        v = fn(np.zeros(1))
    return float(np.asarray(v).reshape(-1)[0])


def _compile_node(expr: sympy.Expr, table: dict) -> Callable:
    if expr == X:
        return lambda z: z
    if expr.is_Number or expr.is_NumberSymbol:
        c = float(expr)
        return lambda z: c
    if not expr.free_symbols and table is not _NUMPY:
        c = _const(expr)
        return lambda z: c
    args = [_compile_node(a, table) for a in expr.args]
    if expr.is_Add:
        return lambda z: functools.reduce(operator.add, (f(z) for f in args))
    if expr.is_Mul:
        return lambda z: functools.reduce(operator.mul, (f(z) for f in args))
    if expr.is_Pow:
        base, ex = args
        if expr.exp == -1:
            return lambda z: 1.0 / base(z)
        return lambda z: base(z) ** ex(z)
    fn = table.get(expr.func)
    if fn is None:
        raise FormulaError(f"formula: {expr.func.__name__} cannot be compiled")
    return lambda z: fn(*(f(z) for f in args))


_NUMPY = _numpy_table()


def compile_numpy(expr: sympy.Expr) -> Callable[[np.ndarray], np.ndarray]:
    """A NumPy function of ``z`` (any shape) computing ``expr``."""
    fn = _compile_node(expr, _NUMPY)

    def f(z):
        with np.errstate(over="ignore", under="ignore"):
            out = fn(z)
        return out if getattr(out, "shape", None) == np.shape(z) else np.zeros_like(z) + out
    return f


def compile_torch(expr: sympy.Expr) -> Callable:
    """A torch function of a tensor computing ``expr`` (torch imported on first call)."""
    state: dict = {}

    def f(z):
        if "fn" not in state:
            state["fn"] = _compile_node(expr, _torch_table())
        out = state["fn"](z)
        return out if hasattr(out, "shape") and out.shape == z.shape else z * 0 + out
    return f


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
    fn, grad = compile_numpy(expr), compile_numpy(dexpr)
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
        torch_fn=compile_torch(expr), torch_grad=compile_torch(dexpr),
    )


def inline_activation(key: str) -> Activation:
    """The activation of an inline formula ``"f(x) = <formula>"`` (named by that string)."""
    head, sep, body = key.partition("=")
    if not sep or head.replace(" ", "") != "f(x)":
        raise FormulaError(f"activation {key!r}: an inline formula is written 'f(x) = <formula in x>'")
    return formula_activation(f"f(x) = {body.strip()}", body)


_USER_FORMULAS: dict[str, tuple] = {}


def register_formula(name: str, text: str, family: str | None = None,
                     gain: float | None = None) -> Activation:
    """Register ``name`` as the activation of formula ``text`` (re-defining a formula is allowed,
    replacing a built-in is not)."""
    import re

    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name or ""):
        raise InputError(f"activations.{name}: a name is letters, digits and _ (not starting with a digit)")
    key = (text, family, gain)
    if name in list_activations() and name not in USER_DEFINED:
        raise InputError(f"activations.{name}: {name!r} is a built-in activation; choose another name")
    if _USER_FORMULAS.get(name) == key:
        return get_activation(name)
    act = formula_activation(name, text, family, gain)
    _USER_FORMULAS[name] = key
    USER_DEFINED.add(name)
    from actscope import activations

    activations._CACHE.pop(name, None)
    return register(act, overwrite=True)


__all__ = ["FUNCTIONS", "FormulaError", "compile_numpy", "compile_torch", "formula_activation",
           "inline_activation", "parse_formula", "register_formula"]
