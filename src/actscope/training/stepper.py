"""The one training loop: a `Stepper` advances an ensemble one minibatch at a time.

Every member has its own batch order (from its seed), so an ensemble trained here is K
independent networks trained in lock-step. A member whose minibatch loss stops being
finite is marked diverged: from that step its gradients (and, at that step, its
optimiser state) are zero; the others go on. Divergence, history, the per-epoch callback
and the optimiser state live here and nowhere else.

Three drivers share it: ``loop.fit`` runs whole epochs; the playground
(``serve.trainer``) runs bounded slices of ``step()`` calls; an engine that fuses epochs
(``engine.epoch_runner``) replaces the minibatch steps of each epoch with one call.
Loss and accuracy sums stay engine arrays until the epoch ends, and on a device
(``engine.device`` not "cpu") the diverged members are masked without asking the host,
so a CUDA epoch runs without a host round trip per batch.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from actscope.engines.base import Engine, EpochPlan, EpochRunner
from actscope.errors import InputError
from actscope.nn.model import MLPSpec, Params, advance_past_init
from actscope.seeding import aux_rng, batch_stream
from actscope.training.gradnorms import add_layer_norms
from actscope.training.history import History
from actscope.training.optimizers import apply_updates, make_optimizer, map_members
from actscope.training.schedule import evaluates

DROPOUT_PURPOSE = 7001  # seeding.aux_rng purpose of the dropout masks
PARALLEL_ORDERS = 4096  # members from which batch orders are drawn by numba (when installed)


def _quiet() -> np.errstate:
    """A diverging member overflows: no warnings for it."""
    return np.errstate(over="ignore", invalid="ignore", divide="ignore")


def batch_streams(spec: MLPSpec, seeds: Sequence[int], rng: str) -> list:
    """One batch-order stream per member (continuing the init stream under 'article')."""
    advance = advance_past_init(spec) if rng == "article" else None
    return [batch_stream(int(s), rng, advance) for s in seeds]


def batch_orders(streams: Sequence, n: int, shuffle: bool) -> Callable[[], np.ndarray]:
    """Each epoch's (K, n) batch order: ``st.permutation(n)`` per member (drawn in parallel
    by numba for large ensembles, with the same values), or 0..n-1 without shuffling."""
    K = len(streams)
    if not shuffle:
        fixed = np.broadcast_to(np.arange(n), (K, n))
        return lambda: fixed
    if K >= PARALLEL_ORDERS and importlib.util.find_spec("numba") is not None:
        from actscope.engines.fast_engine import BatchOrders

        return BatchOrders(streams, n).next
    return lambda: np.stack([st.permutation(n) for st in streams])


def dropout_rngs(engine: Engine, train, seeds: Sequence[int]) -> list | None:
    """One Generator per member for its dropout masks (None when dropout is off); an
    InputError where the engine's capabilities have no dropout."""
    if train.dropout <= 0:
        return None
    if not engine.capabilities.dropout:
        raise InputError(f"train.dropout = {train.dropout}: the {engine.name} engine has no dropout; "
                         "use engine = \"numpy\"")
    return [aux_rng(int(s), DROPOUT_PURPOSE) for s in seeds]


def dropout_masks(engine: Engine, spec: MLPSpec, p: float, rngs: list, n: int) -> list:
    """Inverted-dropout masks, one (K, n, width) array per hidden layer: 0 with probability
    ``p``, else 1 / (1 - p). Drawn in NumPy so every engine sees the same masks."""
    out = []
    for width in spec.hidden:
        m = np.stack([(r.random((n, width)) >= p) / (1.0 - p) for r in rngs])
        out.append(engine.asarray(m))
    return out


def check_capabilities(engine: Engine, spec: MLPSpec, train) -> None:
    """An InputError, in one line, for what the engine's capabilities say it cannot train."""
    if spec.n_outputs > 1 and not engine.capabilities.multiclass:
        raise InputError(f"{spec.n_classes} classes: the {engine.name} engine trains binary tasks only; "
                         "use engine = \"numpy\"")
    dropout_rngs(engine, train, [])  # refuses dropout the engine does not have


class Stepper:
    """One ensemble's training state: parameters, optimiser state, which members are still
    kept, the epoch's batch orders and position, the running sums and the History.

    ``step()`` trains one minibatch for every member and says when the epoch's batches are
    done; ``end_epoch()`` then records the epoch. ``run_epoch()`` does a whole epoch.

    Parameters
    ----------
    engine, spec, params, data, train, seeds
        As for ``loop.fit``: ``params`` are not modified.
    on_epoch
        ``on_epoch(epoch, history)`` after every epoch.
    grad_norms
        Record each layer's minibatch gradient norm (epoch mean), as fit does.
    fuse
        Let the engine's epoch runner train whole epochs where it has one for this run
        (then only ``run_epoch()`` advances); False for a driver that slices epochs.
    sync_free
        Mask diverged members without reading anything back to the host (default: when
        ``engine.device`` is not "cpu"); the numbers are the same either way.
    """

    def __init__(self, engine: Engine, spec: MLPSpec, params: Params, data, train, seeds: Sequence[int], *,
                 on_epoch: Callable[[int, History], None] | None = None, grad_norms: bool = False,
                 fuse: bool = True, sync_free: bool | None = None) -> None:
        check_capabilities(engine, spec, train)
        self.engine, self.spec, self.train, self.on_epoch = engine, spec, train, on_epoch
        self.grad_norms = grad_norms
        self.K, self.n = len(seeds), len(data.y_train)
        self.B = min(train.batch_size, self.n)
        self.steps_per_epoch = -(-self.n // self.B)
        self.X = engine.asarray(data.X_train)
        self.y = engine.asarray(data.y_train.astype(np.float64) if spec.n_outputs == 1 else data.y_train)
        self.eval_sets = [(s, *data.split(s)) for s in data.splits]
        self.history = History(epochs=train.epochs, seeds=list(seeds), dtype=train.dtype)
        self.diverged_epoch = np.full(self.K, -1)
        self.kept = np.ones(self.K, dtype=bool)  # the members kept when the last epoch ended
        self._all_kept = True  # every member of ``kept``
        self.epoch, self.pos, self.params = 0, 0, params
        self.sync_free = engine.device != "cpu" if sync_free is None else sync_free
        self.mask_rngs = dropout_rngs(engine, train, seeds)
        streams = batch_streams(spec, seeds, train.rng)
        self.runner: EpochRunner | None = self._runner(streams) if fuse else None
        if self.runner is None:
            self.tx = make_optimizer(train).transform()
            self.opt_state = self.tx.init(params)
            self.orders = batch_orders(streams, self.n, train.shuffle)
            self.perms: Any = None  # the engine's index array, drawn per epoch
            self.keep = engine.asarray(np.ones(self.K, dtype=bool))  # on the engine's device
            self._clean = True  # every member kept so far (read on the host only)
            self._zero = engine.zeros(self.K)
            self._reset_sums()
        self._publish()

    def _runner(self, streams: list) -> EpochRunner | None:
        """The engine's epoch runner, where nothing here needs single minibatches."""
        tr = self.train
        if self.mask_rngs is not None or self.grad_norms or tr.l1 or tr.l2:
            return None
        plan = EpochPlan(optimizer=tr.optimizer, lr=tr.lr, momentum=tr.momentum, betas=tuple(tr.betas),
                         eps=tr.eps, weight_decay=tr.weight_decay, batch_size=tr.batch_size,
                         shuffle=tr.shuffle, streams=streams, epochs=tr.epochs)
        return self.engine.epoch_runner(self.spec, self.params, self.X, self.y, plan)

    def _reset_sums(self) -> None:
        self.loss_sum, self.correct_sum, self.n_steps = self._zero, self._zero, 0
        self.gn_sums = [self._zero] * len(self.spec.sizes[1:]) if self.grad_norms else []

    # the minibatch step ------------------------------------------------------------------
    def step(self) -> bool:
        """One minibatch for every member; True when it was the epoch's last (then call
        ``end_epoch``). A diverging member overflows: drivers call this inside
        ``np.errstate(over="ignore", invalid="ignore", divide="ignore")``, as ``run_epoch``."""
        if self.runner is not None:
            raise RuntimeError("this Stepper runs fused epochs: use run_epoch(), or fuse=False")
        eng, spec = self.engine, self.spec
        if self.perms is None:
            self.perms = eng.asindex(self.orders())
        idx = self.perms[:, self.pos:self.pos + self.B]
        masks = None
        if self.mask_rngs is not None:
            masks = dropout_masks(eng, spec, self.train.dropout, self.mask_rngs, idx.shape[1])
        loss, grads, acc = eng.loss_and_grad(spec, self.params, self.X[idx], self.y[idx],
                                             with_accuracy=True, masks=masks)
        finite = abs(loss) < np.inf
        if self.sync_free or not self._clean or not bool(finite.all()):
            grads = self._mask_diverged(finite, grads)
        updates, self.opt_state = self.tx.update(grads, self.opt_state, self.params)
        self.params = apply_updates(self.params, updates)
        if self.grad_norms:
            self.gn_sums = add_layer_norms(self.gn_sums, grads, self._zero)
        self.loss_sum = self.loss_sum + loss  # NaN for a diverged member: masked when recorded
        self.correct_sum = self.correct_sum + acc * idx.shape[1]
        self.n_steps += 1
        self.pos += self.B
        return self.pos >= self.n

    def _mask_diverged(self, finite, grads: Params) -> Params:
        """Members whose loss is not finite stop: the optimiser state of those diverging
        at this step is zeroed, and the gradients of every diverged member are."""
        newly = self.keep & ~finite
        self.keep = self.keep & finite
        self.opt_state = self._masked(self.opt_state, self.keep | ~newly.any())
        if not self.sync_free:
            self._clean = bool(self.keep.all())
        return self._masked(grads, self.keep)

    def _masked(self, tree, cond):
        """``tree`` with the members where ``cond`` is False set to zero. On the host, a tree
        where every member is kept is returned as it is (the same numbers, less work)."""
        if not self.sync_free and bool(cond.all()):
            return tree
        where = self.engine.where
        return map_members(lambda x: where(cond.reshape((-1,) + (1,) * (len(x.shape) - 1)), x, 0.0), tree)

    # epochs ------------------------------------------------------------------------------
    def end_epoch(self) -> None:
        """Record the epoch whose batches ``step()`` has finished and start the next."""
        if self.runner is not None or self.pos < self.n:
            raise RuntimeError("end_epoch() comes after the step() that finished the epoch")
        host = self.engine.to_host
        with _quiet():
            loss = host(self.loss_sum) / self.n_steps
            norms = [host(s) / self.n_steps for s in self.gn_sums] if self.grad_norms else None
            kept = host(self.keep).astype(bool)
            correct = host(self.correct_sum)
            if self.train.shuffle:
                self.perms = None
            self.pos = 0
            self._reset_sums()
            self._close(loss, correct, kept, norms)

    def run_epoch(self) -> None:
        """One whole epoch: the engine's runner where there is one, else ``step()`` to the end."""
        if self.runner is None:
            with _quiet():
                while not self.step():
                    pass
            self.end_epoch()
            return
        with _quiet():
            loss, correct, still = self.runner.run_epoch(self.kept)
            self.params = self.runner.params
            self._close(loss, correct, still, None)

    def _close(self, loss: np.ndarray, correct: np.ndarray, kept: np.ndarray, norms: list | None) -> None:
        """Mark the members that diverged this epoch, record its history, call back."""
        e, h = self.epoch, self.history
        if self._all_kept and kept.all():  # the usual epoch: nothing diverged, nothing to mask
            keep = self.kept

            def masked(x):
                return x
        else:
            self.diverged_epoch[self.kept & ~kept] = e
            keep = self.kept = self.kept & kept
            self._all_kept = bool(keep.all())

            def masked(x):
                return np.where(keep, x, np.nan)
        h.record("train/running_loss", e, masked(loss))
        for i, g in enumerate(norms or []):
            h.record(f"train/batch_grad_norm.L{i + 1}", e, masked(g))
        h.record("train/running_accuracy", e, masked(correct / self.n))
        if evaluates(e, self.train.epochs, self.train.eval_every):
            for split, X, y in self.eval_sets:
                loss_s, acc_s = self.engine.loss_and_accuracy(self.spec, self.params, X, y)
                h.record(f"{split}/loss", e, masked(loss_s))
                h.record(f"{split}/accuracy", e, masked(acc_s))
        self.epoch += 1
        self._publish()
        if self.on_epoch is not None:
            self.on_epoch(e, h)

    def _publish(self) -> None:
        h = self.history
        h.diverged, h.diverged_epoch, h.params = ~self.kept, self.diverged_epoch, self.params

    @property
    def diverged(self) -> np.ndarray:
        """(K,) bool: the members diverged so far (mid-epoch too)."""
        if self.runner is not None:
            return ~self.kept
        return ~self.engine.to_host(self.keep).astype(bool)
