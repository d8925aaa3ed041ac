"""The search space: unary and binary primitives as plain tables, and the terms built of them.

A term is the input ``"x"``, a unary primitive of a term ``(name, t)`` or a binary one
``(name, a, b)`` (nested tuples: hashable, cheap). The core unit of Ramachandran, Zoph and
Le (2017) is ``binary(unary(x), unary(x))``; units nest (a unary or binary of units) up to
``max_size`` primitives. Size counts primitive applications as that paper does: ``x`` as an
operand of a binary is the identity primitive (1), a unary applied to the input replaces the
identity (``sin(x)`` is 1, ``sin(cos(x))`` 2, ``x * sigmoid(x)`` 3).

Each row holds its template in actscope's scalar language (``{a}``, ``{b}`` the operands,
variable ``z``), the same function as an ``x`` formula (for ``[activations.NAME] formula``)
and its FLOPs under :mod:`actscope.nn.flops`' convention (add, multiply, compare, abs: 1;
each transcendental call: 1; sigmoid, softplus and the normal CDF: 4, as that table counts
sigmoid and softplus). Rows are guarded so every term is finite with a finite derivative on
any input: ``exp`` takes ``min(a, 10)`` and ``sqrt`` takes ``|a| + 0.001``.

Enumeration order (``enumerate_terms``), fixed: by size; within a size, binary-rooted terms
first (splits of the operand sizes in ascending order of the left size, rows in table order,
operands in this same order; a commutative row takes each unordered pair once), then
unary-rooted ones (rows in table order, operands in this order).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

import numpy as np

Term = str | tuple  # "x" | (unary, Term) | (binary, Term, Term)
X = "x"


@dataclass(frozen=True)
class Primitive:
    """One row: scalar-language template, formula template (in ``x``), FLOPs."""

    expr: str
    formula: str
    flops: int
    commutative: bool = False


UNARY: dict[str, Primitive] = {
    "neg": Primitive("-{a}", "-{a}", 1),
    "abs": Primitive("abs({a})", "abs({a})", 1),
    "square": Primitive("{a} * {a}", "{a} * {a}", 1),
    "cube": Primitive("{a} * {a} * {a}", "{a} * {a} * {a}", 2),
    "sqrt_abs": Primitive("sqrt(abs({a}) + 0.001)", "sqrt(abs({a}) + 0.001)", 3),
    "exp": Primitive("exp(min({a}, 10.0))", "exp(min({a}, 10))", 2),
    "log1p_abs": Primitive("log1p(abs({a}))", "log(1 + abs({a}))", 3),
    "sin": Primitive("sin({a})", "sin({a})", 1),
    "cos": Primitive("cos({a})", "cos({a})", 1),
    "tanh": Primitive("tanh({a})", "tanh({a})", 1),
    "sigmoid": Primitive("sigmoid({a})", "sigmoid({a})", 4),
    "relu": Primitive("max({a}, 0.0)", "max({a}, 0)", 1),
    "min0": Primitive("min({a}, 0.0)", "min({a}, 0)", 1),
    "softplus": Primitive("softplus({a})", "softplus({a})", 4),
    "erf": Primitive("erf({a})", "erf({a})", 1),
    "phi": Primitive("ndtr({a})", "(1 + erf({a} / sqrt(2))) / 2", 4),
    "half": Primitive("0.5 * {a}", "0.5 * {a}", 1),
    "double": Primitive("2.0 * {a}", "2 * {a}", 1),
}
"""Unary primitives (the identity ``x`` is the input itself, 0 FLOPs)."""

BINARY: dict[str, Primitive] = {
    "add": Primitive("{a} + {b}", "{a} + {b}", 1, commutative=True),
    "sub": Primitive("{a} - {b}", "{a} - {b}", 1),
    "mul": Primitive("{a} * {b}", "{a} * {b}", 1, commutative=True),
    "div": Primitive("{a} / (1.0 + abs({b}))", "{a} / (1 + abs({b}))", 3),
    "max": Primitive("max({a}, {b})", "max({a}, {b})", 1, commutative=True),
    "min": Primitive("min({a}, {b})", "min({a}, {b})", 1, commutative=True),
    "gate": Primitive("sigmoid({a}) * {b}", "sigmoid({a}) * {b}", 5),
}
"""Binary primitives; ``div`` is guarded (a / (1 + |b|)), ``gate`` is σ(a)·b."""

_ORDER = {name: i for i, name in enumerate([X, *UNARY, *BINARY])}
_ATOM = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\((.*)\)$")


def size(term: Term) -> int:
    """The number of primitives of ``term`` (the identity counted where it is an operand)."""
    if term == X:
        return 1
    if len(term) == 2:
        return 1 if term[1] == X else 1 + size(term[1])
    return 1 + size(term[1]) + size(term[2])


def flops(term: Term) -> int:
    """FLOPs of one evaluation of ``term`` (the sum of its rows' FLOPs)."""
    if term == X:
        return 0
    if len(term) == 2:
        return UNARY[term[0]].flops + flops(term[1])
    return BINARY[term[0]].flops + flops(term[1]) + flops(term[2])


def _is_atom(text: str) -> bool:
    """Whether ``text`` is a name or one call (needs no parentheses as an operand)."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", text):
        return True
    if not _ATOM.match(text):
        return False
    depth = 0
    for i, ch in enumerate(text):
        depth += (ch == "(") - (ch == ")")
        if depth == 0 and ch == ")":
            return i == len(text) - 1
    return False


@cache
def _bare(template: str, slot: str) -> bool:
    """Whether every use of ``{slot}`` in ``template`` is a whole call argument (then an
    operand needs no parentheses there)."""
    uses = len(re.findall(r"\{" + slot + r"\}", template))
    args = len(re.findall(r"(?:\(|, )\{" + slot + r"\}(?=\)|,)", template))
    return uses == args


def _render(term: Term, field: str, var: str) -> str:
    if term == X:
        return var
    row = UNARY[term[0]] if len(term) == 2 else BINARY[term[0]]
    template = getattr(row, field)

    def wrap(t: Term, slot: str) -> str:
        s = _render(t, field, var)
        return s if _bare(template, slot) or _is_atom(s) else f"({s})"

    if len(term) == 2:
        return template.format(a=wrap(term[1], "a"))
    return template.format(a=wrap(term[1], "a"), b=wrap(term[2], "b"))


def term_expr(term: Term) -> str:
    """``term`` in actscope's scalar language (variable ``z``)."""
    return _render(term, "expr", "z")


def term_formula(term: Term) -> str:
    """``term`` as a formula in ``x`` (what ``[activations.NAME] formula = ...`` accepts)."""
    return _render(term, "formula", "x")


def term_text(term: Term) -> str:
    """The compact text of ``term``: ``mul(x, sigmoid(x))`` (``parse_term`` reads it)."""
    if term == X:
        return X
    return f"{term[0]}({', '.join(term_text(t) for t in term[1:])})"


def parse_term(text: str) -> Term:
    """The term of ``term_text``'s output; ValueError if it is not one."""
    tokens = re.findall(r"[A-Za-z_0-9]+|[(),]", text)
    pos = 0

    def take() -> Term:
        nonlocal pos
        if pos >= len(tokens):
            raise ValueError(f"term {text!r}: ends early")
        name = tokens[pos]
        pos += 1
        if name == X:
            return X
        arity = 1 if name in UNARY else 2 if name in BINARY else 0
        if not arity or tokens[pos:pos + 1] != ["("]:
            raise ValueError(f"term {text!r}: {name!r} is not a primitive applied to operands")
        pos += 1
        args = []
        for i in range(arity):
            args.append(take())
            want = "," if i < arity - 1 else ")"
            if tokens[pos:pos + 1] != [want]:
                raise ValueError(f"term {text!r}: expected {want!r} after {name}'s operand")
            pos += 1
        return (name, *args)

    term = take()
    if pos != len(tokens):
        raise ValueError(f"term {text!r}: text after the term")
    return term


def order_key(term: Term) -> tuple:
    """A total order on terms (for sorting commutative operands)."""
    if term == X:
        return (0,)
    return (size(term), _ORDER[term[0]], *(order_key(t) for t in term[1:]))


_SCALE = {"half": 0.5, "double": 2.0}


def simplify(term: Term) -> Term:
    """Light structural simplification: −(−a) → a, |−a| → |a|, ||a|| → |a|, 2·(a/2) → a,
    relu(relu(a)) → relu(a), commutative operands sorted, ``a + a`` → 2a. The numerical
    fingerprint decides identity; this only names a function by a shorter term."""
    if term == X:
        return X
    if len(term) == 2:
        name, a = term[0], simplify(term[1])
        inner = a[0] if a != X else None
        if name == "neg" and inner == "neg":
            return a[1]
        if name == "abs" and inner in ("neg", "abs"):
            return ("abs", a[1])
        if name in ("relu", "min0") and inner == name:
            return a
        if name in _SCALE and inner in _SCALE and _SCALE[name] * _SCALE[inner] == 1.0:
            return a[1]
        return (name, a)
    name, a, b = term[0], simplify(term[1]), simplify(term[2])
    if BINARY[name].commutative and order_key(b) < order_key(a):
        a, b = b, a
    if name == "add" and a == b:
        return ("double", a)
    if name in ("max", "min") and a == b:
        return a
    return (name, a, b)


@cache
def _terms(n: int) -> tuple[Term, ...]:
    """Every term of size ``n``, in the documented order (commutative pairs once)."""
    out: list[Term] = []
    if n == 1:
        return (X, *((u, X) for u in UNARY))
    for left in range(1, n - 1):
        lefts, rights = _terms(left), _terms(n - 1 - left)
        for name, row in BINARY.items():
            for i, a in enumerate(lefts):
                for j, b in enumerate(rights):
                    if row.commutative and left == n - 1 - left and j < i:
                        continue
                    if row.commutative and left > n - 1 - left:
                        continue  # the pair appears with its operands the other way round
                    out.append((name, a, b))
    inner = [t for t in _terms(n - 1) if t != X]
    out += [(u, t) for u in UNARY for t in inner]
    return tuple(out)


def enumerate_terms(max_size: int) -> Iterator[Term]:
    """Every term of size 1 .. ``max_size`` in the fixed order of the module docstring."""
    for n in range(1, max_size + 1):
        yield from _terms(n)


@cache
def count_terms(n: int) -> int:
    """How many ordered terms have size ``n`` (commutative pairs counted both ways)."""
    if n == 1:
        return 1 + len(UNARY)
    binary = sum(count_terms(k) * count_terms(n - 1 - k) for k in range(1, n - 1)) * len(BINARY)
    return binary + len(UNARY) * (count_terms(n - 1) - (1 if n == 2 else 0))


_UNARY_NAMES, _BINARY_NAMES = tuple(UNARY), tuple(BINARY)


@cache
def _size_cdf(min_size: int, max_size: int) -> np.ndarray:
    """Cumulative share of the terms of each size in min_size .. max_size."""
    w = np.array([float(count_terms(n)) for n in range(min_size, max_size + 1)])
    return np.cumsum(w) / w.sum()


@cache
def _shape_cdf(n: int) -> np.ndarray:
    """Cumulative share, among terms of size ``n`` >= 2, of unary-rooted ones (index 0)
    and of binary-rooted ones with a left operand of size k (index k)."""
    unary = len(UNARY) * (count_terms(n - 1) - (1 if n == 2 else 0))
    splits = [count_terms(k) * count_terms(n - 1 - k) * len(BINARY) for k in range(1, n - 1)]
    w = np.array([float(unary), *map(float, splits)])
    return np.cumsum(w) / w.sum()


def random_term(rng: np.random.Generator, max_size: int, min_size: int = 1) -> Term:
    """A term drawn uniformly from the ordered terms of size ``min_size`` .. ``max_size``."""
    i = int(np.searchsorted(_size_cdf(min_size, max_size), rng.random(), side="right"))
    return _random_of_size(rng, min_size + min(i, max_size - min_size))


def _random_of_size(rng: np.random.Generator, n: int) -> Term:
    if n == 1:
        i = int(rng.integers(1 + len(UNARY)))
        return X if i == 0 else (_UNARY_NAMES[i - 1], X)
    pick = min(int(np.searchsorted(_shape_cdf(n), rng.random(), side="right")), n - 2)
    if pick == 0:
        inner = _random_of_size(rng, n - 1)
        while inner == X:
            inner = _random_of_size(rng, n - 1)
        return (_UNARY_NAMES[int(rng.integers(len(UNARY)))], inner)
    name = _BINARY_NAMES[int(rng.integers(len(BINARY)))]
    return (name, _random_of_size(rng, pick), _random_of_size(rng, n - 1 - pick))


def paths(term: Term, here: tuple[int, ...] = ()) -> list[tuple[int, ...]]:
    """The position of every subterm (the root is ``()``), in prefix order."""
    out = [here]
    if term != X:
        for i, t in enumerate(term[1:], start=1):
            out += paths(t, (*here, i))
    return out


def at(term: Term, path: tuple[int, ...]) -> Term:
    """The subterm of ``term`` at ``path``."""
    for i in path:
        term = term[i]
    return term


def replace_at(term: Term, path: tuple[int, ...], new: Term) -> Term:
    """``term`` with the subterm at ``path`` replaced by ``new``."""
    if not path:
        return new
    i = path[0]
    return (*term[:i], replace_at(term[i], path[1:], new), *term[i + 1:])


__all__ = ["BINARY", "UNARY", "X", "Primitive", "Term", "at", "count_terms", "enumerate_terms",
           "flops", "order_key", "parse_term", "paths", "random_term", "replace_at", "simplify",
           "size", "term_expr", "term_formula", "term_text"]
