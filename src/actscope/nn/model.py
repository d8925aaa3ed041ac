"""MLPSpec: the architecture of an ensemble, its initialisation and its size.

A spec is engine independent. Initial parameters are computed here, in NumPy, from
per-member random streams, so a seed names one network whatever engine trains it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from actscope.activations import Activation, get_activation
from actscope.nn.flops import activation_flops as unit_flops
from actscope.nn.flops import prediction_flops
from actscope.nn.inits import all_init_schemes, is_init_scheme, scale_of
from actscope.seeding import Stream, init_stream


class Layer(NamedTuple):
    """A dense layer stacked over K members: W is (K, fan_in, fan_out), b is (K, fan_out)."""

    W: object
    b: object


Params = list  # list[Layer], input to output


@dataclass(frozen=True)
class MLPSpec:
    """A multi-layer perceptron: sizes, one activation per hidden layer, init, output.

    ``activation`` is one name (every hidden layer) or one per hidden layer. With
    ``n_classes == 2`` the output is one logit with a sigmoid; above that, a softmax.
    """

    n_inputs: int
    hidden: Sequence[int]
    activation: str | Sequence[str] = "relu"
    n_classes: int = 2
    init: str = "auto"
    if TYPE_CHECKING:  # set in __post_init__; at run time not a dataclass field
        _acts: tuple[Activation, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        given: Sequence[object] = self.activation
        if isinstance(given, str) or isinstance(given, Activation):
            given = [given] * len(self.hidden)
        acts = tuple(a.name if isinstance(a, Activation) else str(a) for a in given)
        if len(acts) != len(self.hidden):
            raise ValueError(
                f"activation: {len(acts)} given for {len(self.hidden)} hidden layers"
            )
        object.__setattr__(self, "activation", acts)
        if self.n_inputs < 1:
            raise ValueError(f"n_inputs = {self.n_inputs}: must be >= 1")
        for i, h in enumerate(self.hidden):
            if h < 1:
                raise ValueError(f"hidden[{i}] = {h}: must be >= 1")
        if self.n_classes < 2:
            raise ValueError(f"n_classes = {self.n_classes}: must be >= 2")
        object.__setattr__(self, "_acts", tuple(get_activation(a) for a in acts))
        # canonical names: "leaky_relu(slope=0.1)" -> "leaky_relu(0.1)", "swish" -> "silu"
        object.__setattr__(self, "activation", tuple(a.name for a in self._acts))
        if not is_init_scheme(self.init):
            raise ValueError(f"init {self.init!r} is not one of {', '.join(all_init_schemes())}")

    @property
    def n_outputs(self) -> int:
        return 1 if self.n_classes == 2 else self.n_classes

    @property
    def sizes(self) -> tuple[int, ...]:
        return (self.n_inputs, *self.hidden, self.n_outputs)

    @property
    def depth(self) -> int:
        return len(self.hidden)

    @property
    def activations(self) -> tuple[Activation, ...]:
        """The registry objects of the hidden layers (resolved once, at construction)."""
        return self._acts

    @property
    def weight_shapes(self) -> list[tuple[int, int]]:
        s = self.sizes
        return [(s[i], s[i + 1]) for i in range(len(s) - 1)]

    @property
    def n_params(self) -> int:
        return sum(i * o + o for i, o in self.weight_shapes)

    def flops_per_prediction(self, activation_flops: float | None = None) -> float:
        """FLOPs of one forward pass of one input, by the convention of `actscope.nn.flops`.

        Multiply-adds count 2 FLOPs, bias adds 1; each activation evaluation counts its
        own FLOPs, or ``activation_flops`` for every one when that is given.
        """
        per_unit = [unit_flops(a) if activation_flops is None else activation_flops
                    for a in self.activations]
        return prediction_flops(self.weight_shapes, self.hidden, per_unit)

    def label(self) -> str:
        acts = self.activation
        act = acts[0] if len(set(acts)) == 1 else "/".join(acts)
        return f"{'-'.join(map(str, self.sizes))} {act}"


# Initial parameters ----------------------------------------------------------------------

def _layer_activations(spec: MLPSpec) -> list[Activation]:
    """The activation each weight matrix is scaled for: the one it feeds (the last
    hidden one for the output layer), as the reference article does."""
    acts = list(spec.activations)
    return acts + [acts[-1] if acts else get_activation("identity")]


def _draw(stream: Stream, dist: str, shape: tuple[int, ...]) -> np.ndarray:
    if dist == "normal":
        return stream.standard_normal(shape)
    if dist == "uniform":
        return stream.uniform(-1.0, 1.0, size=shape)
    if dist == "orthogonal":  # orthonormal columns (or rows), entries of unit variance
        A = stream.standard_normal(shape)
        flip = A.ndim == 2 and A.shape[0] < A.shape[1]
        q, r = np.linalg.qr(A.T if flip else A)
        q = q * np.where(np.diag(r) < 0, -1.0, 1.0)
        return (q.T if flip else q) * np.sqrt(max(shape))
    raise ValueError(f"unknown draw distribution {dist!r}")


def _init_plan(spec: MLPSpec) -> list[tuple[tuple[int, int], str, float, tuple | None]]:
    """Per weight matrix: (shape, distribution, scale, (bias distribution, scale) or None),
    worked out once for all members."""
    plan = []
    for (fan_in, fan_out), act in zip(spec.weight_shapes, _layer_activations(spec)):
        (dist, scale), bias = scale_of(spec.init, fan_in, fan_out, act)
        plan.append(((fan_in, fan_out), dist, scale, bias))
    return plan


def draw_raw_weights(spec: MLPSpec, stream: Stream, plan=None) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """Draw one member's raw weights from ``stream`` in layer order (W1, W2, ...).

    Biases draw nothing unless the scheme initialises them, so under the article
    protocol the stream advances exactly as the article's ``np.random.randn`` calls.
    """
    out = []
    for shape, dist, _, bias in plan or _init_plan(spec):
        W = _draw(stream, dist, shape)
        out.append((W, None if bias is None else _draw(stream, bias[0], (shape[1],))))
    return out


def init_params(spec: MLPSpec, seeds: Sequence[int], rng: str = "default") -> Params:
    """Initial parameters in float64 NumPy, one member per seed (engines convert them)."""
    plan = _init_plan(spec)
    K = len(seeds)
    Ws = [np.empty((K, *shape)) for shape, *_ in plan]
    bs = [np.zeros((K, shape[1])) for shape, *_ in plan]
    for k, seed in enumerate(seeds):
        raw = draw_raw_weights(spec, init_stream(int(seed), rng), plan)
        for (W, b), (_, _, scale, bias), Wk, bk in zip(raw, plan, Ws, bs):
            Wk[k] = W * scale
            if b is not None and bias is not None:  # b is drawn exactly where bias is set
                bk[k] = b * bias[1]
    return [Layer(W, b) for W, b in zip(Ws, bs)]


def advance_past_init(spec: MLPSpec):
    """A function that replays the init draws on a stream (for the article protocol)."""
    return lambda stream: draw_raw_weights(spec, stream)


_DRAW_VARIANCE = {"normal": 1.0, "uniform": 1.0 / 3.0, "orthogonal": 1.0}  # variance of one raw draw


def init_variances(spec: MLPSpec) -> list[tuple[float, float]]:
    """(σw², σb²) of each weight matrix's init, in the mean-field convention
    W ~ (0, σw²/fan_in), b ~ (0, σb²): what ``theory`` places in its phase diagram."""
    out = []
    for (fan_in, fan_out), act in zip(spec.weight_shapes, _layer_activations(spec)):
        (dist, scale), bias = scale_of(spec.init, fan_in, fan_out, act)
        sb2 = 0.0
        if bias is not None:
            bdist, bscale = bias
            sb2 = _DRAW_VARIANCE[bdist] * bscale**2
        out.append((fan_in * _DRAW_VARIANCE[dist] * scale**2, sb2))
    return out
