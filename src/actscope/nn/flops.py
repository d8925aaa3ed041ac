"""The FLOP convention: what one prediction of a network costs, counted.

A multiply-add of a dense layer counts 2 FLOPs and a bias add 1; each hidden unit's
activation counts the elementary operations of its usual formula, where add, multiply,
divide, negate, compare/max/min/abs count 1 and each transcendental call (exp, log, tanh,
erf, sin) also counts 1 (:data:`ACTIVATION_FLOPS`; an activation not listed counts its
family's :data:`FAMILY_FLOPS`, or its own ``flops`` attribute where it has one). The
output nonlinearity is not counted: a class prediction needs only the sign of the logit
(binary) or the argmax (multi-class).
"""

from __future__ import annotations

from collections.abc import Sequence

from actscope.activations import Activation, get_activation

# FLOPs per evaluation of one unit, and the formula counted.
ACTIVATION_FLOPS: dict[str, tuple[int, str]] = {
    "identity": (0, "x"),
    "relu": (1, "max(x, 0)"),
    "leaky_relu": (2, "max(x, a*x)"),
    "hard_tanh": (2, "min(max(x, -1), 1)"),
    "hard_sigmoid": (4, "min(max(x/6 + 1/2, 0), 1)"),
    "sigmoid": (4, "1 / (1 + exp(-x))"),
    "tanh": (1, "tanh(x)"),
    "softsign": (3, "x / (1 + |x|)"),
    "softplus": (4, "log(1 + exp(b*x)) / b"),
    "elu": (4, "x > 0 ? x : a*(exp(x) - 1)"),
    "selu": (5, "s * (x > 0 ? x : a*(exp(x) - 1))"),
    "gelu": (5, "x * (1 + erf(x / sqrt 2)) / 2"),
    "gelu_tanh": (9, "x/2 * (1 + tanh(c*(x + 0.044715 x^3)))"),
    "silu": (6, "x / (1 + exp(-b*x))"),
    "mish": (6, "x * tanh(log(1 + exp(x)))"),
    "sine": (1, "sin(x)"),
    "gaussian": (3, "exp(-x*x)"),
}
FAMILY_FLOPS = {"linear": 0, "piecewise-linear": 2, "saturating": 4, "smooth": 6}


def activation_flops(activation: str | Activation) -> int:
    """FLOPs of one evaluation of an activation (by the module's convention)."""
    act = get_activation(activation)
    base = act.name.split("(", 1)[0]
    if base in ACTIVATION_FLOPS:
        return ACTIVATION_FLOPS[base][0]
    return FAMILY_FLOPS.get(act.family, 6)


def activation_formula(activation: str | Activation) -> str:
    """The formula whose operations `activation_flops` counts (or the family default)."""
    act = get_activation(activation)
    entry = ACTIVATION_FLOPS.get(act.name.split("(", 1)[0])
    return entry[1] if entry else f"family default ({act.family})"


def prediction_flops(weight_shapes: Sequence[tuple[int, int]], hidden: Sequence[int],
                     per_unit: Sequence[float]) -> float:
    """FLOPs of one forward pass of one input: dense layers, plus ``per_unit[i]`` for each
    unit of hidden layer i."""
    dense = sum(2 * i * o + o for i, o in weight_shapes)
    return float(dense + sum(w * f for w, f in zip(hidden, per_unit)))
