"""What every engine shares: the Forward record, the capabilities an engine declares, the
plan a fused epoch runner is given, and the engine protocol itself.

Callers read an engine only through what `Engine` declares: there is no probing for
optional members. What differs between engines is stated in `Capabilities`.
"""

from __future__ import annotations

from collections.abc import Sequence
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


@dataclass(frozen=True)
class Capabilities:
    """What an engine can do, declared once so that callers never probe for it.

    Attributes
    ----------
    dropout : bool
        ``forward`` and ``loss_and_grad`` apply dropout ``masks``.
    multiclass : bool
        Softmax outputs (``n_classes > 2``) are supported.
    fused_epochs : bool
        ``epoch_runner`` can return a runner that trains whole epochs at once (for the
        specs and optimisers its kernels cover; it returns None for the others).
    fork_safe : bool
        The engine survives a ``fork`` (no thread pool of its own), so arms may train in
        forked processes.
    max_fused_params : int
        The largest network (parameters per member) the fused runner takes; 0 if none.
    """

    dropout: bool = True
    multiclass: bool = True
    fused_epochs: bool = False
    fork_safe: bool = False
    max_fused_params: int = 0


@dataclass(frozen=True)
class EpochPlan:
    """What a fused epoch runner needs to train as the training loop would.

    The optimiser by name (one of ``training.optimizers.OPTIMIZERS``) with its
    hyperparameters, the minibatch size, whether batches are shuffled, and each member's
    batch-order stream (numpy Generators, drawn from as ``st.permutation(n)``); and the
    epochs the runner will be asked for (0: not known), so that an engine can weigh
    compiling against the work (``engine = "auto"``).
    """

    optimizer: str
    lr: float
    momentum: float
    betas: tuple[float, float]
    eps: float
    weight_decay: float
    batch_size: int
    shuffle: bool
    streams: Sequence[Any]
    epochs: int = 0


class EpochRunner(Protocol):
    """Trains whole epochs in one call; owns its copy of the parameters and optimiser state."""

    @property
    def params(self) -> Params:
        """The current parameters (engine arrays)."""
        ...

    def run_epoch(self, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One epoch for the members where ``keep`` is True: (mean minibatch loss (K,),
        points classified right (K,), members still kept (K,)), as NumPy arrays."""
        ...


class Engine(Protocol):
    """The engine contract of docs/design.md, on the engine's own array type.

    Every member here is present on every engine; what an engine cannot do is stated in
    ``capabilities`` (and ``epoch_runner`` returns None where it cannot fuse).
    """

    name: str
    dtype: Any
    device: str
    capabilities: Capabilities

    def init(self, spec: MLPSpec, seeds, rng: str = "default") -> Params: ...

    def forward(self, spec: MLPSpec, params: Params, X, record: bool = False, masks=None) -> Forward: ...

    def loss_and_grad(self, spec: MLPSpec, params: Params, X, y, with_accuracy: bool = False,
                      masks=None): ...

    def loss_and_accuracy(self, spec: MLPSpec, params: Params, X, y) -> tuple[np.ndarray, np.ndarray]: ...

    def to_numpy(self, params: Params) -> Params: ...

    def from_numpy(self, params: Params) -> Params: ...

    def asarray(self, x) -> Any: ...

    def asindex(self, x) -> Any: ...

    def where(self, cond, a, b) -> Any: ...

    def zeros(self, n: int) -> Any:
        """A float64 vector of ``n`` zeros on the engine's device (sums over minibatches)."""
        ...

    def to_host(self, x) -> np.ndarray:
        """One engine array as a NumPy array (a device sync where there is a device)."""
        ...

    def epoch_runner(self, spec: MLPSpec, params: Params, X, y, plan: EpochPlan) -> EpochRunner | None:
        """A runner that trains whole epochs of ``plan``, or None where this engine cannot
        fuse this spec and optimiser (the training loop then steps minibatches itself)."""
        ...

    def decision(self) -> dict | None:
        """What the engine chose for the networks it trained and why (``chosen``,
        ``reason``: recorded in metrics.json), or None where it makes no choice."""
        ...


class MissingExtraError(ImportError):
    """An optional dependency is missing; the message says how to install it."""
