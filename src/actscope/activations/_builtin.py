"""The built-in activations, as a plain table: one expression in ``z`` each.

Everything else (NumPy and torch callables, the derivative, the kernels) is derived. A
``grad`` entry is a hand-tuned derivative overriding the derived one, kept only where it
is better: softsign's quotient rule would cancel for large |z|, and hard_sigmoid's test
is written on z instead of recomputing z / 6 + 1/2 (tests check both agree with the
derived ones).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial

import numpy as np
from scipy.special import expit

from actscope.activations._define import Definition, build
from actscope.activations._registry import register_lazy

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_INF = np.inf


def _torch():
    import torch  # only when a torch engine evaluates an activation

    return torch


def _sigmoid_grad(z: np.ndarray) -> np.ndarray:
    s = expit(z)
    return s * (1.0 - s)


def _torch_sigmoid_grad(z):
    s = _torch().sigmoid(z)
    return s * (1 - s)


# Hand-tuned array forms of the activations a small network evaluates most: one fused call
# each (the compiled expression tree costs a few microseconds per call more, which is most
# of a minibatch step at width 8). The derived forms stay the definition: tests compare.
_FAST: dict[str, tuple[tuple[Callable, Callable], tuple[Callable, Callable]]] = {
    "identity": ((lambda z: z, np.ones_like),
                 (lambda z: z, lambda z: _torch().ones_like(z))),
    "sigmoid": ((expit, _sigmoid_grad),
                (lambda z: _torch().sigmoid(z), _torch_sigmoid_grad)),
    "tanh": ((np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
             (lambda z: _torch().tanh(z), lambda z: 1 - _torch().tanh(z) ** 2)),
    "relu": ((lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(z.dtype)),
             (lambda z: _torch().relu(z), lambda z: (z > 0).to(z.dtype))),
}

BUILTINS: tuple[Definition, ...] = (
    Definition("identity", "z", "linear", gain=1.0, torch_name="identity",
               description="no activation: the layer stays affine"),
    Definition("sigmoid", "sigmoid(z)", "saturating", gain=1.0, range=(0.0, 1.0),
               torch_name="sigmoid", description="logistic 1 / (1 + exp(-x))"),
    Definition("tanh", "tanh(z)", "saturating", gain=5.0 / 3.0, range=(-1.0, 1.0),
               torch_name="tanh", description="hyperbolic tangent"),
    Definition("relu", "z if z > 0.0 else 0.0", "piecewise-linear", gain=float(np.sqrt(2.0)),
               range=(0.0, _INF), torch_name="relu", description="max(0, x)"),
    Definition("selu", f"{_SELU_SCALE!r} * (z if z > 0.0 else {_SELU_ALPHA!r} * expm1(min(z, 0.0)))",
               "smooth", gain=1.0, range=(-_SELU_SCALE * _SELU_ALPHA, _INF), torch_name="selu",
               description="scaled ELU, self-normalising (Klambauer et al. 2017); use with lecun init"),
    Definition("gelu", "z * ndtr(z)", "smooth", range=(-0.16997121, _INF), torch_name="gelu",
               description="x * Phi(x), the exact (erf) form"),
    Definition("gelu_tanh", "0.5 * z * (1.0 + tanh(0.7978845608028654 * (z + 0.044715 * z * z * z)))",
               "smooth", range=(-0.17004076, _INF), torch_name="gelu_tanh",
               description="GELU, tanh approximation"),
    Definition("mish", "z * tanh(softplus(z))", "smooth", range=(-0.30884342, _INF),
               torch_name="mish", description="x * tanh(softplus(x))"),
    Definition("softsign", "z / (1.0 + abs(z))", "saturating", range=(-1.0, 1.0),
               grad="1.0 / ((1.0 + abs(z)) * (1.0 + abs(z)))", torch_name="softsign",
               description="x / (1 + |x|)"),
    Definition("hard_sigmoid", "clip(z / 6.0 + 0.5, 0.0, 1.0)", "saturating", range=(0.0, 1.0),
               grad="1.0 / 6.0 if z > -3.0 and z < 3.0 else 0.0", torch_name="hardsigmoid",
               description="clip(x / 6 + 1/2, 0, 1), as torch"),
    Definition("hard_tanh", "clip(z, -1.0, 1.0)", "saturating", range=(-1.0, 1.0),
               torch_name="hardtanh", description="clip(x, -1, 1)"),
    Definition("sine", "sin(z)", "smooth", range=(-1.0, 1.0), torch_name="sin",
               description="sin(x), periodic (SIREN)"),
    Definition("gaussian", "exp(-z * z)", "smooth", range=(0.0, 1.0), torch_name="gaussian",
               description="exp(-x^2), a radial bump"),
)


BUILTINS = tuple(replace(d, numpy=_FAST[d.name][0], torch=_FAST[d.name][1]) if d.name in _FAST else d
                 for d in BUILTINS)


def register_builtins() -> None:
    """Register every row of ``BUILTINS`` (each is built when first looked up)."""
    for d in BUILTINS:
        register_lazy(d.name, partial(build, d))


__all__ = ["BUILTINS", "register_builtins"]
