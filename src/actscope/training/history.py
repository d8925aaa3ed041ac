"""Per-epoch training metrics of an ensemble, kept as (epochs, K) arrays.

History keys are split/metric; "train/running_loss" is the mean of the epoch's minibatch
losses (what both reference articles plot), "train/running_accuracy" the fraction of
training points classified right while the epoch ran (the second article's accuracy).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class History:
    """Per-epoch metrics: ``values[key]`` is (epochs, K); NaN where not evaluated.

    Kept per epoch, never per step, in ``dtype``: training in float32 keeps float32 history
    (a loss computed in float32 has no more digits to keep), which halves the largest cost
    of a big ensemble (six metrics x epochs x K). Recording past ``epochs`` (the
    playground trains on when asked to) adds rows: ``epochs`` is the number of rows."""

    epochs: int
    seeds: list[int]
    values: dict[str, np.ndarray] = field(default_factory=dict)
    dtype: str = "float64"
    diverged: np.ndarray | None = None  # (K,) bool
    diverged_epoch: np.ndarray | None = None  # (K,) int, -1 if never
    params: object = field(default=None, repr=False)  # the latest parameters (engine arrays)

    def record(self, key: str, epoch: int, value: np.ndarray) -> None:
        """Set ``values[key][epoch]`` (a new key starts as NaN rows)."""
        if epoch >= self.epochs:
            self._grow(max(epoch + 1, 2 * self.epochs))
        if key not in self.values:
            self.values[key] = np.full((self.epochs, len(self.seeds)), np.nan, dtype=self.dtype)
        self.values[key][epoch] = value

    def _grow(self, rows: int) -> None:
        pad = rows - self.epochs
        self.values = {k: np.vstack([v, np.full((pad, v.shape[1]), np.nan, dtype=v.dtype)])
                       for k, v in self.values.items()}
        self.epochs = rows

    def last(self, key: str) -> np.ndarray:
        """The last evaluated value of ``key`` per member."""
        arr = self.values[key]
        rows = np.where(np.isfinite(arr).any(axis=1))[0]
        return arr[rows[-1]] if len(rows) else np.full(arr.shape[1], np.nan)

    def truncate(self, n_epochs: int) -> None:
        """Keep the first ``n_epochs`` rows."""
        self.epochs = n_epochs
        self.values = {k: v[:n_epochs] for k, v in self.values.items()}
