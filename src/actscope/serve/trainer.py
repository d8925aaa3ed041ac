"""The network and its training: two arms trained as one paired experiment.

The arms come from the playground's ExperimentSpec through ``experiment.arm_model`` and
``arm_train``, so they share the data, the seed (hence the raw init draws) and the batch
order, exactly as ``actscope run`` trains them. Each arm is a `training.stepper.Stepper`,
the training loop ``fit`` drives too, advanced here in bounded slices of minibatch steps:
N epochs here give the parameters that ``actscope run`` gives with ``epochs = N``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from actscope.config import ExperimentSpec, TrainSpec
from actscope.data.generators import Dataset, load_dataset
from actscope.engines import Engine
from actscope.experiment import arm_model, arm_train, make_engine
from actscope.nn.model import MLPSpec, Params
from actscope.training.stepper import Stepper

METRICS = ("train_loss", "test_loss", "train_acc", "test_acc", "running_loss")
HISTORY_KEYS = {"train_loss": "train/loss", "test_loss": "test/loss", "train_acc": "train/accuracy",
                "test_acc": "test/accuracy", "running_loss": "train/running_loss"}
GRAD_KEY = "train/batch_grad_norm.L{}"  # the training loop's per-layer gradient norms


@dataclass
class ArmState:
    """One arm: its architecture, its initial parameters and its training loop."""

    name: str
    activation: str
    mlp: MLPSpec
    train: TrainSpec
    init: Params
    stepper: Stepper | None = None

    @property
    def live(self) -> Stepper:
        """The stepper, made when the trainer starts the arm."""
        assert self.stepper is not None, "the arm has not started"
        return self.stepper

    @property
    def params(self) -> Params:
        """The current parameters (mid-epoch too)."""
        return self.live.params

    @property
    def diverged(self) -> bool:
        """Whether every member of the arm (the playground has one) has diverged."""
        return bool(self.live.diverged.all())

    def curves(self) -> dict[str, np.ndarray]:
        """Each metric of METRICS over the finished epochs (member 0; NaN once diverged)."""
        h, n = self.live.history, self.live.epoch
        return {m: h.values[key][:n, 0] if key in h.values else np.full(n, np.nan)
                for m, key in HISTORY_KEYS.items()}

    def grad_norms(self) -> np.ndarray:
        """(epochs, layers): each finished epoch's mean over its minibatches of each layer's
        gradient norm ||dL/d(W, b)|| (member 0; the output layer last)."""
        h, n = self.live.history, self.live.epoch
        cols = [h.values[key][:n, 0] if key in h.values else np.full(n, np.nan)
                for key in (GRAD_KEY.format(i + 1) for i in range(len(self.init)))]
        return np.stack(cols, axis=1) if cols else np.zeros((n, 0))


class PairedTrainer:
    """Both arms of the playground, stepped together, resettable to the same init.

    ``engine`` (default: the one the spec names) lets tests run the playground on others;
    ``data`` (default: loaded from the spec) is the uploaded points' splits.
    """

    def __init__(self, spec: ExperimentSpec, engine: Engine | None = None,
                 data: Dataset | None = None) -> None:
        self.spec = spec
        self.engine = make_engine(spec.train) if engine is None else engine
        self.data: Dataset = load_dataset(spec.data) if data is None else data
        self.seeds = spec.seeds.as_list()
        self.arms: list[ArmState] = []
        for arm in spec.arms:
            mlp = arm_model(spec, arm, self.data)
            train = arm_train(spec, arm)
            init = self.engine.init(mlp, self.seeds, rng=train.rng)
            act = arm.activation if isinstance(arm.activation, str) else "/".join(arm.activation)
            self.arms.append(ArmState(arm.name, act, mlp, train, init))
        self.reset()

    # state --------------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to epoch 0 with the same initial weights and the same batch order."""
        self.epoch = 0
        for arm in self.arms:
            params = self.engine.from_numpy(self.engine.to_numpy(arm.init))
            arm.stepper = Stepper(self.engine, arm.mlp, params, self.data, arm.train, self.seeds, fuse=False,
                                  grad_norms=True)

    @property
    def n_train(self) -> int:
        return len(self.data.y_train)

    @property
    def batch(self) -> int:
        return min(self.spec.train.batch_size, self.n_train)

    @property
    def steps_per_epoch(self) -> int:
        return -(-self.n_train // self.batch)

    # training -----------------------------------------------------------------------------
    def advance(self, max_steps: int, max_epochs: int, limit_epoch: int,
                budget_s: float | None = None) -> int:
        """Run at most ``max_steps`` minibatch steps (and for about ``budget_s`` seconds at
        most), stopping after ``max_epochs`` finished epochs or at epoch ``limit_epoch``;
        returns the number of epochs finished. How the work is sliced never changes the result."""
        with np.errstate(all="ignore"):  # divergence is detected from the loss, as in fit
            return self._advance(max_steps, max_epochs, limit_epoch, budget_s)

    def _advance(self, max_steps: int, max_epochs: int, limit_epoch: int, budget_s: float | None) -> int:
        done = 0
        deadline = None if budget_s is None else time.perf_counter() + budget_s
        for i in range(max(1, max_steps)):
            if self.epoch >= limit_epoch or done >= max_epochs:
                break
            if deadline is not None and i > 0 and time.perf_counter() > deadline:
                break
            ends = [arm.live.step() for arm in self.arms]
            if all(ends):  # the arms share the batch size: their epochs end together
                for arm in self.arms:
                    arm.live.end_epoch()
                self.epoch += 1
                done += 1
        return done

    def finish_epoch(self, limit_epoch: int) -> int:
        """Train to the end of the current epoch (the Step button)."""
        return self.advance(self.steps_per_epoch, 1, limit_epoch)

    @property
    def all_diverged(self) -> bool:
        return all(a.diverged for a in self.arms)
