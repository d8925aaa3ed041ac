"""Per-epoch training metrics of an ensemble: summaries over members always, per-member rows
while they are small.

History keys are split/metric; "train/running_loss" is the mean of the epoch's minibatch
losses (what both reference articles plot), "train/running_accuracy" the fraction of
training points classified right while the epoch ran (the second article's accuracy).

Memory is O(K), not O(K x epochs), for a large ensemble: per-member rows ``(epochs, K)``
are kept only while members x epochs is at most ``PER_MEMBER_LIMIT``; above it each epoch's
row is reduced to its summary (``STATS``: count, mean, std, min, quantiles, max over the
members still finite) as it is recorded, and only the latest row of each key is kept (what
``last`` and metrics.json need). Kept rows give the same summaries, computed when asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

PER_MEMBER_LIMIT = 1_000_000  # members x epochs up to which per-member rows are kept
STATS = ("n", "mean", "std", "min", "q05", "q25", "median", "q75", "q95", "max")
_QUANTILES = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)  # min, q05 ... max


def _lerp_quantiles(v: np.ndarray, n: np.ndarray) -> np.ndarray:
    """``_QUANTILES`` of each row of ``v`` (rows sorted, or partitioned at the indices used,
    NaN last) over its first ``n`` values: NumPy's default (linear) method."""
    h = (n[:, None] - 1) * np.asarray(_QUANTILES)
    lo = np.floor(h).astype(np.intp)
    hi = np.minimum(lo + 1, n[:, None] - 1)
    a, b = np.take_along_axis(v, lo, axis=1), np.take_along_axis(v, hi, axis=1)
    return a + (h - lo) * (b - a)


def summarize_rows(rows: np.ndarray) -> np.ndarray:
    """``(E, len(STATS))`` float64 statistics of each row of ``rows`` (E, K) over its finite
    values: NumPy's mean, std (ddof 0) and linear-interpolation quantiles; a row without a
    finite value has n = 0 and NaN elsewhere."""
    v = np.asarray(rows, dtype=np.float64)
    fin = np.isfinite(v)
    n = fin.sum(axis=1)
    out = np.full((v.shape[0], len(STATS)), np.nan)
    out[:, 0] = n
    ok = n > 0
    if ok.any():
        w, m = np.where(fin[ok], v[ok], np.nan), n[ok]
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging member's huge values
            mean = np.nansum(w, axis=1) / m
            out[ok, 1], out[ok, 2] = mean, np.sqrt(np.nansum((w - mean[:, None]) ** 2, axis=1) / m)
        out[ok, 3:] = _lerp_quantiles(np.sort(w, axis=1), m)  # NaN sorts last
    return out


def summarize_row(row: np.ndarray) -> np.ndarray:
    """The ``STATS`` of one epoch's (K,) row, as `summarize_rows` gives them (partitioned
    rather than sorted: O(K))."""
    v = np.asarray(row, dtype=np.float64)
    v = v[np.isfinite(v)]
    out = np.full(len(STATS), np.nan)
    out[0] = n = v.size
    if n:
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging member's huge values
            out[1] = mean = v.sum() / n
            out[2] = np.sqrt(((v - mean) ** 2).sum() / n)
        h = (n - 1) * np.asarray(_QUANTILES)
        kth = np.unique(np.concatenate([np.floor(h), np.minimum(np.floor(h) + 1, n - 1)]).astype(np.intp))
        out[3:] = _lerp_quantiles(np.partition(v, kth)[None], np.array([n]))[0]
    return out


@dataclass
class History:
    """Per-epoch metrics of K members: summaries always, per-member rows below a size.

    ``values[key]`` is (epochs, K) in ``dtype`` (NaN where not evaluated) when
    ``per_member`` (default: members x epochs <= PER_MEMBER_LIMIT), else empty;
    ``summary(key)`` is (epochs, len(STATS)) float64 either way. Training in float32 keeps
    float32 rows (a loss computed in float32 has no more digits to keep). Recording past
    ``epochs`` (the playground trains on when asked to) adds rows: ``epochs`` is the
    number of rows."""

    epochs: int
    seeds: list[int]
    values: dict[str, np.ndarray] = field(default_factory=dict)
    dtype: str = "float64"
    diverged: np.ndarray | None = None  # (K,) bool
    diverged_epoch: np.ndarray | None = None  # (K,) int, -1 if never
    params: object = field(default=None, repr=False)  # the latest parameters (engine arrays)
    per_member: bool | None = None  # None: members x epochs <= PER_MEMBER_LIMIT
    summaries: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # summary-only keys
    latest: dict[str, tuple[int, np.ndarray]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.per_member is None:
            self.per_member = len(self.seeds) * self.epochs <= PER_MEMBER_LIMIT

    def record(self, key: str, epoch: int, value: np.ndarray) -> None:
        """Set the row of ``key`` at ``epoch`` (a new key starts as NaN rows)."""
        if epoch >= self.epochs:
            self._grow(max(epoch + 1, 2 * self.epochs))
        row = np.asarray(value)
        if row.ndim == 0:
            row = np.broadcast_to(row, (len(self.seeds),))
        if self._newer(key, epoch, row):
            self.latest[key] = (epoch, row.astype(self.dtype))  # a copy
        if self.per_member:
            rows = self.values.get(key)
            if rows is None:
                rows = self.values[key] = np.full((self.epochs, len(self.seeds)), np.nan, dtype=self.dtype)
            rows[epoch] = row
            return
        if key not in self.summaries:
            self.summaries[key] = summarize_rows(np.full((self.epochs, 1), np.nan))
        self.summaries[key][epoch] = summarize_row(row.astype(self.dtype))

    def _newer(self, key: str, epoch: int, row: np.ndarray) -> bool:
        """Whether ``row`` replaces the latest row of ``key``: the last row with a finite
        member wins (what ``last`` returns), a row of NaN only when there is none."""
        last = self.latest.get(key)
        if last is None:
            return True
        at, kept = last
        if epoch >= at and (epoch == at or np.isfinite(row).any()):
            return True  # a later row with a finite member (the usual epoch), or the same epoch again
        if not np.isfinite(row).any():
            return False
        return not np.isfinite(kept).any()

    def _grow(self, rows: int) -> None:
        pad = rows - self.epochs
        self.values = {k: np.vstack([v, np.full((pad, v.shape[1]), np.nan, dtype=v.dtype)])
                       for k, v in self.values.items()}
        self.summaries = {k: np.vstack([v, summarize_rows(np.full((pad, 1), np.nan))])
                          for k, v in self.summaries.items()}
        self.epochs = rows

    def keys(self) -> list[str]:
        """Every key recorded, in the order first recorded."""
        return list(self.latest)

    def __contains__(self, key: str) -> bool:
        return key in self.latest

    def summary(self, key: str) -> np.ndarray:
        """(epochs, len(STATS)) float64: per epoch, ``STATS`` over the finite members."""
        if key in self.values:
            return summarize_rows(self.values[key])
        return self.summaries[key]

    def stat(self, key: str, name: str) -> np.ndarray:
        """One column of ``summary(key)``, e.g. ``stat("train/running_loss", "mean")``."""
        return self.summary(key)[:, STATS.index(name)]

    def band(self, key: str, lo: str = "min", hi: str = "max"):
        """``(epochs, mean, low, high)`` over the epochs where ``key`` has a finite member
        (epochs 1-based): what a curve with a band over members draws. None if absent."""
        if key not in self:
            return None
        s = self.summary(key)
        rows = np.where(s[:, 0] > 0)[0]
        return rows + 1, s[rows, 1], s[rows, STATS.index(lo)], s[rows, STATS.index(hi)]

    def last(self, key: str) -> np.ndarray:
        """The last evaluated value of ``key`` per member."""
        if key in self.latest:
            return self.latest[key][1]
        return np.full(len(self.seeds), np.nan)

    def row(self, key: str, epoch: int) -> np.ndarray:
        """The (K,) values of ``key`` at ``epoch``: kept rows, or the latest row recorded."""
        if key in self.values:
            return self.values[key][epoch]
        at, row = self.latest[key]
        if at != epoch:
            raise KeyError(f"{key} at epoch {epoch}: only summaries are kept (members x epochs > "
                           f"{PER_MEMBER_LIMIT}); the latest row is epoch {at}")
        return row

    def truncate(self, n_epochs: int) -> None:
        """Keep the first ``n_epochs`` rows."""
        self.epochs = n_epochs
        self.values = {k: v[:n_epochs] for k, v in self.values.items()}
        self.summaries = {k: v[:n_epochs] for k, v in self.summaries.items()}

    @property
    def nbytes(self) -> int:
        """Bytes held by the history's arrays (rows, summaries and latest rows)."""
        arrays = [*self.values.values(), *self.summaries.values(), *(r for _, r in self.latest.values())]
        return int(sum(a.nbytes for a in arrays))
