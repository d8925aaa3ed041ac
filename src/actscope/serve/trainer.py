"""The network and its training: two arms trained as one paired experiment.

The arms come from the playground's ExperimentSpec through ``experiment.arm_model`` and
``arm_train``, so they share the data, the seed (hence the raw init draws) and the batch
order, exactly as ``actscope run`` trains them. Training advances in bounded slices of
minibatch steps; the sequence of steps is that of ``train.fit``, so N epochs here give the
parameters that ``actscope run`` gives with ``epochs = N``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from actscope.config import ExperimentSpec, TrainSpec
from actscope.data.generators import Dataset, load_dataset
from actscope.experiment import arm_model, arm_train, make_engine
from actscope.nn.model import MLPSpec, Params
from actscope.training.loop import batch_streams
from actscope.training.optimizers import Optimizer, make_optimizer

METRICS = ("train_loss", "test_loss", "train_acc", "test_acc", "running_loss")


@dataclass
class ArmState:
    """One arm: its architecture, its initial and current parameters, its optimiser."""

    name: str
    activation: str
    mlp: MLPSpec
    train: TrainSpec
    init: Params
    params: Params = None  # type: ignore[assignment]
    opt: Optimizer | None = None
    streams: list = field(default_factory=list)
    perm: np.ndarray | None = None
    loss_sum: float = 0.0
    diverged_epoch: int | None = None
    history: dict[str, list[float]] = field(default_factory=dict)

    @property
    def diverged(self) -> bool:
        return self.diverged_epoch is not None


class PairedTrainer:
    """Both arms of the playground, stepped together, resettable to the same init."""

    def __init__(self, spec: ExperimentSpec) -> None:
        self.spec = spec
        self.engine = make_engine(spec.train)
        self.data: Dataset = load_dataset(spec.data)
        self.seeds = spec.seeds.as_list()
        self.X_train = self.engine.asarray(self.data.X_train)
        self.y_train = self.engine.asarray(self.data.y_train.astype(np.float64))
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
        self.pos = 0
        for arm in self.arms:
            arm.params = self.engine.from_numpy(self.engine.to_numpy(arm.init))
            arm.opt = make_optimizer(arm.train)
            arm.streams = batch_streams(arm.mlp, self.seeds, arm.train.rng)
            arm.perm, arm.loss_sum, arm.diverged_epoch = None, 0.0, None
            arm.history = {k: [] for k in METRICS}
        self.steps_in_epoch = 0

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
    def _step(self, arm: ArmState) -> None:
        if arm.perm is None:
            arm.perm = np.stack([st.permutation(self.n_train) for st in arm.streams])
        if arm.diverged:
            return
        idx = self.engine.asindex(arm.perm[:, self.pos:self.pos + self.batch])
        loss, grads = self.engine.loss_and_grad(arm.mlp, arm.params, self.X_train[idx], self.y_train[idx])
        loss = float(np.asarray(loss, dtype=np.float64)[0])
        if not np.isfinite(loss):
            arm.diverged_epoch = self.epoch
            return
        arm.params = arm.opt.step(arm.params, grads)
        arm.loss_sum += loss

    def _end_epoch(self) -> None:
        for arm in self.arms:
            arm.perm = None
            h = arm.history
            h["running_loss"].append(np.nan if arm.diverged else arm.loss_sum / self.steps_in_epoch)
            arm.loss_sum = 0.0
            for split in ("train", "test"):
                X, y = self.data.split(split)
                loss, acc = self.engine.loss_and_accuracy(arm.mlp, arm.params, X, y)
                bad = arm.diverged
                h[f"{split}_loss"].append(np.nan if bad else float(np.asarray(loss)[0]))
                h[f"{split}_acc"].append(np.nan if bad else float(np.asarray(acc)[0]))
        self.epoch += 1
        self.pos = 0
        self.steps_in_epoch = 0

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
            for arm in self.arms:
                self._step(arm)
            self.pos += self.batch
            self.steps_in_epoch += 1
            if self.pos >= self.n_train:
                self._end_epoch()
                done += 1
        return done

    def finish_epoch(self, limit_epoch: int) -> int:
        """Train to the end of the current epoch (the Step button)."""
        return self.advance(self.steps_per_epoch, 1, limit_epoch)

    @property
    def all_diverged(self) -> bool:
        return all(a.diverged for a in self.arms)
