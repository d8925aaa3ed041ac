"""Scalar expressions compiled to NumPy and torch callables: one compiler, two tables.

Each node becomes a closure; parameters are bound and constant subtrees folded when
compiling, and a subtree that occurs more than once (``tanh(softplus(z))`` in mish') is
computed once per call. A conditional evaluates both branches and selects elementwise
(``where``), so definitions guard their branches (elu writes ``expm1(min(z, 0.0))``).
"""

from __future__ import annotations

import ast
import functools
import operator
from collections import Counter
from collections.abc import Callable
from typing import Any, cast

import numpy as np

from actscope.activations._expr import FUNCTIONS, key, names_in, number

_ARITH = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
          ast.Div: operator.truediv, ast.Pow: operator.pow}
_CMP = {ast.Gt: operator.gt, ast.Lt: operator.lt, ast.GtE: operator.ge, ast.LtE: operator.le,
        ast.Eq: operator.eq, ast.NotEq: operator.ne}
Node = Callable[[dict], Any]  # env {"z": ..., "a": ..., memo...} -> value


class _Backend:
    """How one array library spells what the language needs; ``mask_times`` says whether
    ``c if test else 0`` may be computed as ``test * c`` (exact, and faster than a select)."""

    def __init__(self, funcs: dict[str, Callable], where: Callable, logical: dict, mask_times: bool):
        self.funcs, self.where, self.logical, self.mask_times = funcs, where, logical, mask_times


@functools.cache
def _numpy() -> _Backend:
    return _Backend({n: f.numpy for n, f in FUNCTIONS.items()},
                    lambda c, x, y, env: np.where(c, x, y),
                    {ast.And: np.logical_and, ast.Or: np.logical_or}, mask_times=True)


@functools.cache
def _torch() -> _Backend:
    import torch

    def where(c, x, y, env):
        z = env["z"]
        x, y = (v if hasattr(v, "dtype") else torch.as_tensor(v, dtype=z.dtype, device=z.device)
                for v in (x, y))
        return torch.where(c, x, y)

    # a bool tensor times a Python float is float32 in torch: no mask_times
    return _Backend({n: f.torch(torch) for n, f in FUNCTIONS.items()}, where,
                    {ast.And: torch.logical_and, ast.Or: torch.logical_or}, mask_times=False)


def _compile(node: ast.expr, b: _Backend, params: dict, shared: dict[int, str]) -> Node:
    """A closure computing ``node`` from an env; nodes in ``shared`` (id -> structural key)
    are memoised under their key, so equal subtrees are computed once per call."""
    fn = _build(node, b, params, shared)
    k = shared.get(id(node))
    if k is None:
        return fn

    def memo(env):
        if k not in env:
            env[k] = fn(env)
        return env[k]
    return memo


def _build(node: ast.expr, b: _Backend, params: dict, shared: dict[int, str]) -> Node:
    c = number(node)
    if c is not None:
        return lambda env: c
    if b is not _numpy() and not (names_in(node) & {"z", "a"}):
        v = _compile(node, _numpy(), params, shared)({})  # constants fold in float64 NumPy
        return lambda env: float(v)
    sub = [_compile(n, b, params, shared) for n in ast.iter_child_nodes(node)
           if isinstance(n, ast.expr) and not (isinstance(node, ast.Call) and n is node.func)]
    if isinstance(node, ast.Name):
        if node.id in params:
            v = float(params[node.id])
            return lambda env: v
        name = node.id
        return lambda env: env[name]
    if isinstance(node, ast.UnaryOp):
        (x,) = sub
        return (lambda env: -x(env)) if isinstance(node.op, ast.USub) else x
    if isinstance(node, ast.BinOp):
        op, (x, y) = _ARITH[type(node.op)], sub
        return lambda env: op(x(env), y(env))
    if isinstance(node, ast.Compare):
        ops = [_CMP[type(o)] for o in node.ops]
        if len(ops) == 1:
            op, (x, y) = ops[0], sub
            return lambda env: op(x(env), y(env))
        both = b.logical[ast.And]

        def chain(env):
            vals = [s(env) for s in sub]
            tests = [op(p, q) for op, p, q in zip(ops, vals, vals[1:])]
            return functools.reduce(both, tests)
        return chain
    if isinstance(node, ast.BoolOp):
        op = b.logical[type(node.op)]
        return lambda env: functools.reduce(op, (s(env) for s in sub))
    if isinstance(node, ast.IfExp):
        if not (names_in(node.test) & {"z", "a"}):  # a constant test picks its branch now
            return sub[1] if _compile(node.test, _numpy(), params, shared)({}) else sub[2]
        return _select(node, b, sub)
    if isinstance(node, ast.Call):
        f = b.funcs[cast(ast.Name, node.func).id]
        if len(sub) == 1:
            (x,) = sub
            return lambda env: f(x(env))
        return lambda env: f(*(s(env) for s in sub))
    raise TypeError(f"cannot compile {type(node).__name__}")  # parse() admits none of these


_MAX_WHEN = {ast.Gt: True, ast.GtE: True, ast.Lt: False, ast.LtE: False}


def _select(node: ast.IfExp, b: _Backend, sub: list[Node]) -> Node:
    """A conditional: ``x if x > y else y`` is max(x, y) (one pass, NaN kept as the old
    hand-written NumPy forms did), ``c if test else 0`` a masked constant where exact,
    anything else an elementwise select."""
    test, body, orelse = sub
    t = node.test
    if isinstance(t, ast.Compare) and len(t.ops) == 1 and type(t.ops[0]) in _MAX_WHEN:
        sides = key(t.left), key(t.comparators[0])
        if (key(node.body), key(node.orelse)) in (sides, sides[::-1]):
            take_max = _MAX_WHEN[type(t.ops[0])] == (key(node.body) == sides[0])
            f = b.funcs["max" if take_max else "min"]
            return lambda env: f(body(env), orelse(env))
    c = number(node.body)
    if b.mask_times and c is not None and number(node.orelse) == 0:
        return lambda env: test(env) * c
    where = b.where
    return lambda env: where(test(env), body(env), orelse(env), env)


def _shared(tree: ast.Expression) -> dict[int, str]:
    """id -> structural key of the compound nodes whose subtree occurs more than once."""
    keys = {id(n): key(n) for n in ast.walk(tree) if isinstance(n, ast.Call | ast.BinOp | ast.IfExp)}
    counts = Counter(keys.values())
    return {i: k for i, k in keys.items() if counts[k] > 1}


def numpy_function(tree: ast.Expression, params: dict | None = None,
                   f: Callable | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """A NumPy function of ``z`` (any shape, same shape and float dtype out); a tree that
    reads ``a`` gets it from ``f``."""
    body = _compile(tree.body, _numpy(), dict(params or {}), _shared(tree))
    uses_a = "a" in names_in(tree)
    quiet = any(isinstance(n, ast.IfExp) for n in ast.walk(tree))  # unselected branches may overflow

    def fn(z):
        z = np.asarray(z)
        if z.dtype.kind != "f":
            z = z.astype(np.float64)
        env = {"z": z, "a": f(z)} if uses_a else {"z": z}
        if quiet:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                out = body(env)
        else:
            out = body(env)
        if not isinstance(out, np.ndarray) or out.shape != z.shape:
            return np.full(z.shape, out, dtype=z.dtype)
        return out if out.dtype == z.dtype else out.astype(z.dtype)
    return fn


def torch_function(tree: ast.Expression, params: dict | None = None,
                   f: Callable | None = None) -> Callable:
    """A torch function of a tensor computing ``tree`` (torch is imported on first call)."""
    state: dict = {}
    uses_a = "a" in names_in(tree)

    def fn(z):
        if "body" not in state:
            state["body"] = _compile(tree.body, _torch(), dict(params or {}), _shared(tree))
        out = state["body"]({"z": z, "a": f(z)} if uses_a else {"z": z})
        if not hasattr(out, "dtype"):
            import torch

            return torch.full_like(z, out)
        if out.shape != z.shape:
            out = out.expand(z.shape)
        return out if out.dtype == z.dtype else out.to(z.dtype)
    return fn


__all__ = ["numpy_function", "torch_function"]
