"""Activations: each defined once, as a scalar expression, and looked up by name.

An activation is an expression in ``z`` such as ``"z * tanh(softplus(z))"`` (the language:
``_expr``). From it come its NumPy and torch callables, its derivative and the source of
the compiled engines' kernels, so built-ins (``_builtin``), parameterised families
(``_families``) and user formulas (``formula``) take one path (``_define``). A hand-tuned
derivative is an override in the same language, not a second definition. Activations
given as NumPy callables (``register_activation``) have no expression and run on the
NumPy path of compiled engines.

Importing this package does not import sympy (only user formulas need it).
"""

from __future__ import annotations

from actscope.activations._builtin import BUILTINS, register_builtins
from actscope.activations._define import Definition, compile_expression, second_moment_gain
from actscope.activations._describe import activation_table, describe
from actscope.activations._expr import FUNCTIONS, ExprError
from actscope.activations._families import (
    FAMILY_TABLE,
    Family,
    canonical_name,
    format_number,
    parameterised_names,
    register_families,
    register_parameterised,
)
from actscope.activations._lookup import ALIASES, from_table, get_activation
from actscope.activations._registry import (
    FAMILIES,
    USER_DEFINED,
    Activation,
    Array,
    UnknownActivationError,
    list_activations,
    register,
)
from actscope.activations._user import numerical_grad, register_activation

register_builtins()
register_families()


def register_formula(name: str, text: str, family: str | None = None,
                     gain: float | None = None) -> Activation:
    """Register ``name`` as the activation of formula ``text`` in ``x``.

    The formula is parsed and differentiated by sympy (imported here, on first use) and
    then takes the built-ins' path, so it trains in the compiled engines' kernels too.

    Parameters
    ----------
    name : str
        Letters, digits and _; may not be a built-in's name (a formula may be redefined).
    text : str
        The formula, e.g. ``"x * tanh(log(1 + exp(x)))"``.
    family : str, optional
        One of ``FAMILIES`` (default "smooth").
    gain : float, optional
        The init gain (default: variance-preserving).

    Returns
    -------
    Activation
        The registered activation.
    """
    from actscope.activations.formula import register_formula as register

    return register(name, text, family, gain)


__all__ = [
    "ALIASES", "BUILTINS", "FAMILIES", "FAMILY_TABLE", "FUNCTIONS", "USER_DEFINED", "Activation",
    "Array", "Definition", "ExprError", "Family", "UnknownActivationError", "activation_table",
    "canonical_name", "compile_expression", "describe", "format_number", "from_table",
    "get_activation", "list_activations", "numerical_grad", "parameterised_names", "register",
    "register_activation", "register_formula", "register_parameterised", "second_moment_gain",
]
