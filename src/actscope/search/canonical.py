"""One function, one candidate: screening and the numerical fingerprint.

A candidate's identity is what it computes. f is evaluated on a fixed grid (``GRID``: 257
points on [-6, 6] and ±10, ±20) and quantised relative to its scale (round(f / s · 1e8)
with s = max |f|, and s to 9 digits); the hash of that is the key, so ``x * sigmoid(x)``,
``silu`` and ``x / (1 + exp(-x))`` are one candidate while functions apart by more than
1e-8 of their scale are two. Before a key is made a function is screened out as
"non-finite" (f or f' not finite on the grid), "too-large" (|f| > 1e6 there), "constant"
or "linear" (affine to 1e-7 of its scale): none of those is worth training.

Grammar terms take a fast path (``from_term``): f and f' by forward-mode evaluation of the
primitives' NumPy forms, no text parsed, subterms cached. Text takes the exact path
(``canonicalise``): ``activations.compile_expression``, also without sympy.
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import cache

import numpy as np
from scipy.special import expit

from actscope.activations import (
    BUILTINS,
    FAMILY_TABLE,
    USER_DEFINED,
    Activation,
    compile_expression,
    get_activation,
    register,
    second_moment_gain,
)
from actscope.nn.flops import activation_flops
from actscope.search import grammar as g
from actscope.search.notation import BUILTIN_FORMULAS, is_formula, to_expr, to_formula

GRID = np.concatenate([[-20.0, -10.0], np.linspace(-6.0, 6.0, 257), [10.0, 20.0]])
MAX_ABS = 1e6
REASONS = ("non-finite", "too-large", "constant", "linear")
ORIGINS = ("reference", "exhaustive", "random", "evolution", "user")
_QUANTUM = 1e8
_DESIGN = np.stack([np.ones_like(GRID), GRID], axis=1)
_PINV = np.linalg.pinv(_DESIGN)


@dataclass(frozen=True)
class Rejected:
    """A function screened out before training, and why (one of ``REASONS``)."""

    expr: str
    reason: str


@dataclass(frozen=True)
class Candidate:
    """One distinct activation function of the search.

    Attributes
    ----------
    key : str
        The fingerprint (16 hex digits): equal keys, one function.
    expr : str
        f in actscope's scalar language (variable ``z``).
    formula : str
        The same f in ``x``, as ``[activations.NAME] formula = ...`` accepts it.
    builtin : str or None
        The registry's name when f is a built-in (train with ``get_activation(builtin)``).
    size, flops : int
        Grammar size (primitives) and FLOPs per element (:mod:`actscope.nn.flops`).
    origin : str
        One of ``ORIGINS``.
    term : str
        The grammar term (``grammar.term_text``), "" for text from elsewhere.
    """

    key: str
    expr: str
    formula: str
    builtin: str | None
    size: int
    flops: int
    origin: str
    term: str = ""

    @property
    def name(self) -> str:
        """The registry name training uses: the built-in's, else ``cand_<key>``."""
        return self.builtin or f"cand_{self.key}"

    @property
    def family(self) -> str:
        """The activation's family ("piecewise-linear" or "smooth" for a new function)."""
        return self.activation().family

    def activation(self) -> Activation:
        """The built-in itself, else the registered ``cand_<key>`` built from ``expr``."""
        if self.builtin:
            return get_activation(self.builtin)
        return _activation(self.key, self.expr, self.formula)

    def to_dict(self) -> dict:
        """A JSON-ready dict (``from_dict`` reads it back)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Candidate:
        """The candidate ``to_dict`` wrote."""
        return cls(key=str(d["key"]), expr=str(d["expr"]), formula=str(d["formula"]),
                   builtin=d.get("builtin") or None, size=int(d["size"]), flops=int(d["flops"]),
                   origin=str(d["origin"]), term=str(d.get("term", "")))


# Screening and the fingerprint ----------------------------------------------------------

def screen(f: np.ndarray, df: np.ndarray) -> str | None:
    """Why f (with derivative ``df``, both on ``GRID``) is not worth training, else None."""
    if not (np.isfinite(f).all() and np.isfinite(df).all()):
        return "non-finite"
    s = float(np.abs(f).max())
    if s > MAX_ABS:
        return "too-large"
    if s == 0.0 or float(np.ptp(f)) <= 1e-9 * s:
        return "constant"
    if float(np.abs(f - _DESIGN @ (_PINV @ f)).max()) <= 1e-7 * s:
        return "linear"
    return None


def fingerprint(f: np.ndarray) -> str:
    """The key of f on ``GRID`` (16 hex digits), quantised relative to max |f|."""
    s = float(np.abs(f).max())
    q = np.rint(f * (_QUANTUM / s)).astype(np.int64) + 0
    return hashlib.blake2b(q.tobytes() + f"{s:.8e}".encode(), digest_size=8).hexdigest()


@cache
def builtin_keys() -> dict[str, str]:
    """key -> name of every built-in (parameterised ones at their defaults) that passes
    the screens (identity is linear)."""
    out: dict[str, str] = {}
    for name in [d.name for d in BUILTINS] + [f.name for f in FAMILY_TABLE]:
        act = get_activation(name)
        with np.errstate(all="ignore"):
            f, df = act.fn(GRID.copy()), act.grad(GRID.copy())
        if screen(f, df) is None:
            out.setdefault(fingerprint(f), name)
    return out


def builtin_names() -> list[str]:
    """The built-ins a name given to ``canonicalise`` may be."""
    return [d.name for d in BUILTINS] + [f.name for f in FAMILY_TABLE]


# The fast path: grammar terms -----------------------------------------------------------

@cache
def _unary(name: str) -> tuple[Callable, Callable]:
    c = compile_expression(g.UNARY[name].expr.format(a="z"))
    return c.fn, c.grad


def _binary(name: str, a, da, b, db):
    """(value, derivative) of a binary primitive from its operands' (value, derivative)."""
    if name == "add":
        return a + b, da + db
    if name == "sub":
        return a - b, da - db
    if name == "mul":
        return a * b, da * b + a * db
    if name == "div":
        d = 1.0 + np.abs(b)
        return a / d, da / d - a * np.sign(b) * db / (d * d)
    if name == "max":
        return np.maximum(a, b), np.where(a >= b, da, db)
    if name == "min":
        return np.minimum(a, b), np.where(a <= b, da, db)
    s = expit(a)  # gate: sigmoid(a) * b
    return s * b, s * (1.0 - s) * da * b + s * db


_MEMO: dict = {}


def evaluate(term: g.Term) -> tuple[np.ndarray, np.ndarray]:
    """f and f' of ``term`` on ``GRID`` (forward mode; subterms of size <= 2 cached)."""
    if term == g.X:
        return GRID, np.ones_like(GRID)
    hit = _MEMO.get(term)
    if hit is not None:
        return hit
    if len(term) == 2:
        a, da = evaluate(term[1])
        fn, grad = _unary(term[0])
        out = fn(a), grad(a) * da
    else:
        out = _binary(term[0], *evaluate(term[1]), *evaluate(term[2]))
    if g.size(term) <= 2:
        _MEMO[term] = out
    return out


def probe(term: g.Term) -> tuple[str | None, str | None]:
    """(key, None) for a screened-in term, (None, reason) otherwise; nothing rendered."""
    with np.errstate(all="ignore"):
        f, df = evaluate(term)
    reason = screen(f, df)
    return (None, reason) if reason else (fingerprint(f), None)


def from_term(term: g.Term, origin: str, key: str | None = None) -> Candidate | Rejected:
    """The candidate of a grammar term (simplified first), or why it is screened out.

    Parameters
    ----------
    term : Term
        A term of :mod:`actscope.search.grammar`.
    origin : str
        One of ``ORIGINS``.
    key : str, optional
        The key ``probe`` already found for this (simplified) term.

    Returns
    -------
    Candidate or Rejected
    """
    term = g.simplify(term)
    reason = None
    if key is None:
        key, reason = probe(term)
    expr = g.term_expr(term)
    if reason or key is None:
        return Rejected(expr, reason or "non-finite")
    builtin = builtin_keys().get(key)
    flops = activation_flops(builtin) if builtin else g.flops(term)
    return Candidate(key, expr, g.term_formula(term), builtin, g.size(term), flops, origin,
                     g.term_text(term))


# The exact path: text -------------------------------------------------------------------

def count_operations(expr: str) -> tuple[int, int]:
    """(size, FLOPs) of an expression by counting its operations as the grammar's rows
    do: each operator, comparison and call 1; sigmoid, softplus, ndtr 4; log1p, expm1 2."""
    heavy = {"sigmoid": 4, "softplus": 4, "ndtr": 4, "log1p": 2, "expm1": 2}
    size = flops = 0
    for n in ast.walk(ast.parse(expr, mode="eval")):
        if isinstance(n, ast.Call):
            size += 1
            flops += heavy.get(getattr(n.func, "id", ""), 1)
        elif isinstance(n, ast.BinOp | ast.UnaryOp | ast.Compare):
            size += 1
            flops += 1
    return max(size, 1), flops


def canonicalise(expr_or_formula: str, origin: str = "user") -> Candidate | Rejected:
    """The candidate of a function written as text, or why it is screened out.

    Parameters
    ----------
    expr_or_formula : str
        A scalar-language expression in ``z`` (``"z * sigmoid(z)"``), a formula in ``x``
        (``"x / (1 + exp(-x))"``) or a built-in's name (``"silu"``).
    origin : str
        One of ``ORIGINS``.

    Returns
    -------
    Candidate or Rejected
        ``builtin`` is set when the fingerprint is a built-in's.

    Raises
    ------
    ValueError
        If the text is none of those (an ``ExprError`` names the problem).
    """
    text = expr_or_formula.strip()
    formula = None
    if text in builtin_names():
        act = get_activation(text)
        assert act.scalar is not None  # every built-in has its scalar form
        formula, expr = BUILTIN_FORMULAS.get(text), act.scalar[0]
        fn, grad = act.fn, act.grad
    else:
        try:
            expr = to_expr(text) if is_formula(text) else text
        except SyntaxError as err:
            raise ValueError(f"expression {text!r}: syntax error ({err.msg})") from None
        c = compile_expression(expr)
        fn, grad = c.fn, c.grad
    with np.errstate(all="ignore"):
        f, df = np.asarray(fn(GRID.copy()), float), np.asarray(grad(GRID.copy()), float)
    reason = screen(f, df)
    if reason:
        return Rejected(expr, reason)
    key = fingerprint(f)
    builtin = builtin_keys().get(key)
    size, flops = count_operations(expr)
    if builtin:
        flops = activation_flops(builtin)
    return Candidate(key, expr, formula or to_formula(expr), builtin, size, flops, origin)


def reference_candidates(names: Sequence[str]) -> list[Candidate]:
    """The candidates of built-ins by name (``relu``, ``silu``, ``gelu``, ``tanh`` ...).

    Parameters
    ----------
    names : sequence of str
        Built-in names (``builtin_names()``).

    Returns
    -------
    list of Candidate
        In the order given, origin "reference", ``builtin`` set.

    Raises
    ------
    ValueError
        If a name is not a built-in or is screened out (identity is linear).
    """
    out = []
    for name in names:
        if name not in builtin_names():
            raise ValueError(f"reference {name!r} is not a built-in; allowed: {', '.join(builtin_names())}")
        cand = canonicalise(name, "reference")
        if isinstance(cand, Rejected):
            raise ValueError(f"reference {name!r} is screened out ({cand.reason})")
        out.append(cand)
    return out


# Activations of new functions -----------------------------------------------------------

_ACTIVATIONS: dict[str, Activation] = {}
_WIDE = np.concatenate([-np.logspace(3, -3, 61), [0.0], np.logspace(-3, 3, 61)])


def _range(fn: Callable) -> tuple[float, float]:
    """The interval f maps into, estimated on a wide grid (±inf where f still moves)."""
    with np.errstate(all="ignore"):
        v, far = fn(_WIDE.copy()), fn(np.array([-2000.0, 2000.0]))
    v = np.where(np.isfinite(v), v, np.nan)
    lo, hi = float(np.nanmin(v)), float(np.nanmax(v))
    moving = np.abs(v[[0, -1]] - far) > 1e-6 * (1 + np.abs(v[[0, -1]]))
    lo = -np.inf if any(m and e == lo for m, e in zip(moving, v[[0, -1]])) else round(lo, 6)
    hi = np.inf if any(m and e == hi for m, e in zip(moving, v[[0, -1]])) else round(hi, 6)
    return lo, hi


def _family(grad: Callable) -> str:
    """"piecewise-linear" when f' takes a few values only on [-6, 6], else "smooth"."""
    with np.errstate(all="ignore"):
        d = np.asarray(grad(np.linspace(-6.0, 6.0, 1201)), float)
    return "piecewise-linear" if len(np.unique(np.round(d, 9))) <= 6 else "smooth"


def _registered(name: str) -> Activation | None:
    """The activation registered as ``name`` now (a user may have replaced it), or None."""
    try:
        return get_activation(name)
    except ValueError:
        return None


def _activation(key: str, expr: str, formula: str) -> Activation:
    """The registered ``cand_<key>`` of ``expr`` (built once per process)."""
    name = f"cand_{key}"
    act = _ACTIVATIONS.get(name)
    if act is not None and _registered(name) is act:
        return act
    c = compile_expression(expr)
    act = Activation(name, c.fn, c.grad, _family(c.grad), gain=second_moment_gain(c.fn),
                     range=_range(c.fn), description=f"f(x) = {formula}", torch_fn=c.torch_fn,
                     torch_grad=c.torch_grad, scalar=c.scalar)
    USER_DEFINED.add(name)  # a user formula may take the name over
    _ACTIVATIONS[name] = register(act, overwrite=True, listed=False)
    return act


__all__ = ["GRID", "MAX_ABS", "ORIGINS", "REASONS", "Candidate", "Rejected", "builtin_keys",
           "builtin_names", "canonicalise", "count_operations", "evaluate", "fingerprint",
           "from_term", "probe", "reference_candidates", "screen"]
