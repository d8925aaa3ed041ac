"""One path from a scalar expression to an ``Activation``, for built-ins, families and
formulas alike.

The expression is parsed once; its derivative is derived (or, where a hand-tuned form is
given, that form overrides it); NumPy and torch callables are compiled from both; the
pair of texts is what the compiled engines' kernels are generated from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from actscope.activations._backends import numpy_function, torch_function
from actscope.activations._calculus import derivative, in_terms_of_a
from actscope.activations._expr import parse, unparse
from actscope.activations._registry import Activation, Array

# Gains: torch.nn.init.calculate_gain where torch defines one (identity, sigmoid, tanh, relu,
# leaky_relu); SELU uses 1 (LeCun init, as self-normalising networks need); every other
# activation uses the variance-preserving gain 1 / sqrt(E[f(z)^2]) for z ~ N(0, 1).
_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(101)
_GH_W = _GH_W / _GH_W.sum()


def second_moment_gain(fn: Callable[[Array], Array]) -> float:
    """1 / sqrt(E[f(z)^2]) for z ~ N(0, 1) (Gauss-Hermite quadrature, 101 nodes)."""
    with np.errstate(all="ignore"):
        m2 = float(np.sum(_GH_W * np.asarray(fn(_GH_X.copy()), dtype=np.float64) ** 2))
    return float(1.0 / np.sqrt(m2)) if np.isfinite(m2) and m2 > 0 else 1.0


@dataclass(frozen=True)
class Definition:
    """An activation as a row of a table: its expression in ``z`` and its facts.

    Attributes
    ----------
    name, expr, family : str
        The registry name, f in the scalar language, one of ``FAMILIES``.
    gain : float, optional
        The init gain; None: the variance-preserving 1 / sqrt(E[f(z)^2]).
    range : tuple of float
        The interval f maps into.
    description, torch_name : str
        For the activations table, and torch's name for the same function.
    grad : str, optional
        A hand-tuned derivative (in ``z`` and ``a = f(z)``) that replaces the derived one
        everywhere (NumPy, torch and kernels).
    params : dict
        Values of the parameters named in ``expr``.
    numpy, torch : tuple of callables, optional
        Hand-tuned array forms ``(f, f')`` overriding the compiled ones on that backend
        (one fused call where the compiled tree makes several: the per-batch cost of a
        small network is mostly call overhead). Tests check each against the derived form.
    """

    name: str
    expr: str
    family: str
    gain: float | None = None
    range: tuple[float, float] = (-np.inf, np.inf)
    description: str = ""
    grad: str | None = None
    torch_name: str | None = None
    params: dict = field(default_factory=dict)
    numpy: tuple[Callable, Callable] | None = None
    torch: tuple[Callable, Callable] | None = None


@dataclass(frozen=True)
class Compiled:
    """Everything derived from one expression (and its derivative)."""

    fn: Callable[[Array], Array]
    grad: Callable[[Array], Array]
    torch_fn: Callable
    torch_grad: Callable
    scalar: tuple[str, str]


def compile_expression(expr: str, grad: str | None = None, params: dict | None = None) -> Compiled:
    """Parse ``expr``, derive (or take) its derivative, compile both for NumPy and torch.

    Parameters
    ----------
    expr : str
        f in the scalar language: ``z``, numbers, the names in ``params``, ``+ - * / **``,
        comparisons, ``x if test else y`` and the functions of ``FUNCTIONS``.
    grad : str, optional
        A hand-tuned f' (in ``z`` and ``a = f(z)``) used instead of the derived one.
    params : dict, optional
        Values of the parameters named in ``expr``.

    Returns
    -------
    Compiled
        NumPy and torch callables of f and f', and ``scalar``, the texts of (f, f') the
        compiled engines generate kernels from (f(z) inside f' written ``a``).

    Raises
    ------
    ExprError
        If ``expr`` or ``grad`` is outside the language.
    """
    params = dict(params or {})
    f_tree = parse(expr, params)
    g_tree = in_terms_of_a(parse(grad, params, a=True) if grad else derivative(f_tree), f_tree)
    fn, tfn = numpy_function(f_tree, params), torch_function(f_tree, params)
    return Compiled(fn, numpy_function(g_tree, params, fn), tfn, torch_function(g_tree, params, tfn),
                    (unparse(f_tree), unparse(g_tree)))


def build(d: Definition) -> Activation:
    """The ``Activation`` of a table row."""
    c = compile_expression(d.expr, d.grad, d.params)
    fn, grad = d.numpy or (c.fn, c.grad)
    torch_fn, torch_grad = d.torch or (c.torch_fn, c.torch_grad)
    gain = second_moment_gain(fn) if d.gain is None else float(d.gain)
    return Activation(d.name, fn, grad, d.family, gain=gain, range=d.range,
                      params=dict(d.params), torch_name=d.torch_name, description=d.description,
                      torch_fn=torch_fn, torch_grad=torch_grad, scalar=c.scalar)



__all__ = ["Compiled", "Definition", "build", "compile_expression", "second_moment_gain"]
