"""Argument checks shared by the theory's functions: one line, naming the value and rule."""

from __future__ import annotations

import math

from actscope.activations import Activation, UnknownActivationError, get_activation
from actscope.errors import InputError


def resolve_activation(activation: str | Activation) -> Activation:
    """The registry's Activation, or an InputError naming the known ones."""
    try:
        return get_activation(activation)
    except UnknownActivationError as err:
        raise InputError(f"activation = {activation!r}: {err}") from None


def check_variance(name: str, value: float, positive: bool = False) -> float:
    """``value`` as a float if it is a finite variance (> 0 with ``positive``), else an
    InputError naming ``name``."""
    v = float(value)
    if not math.isfinite(v) or v < 0 or (positive and v == 0):
        rule = "must be > 0" if positive else "must be >= 0"
        raise InputError(f"{name} = {value!r}: a variance, {rule} and finite")
    return v
