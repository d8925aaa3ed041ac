"""The history file of a run directory: ``history.npz``, columnar, one block of arrays per arm.

Per arm ``A`` (``STATS`` of `actscope.training.history` name the summary columns):

- ``A/seeds`` (K,), ``A/diverged`` (K,) bool, ``A/diverged_epoch`` (K,) (0-based, -1 never);
- ``A/keys`` the metric keys (``split/metric``) in recording order, ``A/last_epoch`` (one per
  key, 0-based) and ``A/last/<key>`` (K,): each key's latest row with a finite member;
- ``A/summary/<key>`` (epochs, len(STATS)) float64: per epoch, over the finite members;
- ``A/members/<key>`` (epochs, K) in the training precision, NaN where not evaluated: only
  while members x epochs <= ``PER_MEMBER_LIMIT`` (small runs keep every member's curve).

Top level: ``format`` and ``stats``. Written with ``np.savez`` (no pickle), read with
``np.load(allow_pickle=False)``. Run directories written before it have ``history.csv``
(tidy rows: arm, seed, epoch, split, metric, value): `read_csv_history` still reads them.
"""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from actscope.training.history import STATS, History

FORMAT = "actscope-history-1"
NPZ, LEGACY_CSV = "history.npz", "history.csv"


def arm_arrays(name: str, hist: History, seeds: list[int]) -> dict[str, np.ndarray]:
    """The arrays of one arm's block (see the module)."""
    K = len(seeds)
    keys = hist.keys()
    div = np.zeros(K, bool) if hist.diverged is None else np.asarray(hist.diverged, dtype=bool)
    div_at = np.full(K, -1) if hist.diverged_epoch is None else np.asarray(hist.diverged_epoch)
    out = {f"{name}/seeds": np.asarray(seeds, dtype=np.int64), f"{name}/diverged": div,
           f"{name}/diverged_epoch": div_at.astype(np.int64), f"{name}/keys": np.array(keys, dtype=str),
           f"{name}/last_epoch": np.array([hist.latest[k][0] for k in keys], dtype=np.int64)}
    for key in keys:
        out[f"{name}/last/{key}"] = hist.latest[key][1]
        out[f"{name}/summary/{key}"] = hist.summary(key)
        if key in hist.values:
            out[f"{name}/members/{key}"] = hist.values[key]
    return out


def write_history(path: Path, arms) -> None:
    """Write the histories of ``arms`` (ArmResult-like: ``name``, ``seeds``, ``history``)."""
    arrays: dict[str, Any] = {"format": np.array(FORMAT), "stats": np.array(STATS, dtype=str)}
    for arm in arms:
        arrays.update(arm_arrays(arm.name, arm.history, arm.seeds))
    with open(path, "wb") as fh:  # a file object: np.savez adds no ".npz" to the name
        np.savez(fh, **arrays)


def read_history(path: Path, arm: str, seeds: list[int]) -> History:
    """Arm ``arm``'s History from ``history.npz``; a ValueError where the file is not one
    this version wrote or has no such arm, or its seeds differ from ``seeds``."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["format"]) != FORMAT or tuple(z["stats"]) != STATS:
                raise ValueError(f"not an {FORMAT} file")
            if f"{arm}/keys" not in z.files:
                raise ValueError(f"no arm {arm!r}")
            return _arm_history(z, arm, seeds)
    except (zipfile.BadZipFile, OSError, EOFError, KeyError) as err:
        raise ValueError(f"{type(err).__name__}: {err}") from None


def _arm_history(z, arm: str, seeds: list[int]) -> History:
    if list(z[f"{arm}/seeds"]) != list(seeds):
        raise ValueError(f"arm {arm!r}: the seeds differ from metrics.json's")
    keys = [str(k) for k in z[f"{arm}/keys"]]
    last_epoch = z[f"{arm}/last_epoch"]
    summaries = {k: z[f"{arm}/summary/{k}"] for k in keys}
    epochs = next(iter(summaries.values())).shape[0] if keys else 0
    members = {k: z[f"{arm}/members/{k}"] for k in keys if f"{arm}/members/{k}" in z.files}
    latest = {k: (int(e), z[f"{arm}/last/{k}"]) for k, e in zip(keys, last_epoch)}
    dtype = str(next(iter(latest.values()))[1].dtype) if keys else "float64"
    per_member = len(members) == len(keys)
    hist = History(epochs=epochs, seeds=list(seeds), dtype=dtype, per_member=per_member,
                   values=members if per_member else {},
                   summaries={} if per_member else summaries, latest=latest)
    hist.diverged = z[f"{arm}/diverged"].astype(bool)
    hist.diverged_epoch = z[f"{arm}/diverged_epoch"]
    return hist


def read_csv_history(path: Path, arm: str, seeds: list[int], epochs: int) -> History:
    """Arm ``arm``'s History from a ``history.csv`` of an older run directory (per member);
    diverged where the running loss ends non-finite."""
    rows: dict[str, np.ndarray] = {}
    col = {s: i for i, s in enumerate(seeds)}
    with path.open() as fh:
        for row in csv.DictReader(fh):
            if row["arm"] != arm:
                continue
            key = f"{row['split']}/{row['metric']}"
            if key not in rows:
                rows[key] = np.full((epochs, len(seeds)), np.nan)
            rows[key][int(row["epoch"]) - 1, col[int(row["seed"])]] = float(row["value"])
    hist = History(epochs=epochs, seeds=list(seeds), per_member=True)
    for key, arr in rows.items():
        for e in np.where(np.isfinite(arr).any(axis=1))[0]:
            hist.record(key, int(e), arr[e])
    loss = rows.get("train/running_loss")
    if loss is not None:
        bad = ~np.isfinite(loss)
        hist.diverged = bad[-1]
        hist.diverged_epoch = np.where(bad.any(0), bad.argmax(0), -1)
    return hist
