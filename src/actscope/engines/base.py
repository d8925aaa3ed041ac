"""What every engine shares: the Forward record and the engine protocol."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from actscope.nn.model import MLPSpec, Params


@dataclass
class Forward:
    """One forward pass of an ensemble.

    ``prob`` is (K, N) for a binary task and (K, N, C) for C classes; ``logits`` is
    (K, N, n_outputs). With ``record=True``, ``z`` and ``a`` hold each hidden layer's
    pre- and post-activations, each (K, N, width).
    """

    prob: Any
    logits: Any
    z: list = field(default_factory=list)
    a: list = field(default_factory=list)


class Engine(Protocol):
    """The engine contract of DESIGN.md, on the engine's own array type."""

    name: str
    dtype: Any

    def init(self, spec: MLPSpec, seeds, rng: str = "default") -> Params: ...

    def forward(self, spec: MLPSpec, params: Params, X, record: bool = False) -> Forward: ...

    def loss_and_grad(self, spec: MLPSpec, params: Params, X, y, with_accuracy: bool = False): ...

    def loss_and_accuracy(self, spec: MLPSpec, params: Params, X, y) -> tuple[np.ndarray, np.ndarray]: ...

    def to_numpy(self, params: Params) -> Params: ...

    def from_numpy(self, params: Params) -> Params: ...

    def asarray(self, x) -> Any: ...

    def asindex(self, x) -> Any: ...

    def where(self, cond, a, b) -> Any: ...


class MissingExtraError(ImportError):
    """An optional dependency is missing; the message says how to install it."""
