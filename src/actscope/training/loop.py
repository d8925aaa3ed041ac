"""Training an ensemble for whole epochs: ``fit`` drives the one training loop
(`training.stepper.Stepper`) on any engine.

Every member has its own batch order (from its seed), so an arm trained here is K
independent networks trained in lock-step. A member whose loss stops being finite is
marked diverged and frozen; the others go on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from actscope.data.generators import Dataset
from actscope.engines.base import Engine
from actscope.nn.model import MLPSpec, Params
from actscope.training.history import History
from actscope.training.stepper import DROPOUT_PURPOSE, Stepper, batch_streams, dropout_masks, dropout_rngs


def fit(
    engine: Engine,
    spec: MLPSpec,
    params: Params,
    data: Dataset,
    train,
    seeds: Sequence[int],
    on_epoch: Callable[[int, History], None] | None = None,
    grad_norms: bool = False,
) -> tuple[Params, History]:
    """Train ``params`` (an ensemble, one member per seed) and return them with history.

    Parameters
    ----------
    engine, spec, params
        The engine, the architecture and the initial parameters (engine arrays; they are
        not modified).
    data, train, seeds
        The dataset, the TrainSpec and one seed per member (its batch order).
    on_epoch
        ``on_epoch(epoch, history)`` after every epoch (progress bars, probes).
    grad_norms
        Record each layer's minibatch gradient norm, averaged over the epoch's batches,
        as ``train/batch_grad_norm.L<i>`` (the output layer is L + 1).

    Returns
    -------
    params, history
        The trained parameters (engine arrays) and the per-epoch History.

    Raises KeyboardInterrupt through; the caller decides what to keep. An engine that
    fuses epochs (``engine.epoch_runner``) gives the same batches and the same history.
    """
    # a diverging member overflows: that is recorded, not warned about (callbacks included)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        stepper = Stepper(engine, spec, params, data, train, seeds, on_epoch=on_epoch, grad_norms=grad_norms)
        for _ in range(train.epochs):
            stepper.run_epoch()
    return stepper.params, stepper.history


__all__ = ["DROPOUT_PURPOSE", "History", "Stepper", "batch_streams", "dropout_masks", "dropout_rngs", "fit"]
