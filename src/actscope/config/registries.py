"""Names a spec may use, checked against the registries that define them.

Datasets (``actscope.data.GENERATORS``), init schemes (``actscope.nn``), optimisers
(``actscope.training.OPTIMIZERS``), activations (the
activations registry, plus the formulas a spec defines in its own ``[activations]``
table) and engines (``actscope.engines.list_engines``). Each check raises a ValueError
naming the allowed values; the spec's message adds the field and the value.

Checking has no side effects: a spec's formula activations are parsed to be checked, and
are usable by name inside that spec (`own_activations`), but they enter the global
registry only when a run starts (`register_custom_activations`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache

from actscope.data.generators import GENERATORS

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OWN: ContextVar[frozenset[str]] = ContextVar("actscope_own_activations", default=frozenset())


def check_dataset(name: str) -> str:
    """``name`` if a data generator is registered under it."""
    if name not in GENERATORS:
        raise ValueError(f"unknown dataset; known: {', '.join(sorted(GENERATORS))}")
    return name


def check_init_scheme(name: str) -> str:
    """``name`` if it is a registered init scheme, else a ValueError listing the known ones."""
    from actscope.nn import all_init_schemes  # deferred: SciPy loads with the registry

    if name not in all_init_schemes():
        raise ValueError(f"unknown init scheme; known: {', '.join(all_init_schemes())}")
    return name


def check_engine(name: str) -> str:
    """``name`` if an engine is registered under it (whether its extra is installed is
    checked when the engine is made)."""
    from actscope.engines import list_engines  # deferred: SciPy, as above

    if name not in list_engines():
        raise ValueError(f"unknown engine; known: {', '.join(list_engines())}")
    return name


def check_optimizer(name: str) -> str:
    """``name`` if it is in the optimiser table (``actscope.training.OPTIMIZERS``)."""
    from actscope.training.optimizers import OPTIMIZER_NAMES  # deferred: SciPy, as above

    if name not in OPTIMIZER_NAMES:
        raise ValueError(f"unknown optimizer; known: {', '.join(OPTIMIZER_NAMES)}")
    return name


@contextmanager
def own_activations(names: Iterable[str]) -> Iterator[None]:
    """Within the block, activation fields also accept ``names`` (a spec's own formulas)."""
    token = _OWN.set(frozenset(names))
    try:
        yield
    finally:
        _OWN.reset(token)


def check_activation(value):
    """Canonical string form(s) of an activation field: a name, ``"leaky_relu(0.1)"``, a
    table ``{name = "leaky_relu", slope = 0.1}``, a formula ``"f(x) = ..."``, or a list;
    a name the spec defines in its ``[activations]`` table is kept as it is."""
    from actscope.activations import get_activation  # deferred: SciPy, as above

    own = _OWN.get()

    def one(v):
        if isinstance(v, str) and v.strip() in own:
            return v.strip()
        return get_activation(v).name if isinstance(v, str | dict) else v  # raises with the known names

    return [one(v) for v in value] if isinstance(value, list | tuple) else one(value)


def check_formula_name(name: str) -> str:
    """``name`` if a spec may define a formula activation under it."""
    from actscope.activations import USER_DEFINED, list_activations  # deferred: SciPy

    if not NAME.fullmatch(name or ""):
        raise ValueError(f"activations.{name}: a name is letters, digits and _ (not starting with a digit)")
    if name in list_activations() and name not in USER_DEFINED:
        raise ValueError(f"activations.{name}: {name!r} is a built-in activation; choose another name")
    return name


@lru_cache(maxsize=256)
def check_formula(text: str, family: str | None, gain: float | None) -> None:
    """Parse and test a formula as `register_formula` would, without registering it
    (remembered: a sweep validates the same formulas once per cell)."""
    from actscope.activations.formula import formula_activation  # sympy: only for formula specs

    formula_activation("check", text, family, gain)


def register_custom_activations(specs: dict | None) -> None:
    """Register a spec's formula activations in the global registry (idempotent), so that
    they resolve by name anywhere in this process.

    Called where a run starts (the experiment, a sweep, the report worker, a loaded run),
    never by validation.

    Parameters
    ----------
    specs : dict of str to CustomActivationSpec, or None
        An ExperimentSpec's ``activations`` table.
    """
    if not specs:
        return  # no formulas: do not import sympy (about 1 s)
    from actscope.activations.formula import register_formula  # deferred: sympy

    for name, c in specs.items():
        register_formula(name, c.formula, c.family, c.gain)
