"""The learning-rate grid of a tuned TrainSpec, made explicit when the spec is validated.

Choosing among the rates (training one ensemble per rate) is ``actscope.training.tuning``'s
job; the spec only says which rates there are.
"""

from __future__ import annotations

from actscope.training.tuning import DEFAULT_LR_GRID


def resolve_tuning(spec) -> None:
    """Make a tuned ExperimentSpec explicit: its grid, and a validation split.

    Called by the spec's validator when ``[train] lr = "tune"``: an absent ``lr_grid``
    becomes :data:`DEFAULT_LR_GRID`; ``[data] val_size = 0`` becomes ``train.tune_val_size``.
    """
    train = spec.train
    if train.lr_grid is None:
        object.__setattr__(spec, "train", train.model_copy(update={"lr_grid": list(DEFAULT_LR_GRID)}))
    else:
        object.__setattr__(spec, "train", train.model_copy(update={"lr_grid": sorted(set(train.lr_grid))}))
    if spec.data.val_size == 0:
        object.__setattr__(spec, "data", spec.data.model_copy(update={"val_size": train.tune_val_size}))
