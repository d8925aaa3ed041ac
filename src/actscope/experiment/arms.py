"""One arm of an experiment: its network, its training settings and its engine."""

from __future__ import annotations

from actscope.config import ExperimentSpec, TrainSpec
from actscope.data.generators import Dataset
from actscope.engines import MissingExtraError, get_engine
from actscope.errors import InputError
from actscope.nn.model import MLPSpec


def arm_model(spec: ExperimentSpec, arm, data: Dataset) -> MLPSpec:
    """The MLPSpec of one arm."""
    return MLPSpec(n_inputs=data.n_features, hidden=spec.model.hidden, activation=arm.activation,
                   n_classes=data.n_classes, init=arm.init or spec.model.init)


def arm_train(spec: ExperimentSpec, arm) -> TrainSpec:
    """The TrainSpec of one arm (its own learning rate if it sets one)."""
    return spec.train if arm.lr is None else spec.train.model_copy(update={"lr": arm.lr})


def make_engine(train: TrainSpec):
    """The engine a TrainSpec names, or an InputError that says what is wrong."""
    try:
        return get_engine(train.engine, dtype=train.dtype, device=train.device)
    except MissingExtraError as err:
        raise InputError(str(err)) from None
    except ValueError as err:
        raise InputError(f"train.engine = {train.engine!r}: {err}") from None
