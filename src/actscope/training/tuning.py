"""Learning-rate tuning on the validation split: the fair way to compare activations.

A rate that suits one activation may starve another, so a comparison at one shared rate
measures the rate as much as the activation. Tuning trains one ensemble per rate of a log
grid on the training split and keeps, per arm, the rate with the best mean validation
accuracy over seeds (ties broken by the lower mean validation loss). A diverged member
counts as accuracy 0 and loss +inf, so a rate that blows up some seeds is not chosen.
The test split is never looked at to choose.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

DEFAULT_LR_GRID: tuple[float, ...] = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)


def lr_grid(train) -> list[float]:
    """The rates a TrainSpec tries: its grid when tuned, else its one rate."""
    if train.lr != "tune":
        return [float(train.lr)]
    return sorted(float(r) for r in (train.lr_grid or DEFAULT_LR_GRID))


def n_trials(train) -> int:
    """How many ensembles training with ``train`` costs (1 unless the rate is tuned)."""
    return len(lr_grid(train))


def selection_scores(val_accuracy, val_loss=None, diverged=None) -> tuple[np.ndarray, np.ndarray]:
    """Per rate: (mean validation accuracy, mean validation loss) over seeds.

    Inputs are (n_rates, K); diverged or non-finite members count as accuracy 0, loss inf.
    """
    acc = np.asarray(val_accuracy, dtype=np.float64)
    loss = np.zeros_like(acc) if val_loss is None else np.asarray(val_loss, dtype=np.float64)
    bad = ~np.isfinite(acc) | ~np.isfinite(loss)
    if diverged is not None:
        bad |= np.asarray(diverged, dtype=bool)
    acc = np.where(bad, 0.0, acc)
    loss = np.where(bad, np.inf, loss)
    return acc.mean(axis=1), loss.mean(axis=1)


def select_rate(val_accuracy, val_loss=None, diverged=None) -> int:
    """Index of the chosen rate: best mean validation accuracy, then lowest mean loss."""
    acc, loss = selection_scores(val_accuracy, val_loss, diverged)
    best = np.flatnonzero(acc >= acc.max() - 1e-12)
    return int(best[np.argmin(loss[best])])


def tune_fit(
    engine,
    mlp,
    data,
    train,
    seeds: Sequence[int],
    on_epoch: Callable | None = None,
):
    """Train one ensemble per rate of ``train``'s grid; keep the one validation prefers.

    Returns ``(params, history, info)`` of the chosen rate; ``info`` lists per rate the mean
    validation and test accuracy over seeds and names the chosen rate.
    """
    from actscope.training.loop import fit

    if data.X_val is None:
        raise ValueError("learning-rate tuning needs a validation split ([data] val_size > 0)")
    grid = lr_grid(train)
    runs, val_acc, val_loss, test_acc, div = [], [], [], [], []
    for lr in grid:
        t = train.model_copy(update={"lr": lr})
        params = engine.init(mlp, seeds, rng=t.rng)
        params, hist = fit(engine, mlp, params, data, t, seeds, on_epoch=on_epoch)
        runs.append((params, hist))
        val_acc.append(hist.last("val/accuracy"))
        val_loss.append(hist.last("val/loss"))
        test_acc.append(hist.last("test/accuracy"))
        div.append(np.asarray(hist.diverged, dtype=bool))
    best = select_rate(val_acc, val_loss, div)
    acc_mean, loss_mean = selection_scores(val_acc, val_loss, div)
    test_mean, _ = selection_scores(test_acc, None, div)
    info = {"grid": grid, "chosen": grid[best],
            "val_accuracy": [float(v) for v in acc_mean],
            "val_loss": [float(v) if np.isfinite(v) else None for v in loss_mean],
            "test_accuracy": [float(v) for v in test_mean],
            "n_diverged": [int(d.sum()) for d in div],
            "rule": "best mean validation accuracy over seeds, ties by lower mean validation loss"}
    params, hist = runs[best]
    return params, hist, info
