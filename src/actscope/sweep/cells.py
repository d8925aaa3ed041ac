"""Running one cell: an ensemble trained by `run_experiment`, its per-member results kept.

``run_cell`` is what every executor maps over the cells (picklable, self-contained: a
cell's payload is JSON-ready and validated again where it runs).
"""

from __future__ import annotations

import math
import time
import traceback
import warnings

import numpy as np

from actscope.analysis import cost
from actscope.config import parse_spec
from actscope.experiment import run_experiment

MEMBER_METRICS = ("test_accuracy", "test_loss", "val_accuracy", "val_loss", "train_accuracy",
                  "train_loss", "final_train_loss")


def run_cell(payload: dict, progress=None) -> dict:
    """Train one cell (one ensemble over the seeds) and return its per-member results.

    An exception from the cell's own work (not an interrupt) is returned as ``{"id",
    "meta", "error", "traceback"}`` so that one failing cell does not stop the others (it
    would fail the same way again: the sweep records it failed); a MemoryError, which
    depends on the machine rather than the cell, as ``{"id", "meta", "lost"}``.
    """
    try:  # a diverging member is recorded as diverged; its overflow warnings are noise here
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return _run_cell(payload, progress)
    except MemoryError:
        return {"id": payload["id"], "meta": payload["meta"], "lost": "MemoryError: out of memory"}
    except Exception as err:  # noqa: BLE001 - reported per cell, recorded failed
        return {"id": payload["id"], "meta": payload["meta"], "error": f"{type(err).__name__}: {err}",
                "traceback": traceback.format_exc(limit=-8)}


def _run_cell(payload: dict, progress=None) -> dict:
    spec = parse_spec(payload["spec"], source=f"cell {payload['id']}")
    started, cpu = time.perf_counter(), time.process_time()
    run = run_experiment(spec, progress=progress)
    arm = next(iter(run.arms.values()))
    h = arm.history
    members = []
    for k, m in enumerate(run.metrics["arms"][arm.name]["members"]):
        row = {"seed": m["seed"], "diverged": m["diverged"]}
        for key in MEMBER_METRICS:
            if key == "final_train_loss":
                v = m.get(key)
            else:
                split, metric = key.split("_", 1)
                hk = f"{split}/{metric}"
                v = float(h.last(hk)[k]) if hk in h else None
            row[key] = None if m["diverged"] or v is None or not math.isfinite(v) else float(v)
        members.append(row)
    return {"id": payload["id"], "meta": payload["meta"], "members": members,
            "n_params": cost.n_params(arm.mlp), "flops": cost.flops_per_prediction(arm.mlp),
            "engine": run.metrics.get("engine", {}).get("name"),
            # what ``auto`` or ``fast`` ran this cell with (numpy, fast/generic, ...), or None
            "engine_chosen": run.metrics.get("engine", {}).get("chosen"),
            "elapsed_s": round(time.perf_counter() - started, 3),
            "cpu_s": round(time.process_time() - cpu, 3)}
