"""The training loop over any engine: minibatches per member, optimiser, history.

Every member has its own batch order (from its seed), so an arm trained here is K
independent networks trained in lock-step. A member whose loss stops being finite is
marked diverged and frozen; the others go on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from actscope.analysis.probes import layer_grad_norms
from actscope.data.generators import Dataset
from actscope.nn.model import Layer, MLPSpec, Params, advance_past_init
from actscope.seeding import aux_rng, batch_stream
from actscope.training.optimizers import make_optimizer

# history keys: split/metric; "train/running_loss" is the mean of the epoch's minibatch
# losses (what both reference articles plot), "train/running_accuracy" the fraction of
# training points classified right while the epoch ran (the second article's accuracy).


@dataclass
class History:
    """Per-epoch metrics: ``values[key]`` is (epochs, K); NaN where not evaluated.

    Kept per epoch, never per step, in ``dtype``: training in float32 keeps float32 history
    (a loss computed in float32 has no more digits to keep), which halves the largest cost
    of a big ensemble (six metrics x epochs x K)."""

    epochs: int
    seeds: list[int]
    values: dict[str, np.ndarray] = field(default_factory=dict)
    dtype: str = "float64"
    diverged: np.ndarray | None = None  # (K,) bool
    diverged_epoch: np.ndarray | None = None  # (K,) int, -1 if never
    params: object = field(default=None, repr=False)  # the latest parameters (engine arrays)

    def record(self, key: str, epoch: int, value: np.ndarray) -> None:
        if key not in self.values:
            self.values[key] = np.full((self.epochs, len(self.seeds)), np.nan, dtype=self.dtype)
        self.values[key][epoch] = value

    def last(self, key: str) -> np.ndarray:
        """The last evaluated value of ``key`` per member."""
        arr = self.values[key]
        rows = np.where(np.isfinite(arr).any(axis=1))[0]
        return arr[rows[-1]] if len(rows) else np.full(arr.shape[1], np.nan)

    def truncate(self, n_epochs: int) -> None:
        self.epochs = n_epochs
        self.values = {k: v[:n_epochs] for k, v in self.values.items()}


def _member_where(engine, keep: np.ndarray, x):
    shape = (-1,) + (1,) * (len(x.shape) - 1)
    cond = engine.asarray(keep.reshape(shape))
    return engine.where(cond, x, 0.0)


def _zero_diverged(engine, keep: np.ndarray, tree: Params) -> Params:
    return [Layer(_member_where(engine, keep, W), _member_where(engine, keep, b)) for W, b in tree]


def batch_streams(spec: MLPSpec, seeds: Sequence[int], rng: str) -> list:
    """One batch-order stream per member (continuing the init stream under 'article')."""
    advance = advance_past_init(spec) if rng == "article" else None
    return [batch_stream(int(s), rng, advance) for s in seeds]


def fit(
    engine,
    spec: MLPSpec,
    params: Params,
    data: Dataset,
    train,
    seeds: Sequence[int],
    on_epoch: Callable[[int, History], None] | None = None,
    grad_norms: bool = False,
) -> tuple[Params, History]:
    """Train ``params`` (an ensemble, one member per seed) and return them with history.

    ``on_epoch(epoch, history)`` is called after every epoch (progress bars, probes).
    Raises KeyboardInterrupt through; the caller decides what to keep.
    ``grad_norms`` records each layer's minibatch gradient norm, averaged over the epoch's
    batches, as ``train/batch_grad_norm.L<i>`` (the output layer is L + 1).
    """
    K = len(seeds)
    n = len(data.y_train)
    B = min(train.batch_size, n)
    opt = make_optimizer(train)
    streams = batch_streams(spec, seeds, train.rng)
    X_tr = engine.asarray(data.X_train)
    y_tr = engine.asarray(data.y_train.astype(np.float64) if spec.n_outputs == 1 else data.y_train)
    hist = History(epochs=train.epochs, seeds=list(seeds), dtype=train.dtype)
    keep = np.ones(K, dtype=bool)
    diverged_epoch = np.full(K, -1)
    eval_sets = [(s, *data.split(s)) for s in data.splits]
    # a diverging member overflows: that is recorded below, not warned about
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        mask_rngs = dropout_rngs(engine, train, hist.seeds)
        trainer = _fused_trainer(engine, spec, params, X_tr, y_tr, train, streams,
                                 mask_rngs is None and not grad_norms)
        for epoch in range(train.epochs):
            if trainer is not None:  # the engine runs the whole epoch: same batches, same history
                loss_sum, correct_sum, still = trainer.run_epoch(keep)
                diverged_epoch[keep & ~still] = epoch
                keep &= still
                params, n_batches, gn_sum = trainer.params, 1, 0.0
            else:
                if train.shuffle:
                    perms = np.stack([st.permutation(n) for st in streams])
                else:
                    perms = np.broadcast_to(np.arange(n), (K, n))
                perms_dev = engine.asindex(perms)
                loss_sum = np.zeros(K)
                correct_sum = np.zeros(K)
                n_batches = 0
                gn_sum = 0.0
                for start in range(0, n, B):
                    idx = perms_dev[:, start:start + B]
                    if mask_rngs is None:
                        loss, grads, acc = engine.loss_and_grad(spec, params, X_tr[idx], y_tr[idx],
                                                                with_accuracy=True)
                    else:
                        masks = dropout_masks(engine, spec, train.dropout, mask_rngs, idx.shape[1])
                        loss, grads, acc = engine.loss_and_grad(spec, params, X_tr[idx], y_tr[idx],
                                                                with_accuracy=True, masks=masks)
                    loss = np.asarray(_to_np(loss), dtype=np.float64)
                    acc = np.asarray(_to_np(acc), dtype=np.float64)
                    bad = ~np.isfinite(loss) & keep
                    if bad.any():
                        keep &= ~bad
                        diverged_epoch[bad] = epoch
                        opt.mask_state(lambda s: _member_where(engine, keep, s))
                    if not keep.all():
                        grads = _zero_diverged(engine, keep, grads)
                    params = opt.step(params, grads)
                    if grad_norms:
                        gn_sum = gn_sum + layer_grad_norms(grads).T
                    loss_sum += loss  # a member that diverges is NaN from here on (below)
                    correct_sum += acc * (idx.shape[1])
                    n_batches += 1
            hist.record("train/running_loss", epoch, np.where(keep, loss_sum / n_batches, np.nan))
            if grad_norms:
                for i, g in enumerate(gn_sum / n_batches):
                    hist.record(f"train/batch_grad_norm.L{i + 1}", epoch, np.where(keep, g, np.nan))
            hist.record("train/running_accuracy", epoch, np.where(keep, correct_sum / n, np.nan))
            if (epoch + 1) % train.eval_every == 0 or epoch == train.epochs - 1:
                for split, X, y in eval_sets:
                    loss, acc = engine.loss_and_accuracy(spec, params, X, y)
                    hist.record(f"{split}/loss", epoch, np.where(keep, loss, np.nan))
                    hist.record(f"{split}/accuracy", epoch, np.where(keep, acc, np.nan))
            hist.diverged = ~keep
            hist.diverged_epoch = diverged_epoch
            hist.params = params
            if on_epoch is not None:
                on_epoch(epoch, hist)
    hist.params = params
    hist.diverged = ~keep
    hist.diverged_epoch = diverged_epoch
    return params, hist


DROPOUT_PURPOSE = 7001  # seeding.aux_rng purpose of the dropout masks


def dropout_rngs(engine, train, seeds: Sequence[int]) -> list | None:
    """One Generator per member for its dropout masks (None when dropout is off)."""
    if train.dropout <= 0:
        return None
    if not getattr(engine, "supports_dropout", False):
        from actscope.errors import InputError

        raise InputError(f"train.dropout = {train.dropout}: the {engine.name} engine has no dropout; "
                         "use engine = \"numpy\"")
    return [aux_rng(int(s), DROPOUT_PURPOSE) for s in seeds]


def dropout_masks(engine, spec: MLPSpec, p: float, rngs: list, n: int) -> list:
    """Inverted-dropout masks, one (K, n, width) array per hidden layer: 0 with probability
    ``p``, else 1 / (1 - p). Drawn in NumPy so every engine sees the same masks."""
    out = []
    for width in spec.hidden:
        m = np.stack([(r.random((n, width)) >= p) / (1.0 - p) for r in rngs])
        out.append(engine.asarray(m))
    return out


def _fused_trainer(engine, spec, params, X_tr, y_tr, train, streams, allowed: bool):
    """The engine's fused epoch runner (``engine.epoch_trainer``), if it has one for this run.

    ``trainer.run_epoch(keep)`` returns (mean minibatch loss, points right, members still
    kept), each (K,), with the batches of ``streams``; ``trainer.params`` are the parameters.
    """
    penalties = getattr(train, "l1", 0) or getattr(train, "l2", 0)
    if not allowed or penalties or not hasattr(engine, "epoch_trainer"):
        return None
    return engine.epoch_trainer(spec, params, X_tr, y_tr, train, streams)


def _to_np(x):
    return x.detach().cpu().numpy() if hasattr(x, "detach") else x
