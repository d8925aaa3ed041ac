"""Successive halving: each candidate's score in a stage, and who goes on to the next.

A candidate's score in a stage is the mean over tasks of its mean validation accuracy
over seeds at its tuned rate (`search.leaderboard.tuned`: a diverged seed counts 0). The
top ``keep`` (a fraction below 1, or a count: `search.spec.Stage.promoted`) go on; the references always do.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from actscope.search.leaderboard import tuned


def stage_scores(table: dict[str, np.ndarray], stage: int) -> dict[str, float]:
    """{key: score} of every candidate with rows in ``stage`` of the member ``table``.

    The score is the mean over the candidate's tasks of the mean ``val_acc`` over seeds at
    that task's tuned rate (NaN counts 0).
    """
    sel = np.asarray(table["stage"]) == stage
    t = tuned({k: np.asarray(v)[sel] for k, v in table.items()})
    acc = np.nan_to_num(t["val_acc"].astype(np.float64), nan=0.0)
    per_task: dict[str, dict[str, list[float]]] = {}
    for key, task, a in zip(t["key"].tolist(), t["task"].tolist(), acc.tolist()):
        per_task.setdefault(key, {}).setdefault(task, []).append(a)
    return {key: float(np.mean([np.mean(v) for v in tasks.values()])) for key, tasks in per_task.items()}


def promote(keys: Sequence[str], scores: dict[str, float], n: int) -> list[str]:
    """The ``n`` best of ``keys`` by score (a missing or NaN score is worst; ties: the
    earlier key), in the order of ``keys``. How many a stage promotes is its
    `search.spec.Stage.promoted`."""
    def rank(i: int) -> tuple[float, int]:
        s = scores.get(keys[i], math.nan)
        return (-s if s == s else math.inf, i)

    best = sorted(range(len(keys)), key=rank)[:max(0, n)]
    return [keys[i] for i in sorted(best)]
