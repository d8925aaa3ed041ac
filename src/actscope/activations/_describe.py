"""Facts about activations for people: a row per activation and the CLI's table."""

from __future__ import annotations

import numpy as np

from actscope.activations._families import format_number
from actscope.activations._lookup import ALIASES, get_activation
from actscope.activations._registry import list_activations


def describe(name: str) -> dict:
    """A row of facts about an activation: family, range, value and derivative at 0, gain."""
    act = get_activation(name)
    z0 = np.zeros(1)
    with np.errstate(all="ignore"):
        f0, df0 = float(act.fn(z0)[0]), float(act.grad(z0)[0])
    params = ", ".join(f"{k}={format_number(v)}" for k, v in act.params.items())
    return {"name": act.name, "family": act.family,
            "range": f"({act.range[0]:.4g}, {act.range[1]:.4g})",
            "f0": f0, "df0": df0, "gain": act.gain, "params": params}


def activation_table() -> str:
    """A plain-text table of every registered activation."""
    rows = [describe(n) for n in list_activations()]
    head = (f"{'name':<16}{'family':<18}{'range':<22}{'f(0)':>8}{'df/dx(0)':>10}{'gain':>8}"
            f"  parameters")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['name']:<16}{r['family']:<18}{r['range']:<22}{r['f0']:>8.3f}"
                     f"{r['df0']:>10.3f}{r['gain']:>8.3f}  {r['params']}".rstrip())
    aliases = ", ".join(f"{a} = {b}" for a, b in sorted(ALIASES.items()))
    lines.append(f"aliases: {aliases}; parameterised names are written name(value), "
                 "e.g. leaky_relu(0.1); a formula is written \"f(x) = ...\"")
    return "\n".join(lines)


__all__ = ["activation_table", "describe"]
