"""Parameterised activations: an expression whose parameters are names in it.

Written ``"leaky_relu(0.1)"``, ``"elu(alpha=0.5)"`` or, in TOML, ``{name = "leaky_relu",
slope = 0.1}``. The bare name is the default instance. An instance takes the same path
as a built-in (``_define.build``): its parameters are bound into the same expression.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from actscope.activations._define import Definition, build
from actscope.activations._registry import Activation, forget, register_lazy

_INF = np.inf


def format_number(v: float) -> str:
    """Shortest round-tripping text of a float, without a trailing '.0'."""
    r = repr(float(v))
    return r[:-2] if r.endswith(".0") else r


def _no_problem(**kw) -> str | None:
    return None


@dataclass(frozen=True)
class Family:
    """A parameterised activation: parameters (name, default), the expression in ``z`` and
    them, and its facts as functions of the parameters (``gain`` None: variance-preserving)."""

    name: str
    params: tuple[tuple[str, float], ...]
    expr: str
    family: str
    range: Callable[..., tuple[float, float]]
    description: str = ""
    gain: Callable[..., float] | None = None
    torch_name: str | None = None
    check: Callable[..., str | None] = _no_problem

    def make(self, **values: float) -> Activation:
        """The instance at these parameter values."""
        vals = {k: float(values.get(k, d)) for k, d in self.params}
        return build(Definition(
            canonical_name(self.name, vals), self.expr, self.family,
            gain=None if self.gain is None else self.gain(**vals), range=self.range(**vals),
            description=self.description, torch_name=self.torch_name, params=vals))


_PARAMETERISED: dict[str, Family] = {}


def family_of(base: str) -> Family | None:
    """The parameterised family called ``base``, if there is one."""
    return _PARAMETERISED.get(base)


def canonical_name(base: str, values: dict[str, float]) -> str:
    """``base`` at its defaults, else ``base(v1, v2, ...)`` with every value in order."""
    fam = _PARAMETERISED[base]
    if all(values[k] == d for k, d in fam.params):
        return base
    return f"{base}({', '.join(format_number(values[k]) for k, _ in fam.params)})"


def register_parameterised(fam: Family) -> None:
    """Add a parameterised activation; its default instance is registered under its name
    (and built when first looked up)."""
    _PARAMETERISED[fam.name] = fam
    forget(fam.name)
    register_lazy(fam.name, lambda: fam.make(**dict(fam.params)), overwrite=True)


def parameterised_names() -> dict[str, tuple[tuple[str, float], ...]]:
    """name -> ((parameter, default), ...) of every parameterised activation."""
    return {n: f.params for n, f in _PARAMETERISED.items()}


def _nonneg(key):
    return lambda **kw: None if kw[key] >= 0 else f"{key} = {format_number(kw[key])} must be >= 0"


def _positive(key):
    return lambda **kw: None if kw[key] > 0 else f"{key} = {format_number(kw[key])} must be > 0"


FAMILY_TABLE: tuple[Family, ...] = (
    Family("leaky_relu", (("slope", 0.01),), "z if z > 0.0 else slope * z", "piecewise-linear",
           range=lambda slope: (-_INF if slope > 0 else 0.0, _INF), description="max(x, slope * x)",
           gain=lambda slope: float(np.sqrt(2.0 / (1.0 + slope * slope))), torch_name="leaky_relu",
           check=_nonneg("slope")),
    Family("elu", (("alpha", 1.0),), "z if z > 0.0 else alpha * expm1(min(z, 0.0))", "smooth",
           range=lambda alpha: (-alpha, _INF), torch_name="elu", check=_positive("alpha"),
           description="x for x > 0, alpha * (exp(x) - 1) otherwise"),
    Family("silu", (("beta", 1.0),), "z * sigmoid(beta * z)", "smooth",
           range=lambda beta: (-0.27846455 / beta, _INF), torch_name="silu", check=_positive("beta"),
           description="x * sigmoid(beta * x) (swish)"),
    Family("softplus", (("beta", 1.0),), "softplus(beta * z) / beta", "smooth",
           range=lambda beta: (0.0, _INF), torch_name="softplus", check=_positive("beta"),
           description="log(1 + exp(beta * x)) / beta"),
)


def register_families() -> None:
    """Register every row of ``FAMILY_TABLE`` (and so its default instance)."""
    for fam in FAMILY_TABLE:
        register_parameterised(fam)


__all__ = ["FAMILY_TABLE", "Family", "canonical_name", "family_of", "format_number",
           "parameterised_names", "register_families", "register_parameterised"]
