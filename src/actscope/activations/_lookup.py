"""Looking an activation up from what a user writes: a name, an alias, a parameterised
name, a TOML table or an inline formula."""

from __future__ import annotations

import re

import numpy as np

from actscope.activations._families import canonical_name, family_of, format_number, parameterised_names
from actscope.activations._registry import (
    Activation,
    UnknownActivationError,
    list_activations,
    lookup,
    remember,
)

ALIASES = {"swish": "silu"}


def get_activation(name: str | Activation | dict) -> Activation:
    """Look an activation up by name; the error lists the known names.

    Also accepted: a parameterised name (``"leaky_relu(0.1)"``, ``"elu(alpha=0.5)"``),
    a table (``{"name": "leaky_relu", "slope": 0.1}``) and an inline formula
    (``"f(x) = x * tanh(softplus(x))"``, see :mod:`actscope.activations.formula`). Parsed
    activations are cached, so repeated lookups are dictionary hits.
    """
    if isinstance(name, Activation):
        return name
    if isinstance(name, dict):
        return get_activation(from_table(name))
    key = str(name).strip()
    hit = lookup(key)
    if hit is not None:
        return hit
    if key in ALIASES:
        return get_activation(ALIASES[key])
    if key.startswith("f(x)") or key.startswith("f (x)"):
        from actscope.activations.formula import inline_activation

        act = inline_activation(key)
    elif "(" in key:
        base, values = _parse_call(key)
        fam = family_of(base)
        assert fam is not None  # _parse_call accepts only a family's name
        act = lookup(canonical_name(base, values)) or fam.make(**values)
    else:
        raise UnknownActivationError(
            f"unknown activation {name!r}; known: {', '.join(list_activations())}"
        )
    return remember(act, key)


def _parse_call(text: str) -> tuple[str, dict[str, float]]:
    m = re.fullmatch(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*\((.*)\)\s*", text)
    if m is None:
        raise UnknownActivationError(f"unknown activation {text!r}; known: {', '.join(list_activations())}")
    base, inner = ALIASES.get(m.group(1), m.group(1)), m.group(2)
    fam = family_of(base)
    if fam is None:
        known = ", ".join(sorted(parameterised_names())) or "none"
        raise UnknownActivationError(f"activation {base!r} takes no parameters; parameterised: {known}")
    names = [k for k, _ in fam.params]
    values: dict[str, float] = {}
    parts = [p.strip() for p in inner.split(",")] if inner.strip() else []
    for i, part in enumerate(parts):
        key, _, val = part.rpartition("=") if "=" in part else ("", "", part)
        key = key.strip() or (names[i] if i < len(names) else "")
        if not key:
            raise UnknownActivationError(
                f"{text!r}: {base} takes {len(names)} parameter(s): {', '.join(names)}")
        if key not in names:
            raise UnknownActivationError(
                f"{text!r}: {base} has no parameter {key!r}; parameters: {', '.join(names)}")
        if key in values:
            raise UnknownActivationError(f"{text!r}: parameter {key!r} given twice")
        values[key] = _number(text, key, val)
    values = {k: values.get(k, d) for k, d in fam.params}
    problem = fam.check(**values)
    if problem:
        raise UnknownActivationError(f"{text!r}: {problem}")
    return base, values


def _number(text: str, key: str, val: str) -> float:
    try:
        v = float(val)
    except ValueError:
        raise UnknownActivationError(f"{text!r}: {key} = {val.strip()!r} is not a number") from None
    if not np.isfinite(v):
        raise UnknownActivationError(f"{text!r}: {key} = {val.strip()} must be finite")
    return v


def from_table(table: dict) -> str:
    """The string form of a TOML table such as {name = "leaky_relu", slope = 0.1}."""
    if "name" not in table:
        raise UnknownActivationError(f"activation table {table!r} has no 'name'")
    base = ALIASES.get(str(table["name"]), str(table["name"]))
    rest = {k: v for k, v in table.items() if k != "name"}
    if not rest:
        return get_activation(base).name
    if family_of(base) is None:
        raise UnknownActivationError(f"activation {base!r} takes no parameters; parameterised: "
                                     f"{', '.join(sorted(parameterised_names()))}")
    for v in rest.values():
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise UnknownActivationError(f"activation table {table!r}: parameters must be numbers")
    args = ", ".join(f"{k}={format_number(v)}" for k, v in rest.items())
    return get_activation(f"{base}({args})").name


__all__ = ["ALIASES", "from_table", "get_activation"]
