"""The activation registry: one object per activation, looked up by name.

Each entry carries its function, its derivative, its family, a suggested init gain and
its range, so engines, probes and theory never branch on an activation's name
(the pattern of scikit-learn's ``neural_network/_base.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit

Array = np.ndarray
FAMILIES = ("piecewise-linear", "saturating", "smooth", "linear")


@dataclass(frozen=True)
class Activation:
    """An activation function and everything an engine needs to know about it."""

    name: str
    fn: Callable[[Array], Array]
    grad: Callable[[Array], Array]
    family: str
    gain: float = 1.0
    range: tuple[float, float] = (-np.inf, np.inf)
    params: dict = field(default_factory=dict)
    torch_name: str | None = None
    description: str = ""
    # torch equivalents, taking and returning tensors (imported lazily by the torch engine)
    torch_fn: Callable | None = None
    torch_grad: Callable | None = None

    @property
    def is_relu_family(self) -> bool:
        return self.family == "piecewise-linear"

    def __call__(self, z: Array) -> Array:
        return self.fn(z)


_REGISTRY: dict[str, Activation] = {}


def register(act: Activation, *, overwrite: bool = False) -> Activation:
    """Add an activation to the registry (refusing silent replacement)."""
    if act.family not in FAMILIES:
        raise ValueError(f"family {act.family!r} is not one of {', '.join(FAMILIES)}")
    if act.name in _REGISTRY and not overwrite:
        raise ValueError(f"activation {act.name!r} is already registered")
    _REGISTRY[act.name] = act
    return act


def list_activations() -> list[str]:
    """Names of every registered activation, sorted."""
    return sorted(_REGISTRY)


class UnknownActivationError(ValueError):
    pass


def get_activation(name: str | Activation) -> Activation:
    """Look an activation up by name; the error lists the known names."""
    if isinstance(name, Activation):
        return name
    key = str(name).strip()
    if key in _REGISTRY:
        return _REGISTRY[key]
    raise UnknownActivationError(
        f"unknown activation {name!r}; known: {', '.join(list_activations())}"
    )


def _torch():
    import torch

    return torch


def _sigmoid_grad(z: Array) -> Array:
    s = expit(z)
    return s * (1.0 - s)


register(Activation(
    "identity", lambda z: z, np.ones_like, "linear", gain=1.0,
    torch_name="identity", description="no activation: the layer stays affine",
    torch_fn=lambda z: z, torch_grad=lambda z: _torch().ones_like(z),
))
register(Activation(
    "sigmoid", expit, _sigmoid_grad, "saturating", gain=1.0, range=(0.0, 1.0),
    torch_name="sigmoid", description="logistic 1 / (1 + exp(-x))",
    torch_fn=lambda z: _torch().sigmoid(z),
    torch_grad=lambda z: _torch().sigmoid(z) * (1 - _torch().sigmoid(z)),
))
register(Activation(
    "tanh", np.tanh, lambda z: 1.0 - np.tanh(z) ** 2, "saturating", gain=5.0 / 3.0,
    range=(-1.0, 1.0), torch_name="tanh", description="hyperbolic tangent",
    torch_fn=lambda z: _torch().tanh(z), torch_grad=lambda z: 1 - _torch().tanh(z) ** 2,
))
register(Activation(
    "relu", lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(z.dtype),
    "piecewise-linear", gain=float(np.sqrt(2.0)), range=(0.0, np.inf),
    torch_name="relu", description="max(0, x)",
    torch_fn=lambda z: _torch().relu(z), torch_grad=lambda z: (z > 0).to(z.dtype),
))


def describe(name: str) -> dict:
    """A row of facts about an activation: family, range, value and derivative at 0, gain."""
    act = get_activation(name)
    z0 = np.zeros(1)
    return {"name": act.name, "family": act.family,
            "range": f"({act.range[0]:g}, {act.range[1]:g})",
            "f0": float(act.fn(z0)[0]), "df0": float(act.grad(z0)[0]), "gain": act.gain}


def activation_table() -> str:
    """A plain-text table of every registered activation."""
    rows = [describe(n) for n in list_activations()]
    head = f"{'name':<16}{'family':<18}{'range':<16}{'f(0)':>8}{'df/dx(0)':>10}{'gain':>8}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['name']:<16}{r['family']:<18}{r['range']:<16}{r['f0']:>8.3f}"
                     f"{r['df0']:>10.3f}{r['gain']:>8.3f}")
    return "\n".join(lines)
