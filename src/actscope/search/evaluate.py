"""One cell of a search: a chunk of candidates on one task at one stage, one ensemble.

The members of a cell are candidate x seed x learning rate (in that order). Each member's
data, network, initial parameters and batch order are built from the cell's plain
experiment spec (`search.spec.cell_spec`) through the functions ``actscope run`` uses, so a
member's numbers are those of ``actscope run`` of that spec by construction; the whole cell
then trains in one `engines.mixed.train_mixed` call (no compile per candidate).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from actscope.activations import Activation, get_activation
from actscope.config import ExperimentSpec
from actscope.data.generators import Dataset, load_dataset
from actscope.engines.mixed import MixedPlan, train_mixed
from actscope.experiment.arms import arm_model
from actscope.nn.model import Layer, MLPSpec, Params, init_params
from actscope.search.canonical import Candidate
from actscope.search.spec import SearchSpec, cell_spec
from actscope.training.stepper import batch_streams

MEMBER_COLUMNS = ("key", "seed", "lr", "train_loss", "val_loss", "val_acc", "test_loss", "test_acc")


def candidate_model(exp: ExperimentSpec, cand: Candidate, data: Dataset) -> MLPSpec:
    """The network of ``cand`` in the cell whose plain spec is ``exp``: `arm_model` of the
    cell's arm with this candidate's activation (a built-in, or its registered program)."""
    name = cand.builtin or cand.activation().name
    return arm_model(exp, exp.arms[0].model_copy(update={"activation": name}), data)


def _stack(blocks: list[list[Layer]]) -> list[Layer]:
    """Concatenate per-candidate parameter lists along the member axis."""
    return [Layer(np.concatenate([b[i].W for b in blocks]), np.concatenate([b[i].b for b in blocks]))
            for i in range(len(blocks[0]))]


def _members(exp: ExperimentSpec, data: Dataset, candidates: Sequence[Candidate], seeds: list[int],
             n_lrs: int) -> tuple[list[Activation], Params, list]:
    """Each candidate's activation, and every member's initial parameters and batch-order
    stream (candidate x seed x rate): those ``actscope run`` of the cell gives that seed."""
    train = exp.train
    idx = np.repeat(np.arange(len(seeds)), n_lrs)  # members of a candidate: seed-major, then rate
    acts, params, streams = [], [], []
    for cand in candidates:
        mlp = candidate_model(exp, cand, data)
        acts.append(get_activation(mlp.activation[0]))
        params.append([Layer(W[idx], b[idx]) for W, b in init_params(mlp, seeds, train.rng)])
        for s in seeds:  # one fresh stream per member
            streams.extend(batch_streams(mlp, [s] * n_lrs, train.rng))
    return acts, _stack(params), streams


def evaluate_cell(spec: SearchSpec, stage_index: int, task: str, candidates: Sequence[Candidate],
                  should_stop: Callable[[], bool] | None = None) -> dict[str, np.ndarray]:
    """Train every member of one cell and return its rows.

    Parameters
    ----------
    spec : SearchSpec
        The search.
    stage_index : int
        Which of ``spec.stages`` (its seeds and epochs).
    task : str
        A name of ``spec.tasks``.
    candidates : sequence of Candidate
        The cell's candidates (at most ``spec.chunk``).
    should_stop : callable, optional
        Passed to the engine (stops training early: then the result is not stored).

    Returns
    -------
    dict of str to ndarray
        One row per member (candidate x seed x lr, in that order): ``key``, ``seed``, ``lr``,
        ``train_loss`` (the mean minibatch loss of the last epoch), ``val_loss``,
        ``val_acc``, ``test_loss``, ``test_acc``.
    """
    stage = spec.stages[stage_index]
    if not candidates:
        return {c: np.zeros(0) for c in MEMBER_COLUMNS}
    seeds, lrs = list(range(stage.seeds)), [float(lr) for lr in spec.lr_grid]
    exp = cell_spec(spec, "relu", task, lrs[0], stage.seeds, stage.epochs)
    data, train = load_dataset(exp.data), exp.train
    acts, params, streams = _members(exp, data, candidates, seeds, len(lrs))
    group = np.repeat(np.arange(len(candidates)), len(seeds) * len(lrs))
    member_lr = np.tile(np.asarray(lrs * len(seeds)), len(candidates))
    sizes = (data.n_features, *spec.hidden, 1)
    plan = MixedPlan(optimizer=train.optimizer, epochs=stage.epochs, batch_size=train.batch_size,
                     momentum=train.momentum, betas=(float(train.betas[0]), float(train.betas[1])),
                     eps=train.eps, weight_decay=train.weight_decay, shuffle=train.shuffle)
    evals = {"val": data.split("val"), "test": data.split("test")}
    out = train_mixed(sizes, acts, group, member_lr, params,
                      data.X_train, data.y_train, streams, plan, evals, dtype=train.dtype,
                      should_stop=should_stop)
    if out is None:
        raise KeyboardInterrupt  # should_stop asked to stop: nothing of this cell is kept
    per = len(seeds) * len(lrs)
    return {
        "key": np.repeat(np.array([c.key for c in candidates]), per),
        "seed": np.tile(np.repeat(np.arange(len(seeds)), len(lrs)), len(candidates)),
        "lr": member_lr,
        "train_loss": np.asarray(out["train_running"][0], dtype=np.float64),
        "val_loss": np.asarray(out["val"][0], dtype=np.float64),
        "val_acc": np.asarray(out["val"][1], dtype=np.float64),
        "test_loss": np.asarray(out["test"][0], dtype=np.float64),
        "test_acc": np.asarray(out["test"][1], dtype=np.float64),
    }
