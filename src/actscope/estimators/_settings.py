"""From an estimator's parameters to the library's own objects: the MLPSpec, the TrainSpec
and the seeds. Checked here, when ``fit`` starts, never in ``__init__`` (scikit-learn's
convention: ``set_params`` and ``clone`` must accept anything).

Every message is one line, ``ActscopeClassifier: field = value: reason``, raised as a
ValueError, as scikit-learn's own parameter checks do.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from pydantic import ValidationError

from actscope.activations import UnknownActivationError, get_activation
from actscope.config import TrainSpec, check_init_scheme, format_validation_error
from actscope.config.validation import MAX_SEED
from actscope.errors import shown
from actscope.nn.model import MLPSpec


def activation_name(value: str) -> str:
    """The canonical name of one activation: a registered or parameterised name, a formula
    written ``"f(x) = ..."``, or a bare formula in ``x`` (``"x * tanh(log(1 + exp(x)))"``)."""
    try:
        return get_activation(value).name
    except UnknownActivationError:
        if value.strip().startswith("f(x)"):
            raise
        try:  # not a name: read it as the right-hand side of f(x) = ...
            return get_activation(f"f(x) = {value}").name
        except ValueError:
            raise UnknownActivationError(f"not a registered activation and not a formula in x; "
                                         f"known: {', '.join(_known())}") from None


def _known() -> list[str]:
    from actscope.activations import list_activations

    return list_activations()


def hidden_sizes(owner: str, hidden) -> tuple[int, ...]:
    """The hidden layer widths: one int (one layer) or a sequence of positive ints."""
    sizes = [hidden] if isinstance(hidden, Integral) else list(np.ravel(np.asarray(hidden, dtype=object)))
    if not sizes or not all(isinstance(h, Integral) and not isinstance(h, bool) and int(h) >= 1
                            for h in sizes):
        raise ValueError(f"{owner}: hidden = {shown(_plain(hidden))}: hidden layer widths are one or "
                         "more integers >= 1")
    return tuple(int(h) for h in sizes)


def _plain(value):
    """A value as a message shows it (tuples and arrays as lists)."""
    if isinstance(value, str | int):
        return value
    return list(np.ravel(np.asarray(value, dtype=object)).tolist())


def network(owner: str, params: dict, n_inputs: int, n_classes: int) -> MLPSpec:
    """The MLPSpec the parameters describe, or a one-line ValueError naming the field."""
    hidden = hidden_sizes(owner, params["hidden"])
    act = params["activation"]
    acts = [act] * len(hidden) if isinstance(act, str) else list(act)
    if len(acts) != len(hidden) or not all(isinstance(a, str) for a in acts):
        raise ValueError(f"{owner}: activation = {shown(_plain(act))}: one activation, or one per hidden "
                         f"layer ({len(hidden)} here)")
    names = []
    for a in acts:
        try:
            names.append(activation_name(a))
        except ValueError as err:
            raise ValueError(f"{owner}: activation = {shown(a)}: {err}") from None
    try:
        init = check_init_scheme(params["init"])
    except ValueError as err:
        raise ValueError(f"{owner}: init = {shown(params['init'])}: {err}") from None
    return MLPSpec(n_inputs=n_inputs, hidden=hidden, activation=names, n_classes=n_classes, init=init)


def train_spec(owner: str, params: dict) -> TrainSpec:
    """The TrainSpec of one fit, validated by the spec's own rules. The splits are evaluated
    only at the last epoch: the loss curve is the running training loss of every epoch."""
    fields = {"optimizer": params["optimizer"], "lr": float(params["lr"]), "epochs": int(params["epochs"]),
              "batch_size": int(params["batch_size"]), "l2": float(params["l2"]),
              "engine": params["engine"], "eval_every": int(params["epochs"])}
    try:
        return TrainSpec(**fields)
    except ValidationError as err:
        raise ValueError(format_validation_error(err, owner)) from None


def member_seeds(owner: str, random_state, n_members: int) -> list[int]:
    """The members' seeds: ``random_state``, ``random_state + 1``, ... for an int (member k
    then has the initial draws and batch order of member k of an experiment with ``[seeds]
    start = random_state``); consecutive seeds from a drawn start for a RandomState or None."""
    if isinstance(random_state, Integral):
        start = int(random_state)
    else:
        from sklearn.utils import check_random_state

        start = int(check_random_state(random_state).randint(0, MAX_SEED - n_members + 1))
    if start + n_members - 1 > MAX_SEED:
        raise ValueError(f"{owner}: random_state = {start}: the seeds random_state to random_state + "
                         f"n_members - 1 must be at most {MAX_SEED}")
    return list(range(start, start + n_members))
