"""The cells of a sweep: one ExperimentSpec (one arm, every seed) per point of the grid."""

from __future__ import annotations

import hashlib
import itertools
import json

from actscope.config import ExperimentSpec
from actscope.config.budget import enforce, estimate, spec_shape
from actscope.errors import InputError, shown
from actscope.sweep.spec import Sweep, cell_spec

MAX_CELLS = 10_000  # larger grids need yes=True (--yes)


def cell_id(spec: ExperimentSpec) -> str:
    """A stable id of what a cell computes (its data, model, training, arm and seeds)."""
    d = spec.model_dump(mode="json", include={"data", "model", "train", "arms", "seeds"})
    d["train"].pop("lr_grid", None)
    d["train"].pop("tune_val_size", None)
    text = json.dumps(d, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _scalar(v):
    return v if isinstance(v, (int, float, str, bool)) else json.dumps(v)


def plan_cells(sweep: Sweep, yes: bool = False) -> list[dict]:
    """Every cell as a payload ``{"id", "spec", "meta"}``, in grid order.

    Refuses (InputError) a grid of more than MAX_CELLS cells unless ``yes``, and a grid
    whose largest cell is estimated above the memory limit (`config.budget`).
    """
    n = sweep.n_cells()
    if n > MAX_CELLS and not yes:
        raise InputError(f"{sweep.source}: the grid has {n:,} cells (more than {MAX_CELLS:,}); "
                         "pass --yes to run it anyway")
    names = [p for p, _ in sweep.axes]
    arms = [None] if "activation" in names else list(sweep.base.arms)
    lrs: list[float | None] = list(sweep.lr_values) or [None]
    cells, largest = [], None
    for combo in itertools.product(*(v for _, v in sweep.axes)):
        for arm in arms:
            for lr in lrs:
                values = dict(zip(names, combo))
                if lr is not None:
                    values["train.lr"] = lr
                label = ", ".join(f"{k} = {shown(v)}" for k, v in values.items())
                source = f"{sweep.source}: cell ({label})"
                spec = cell_spec(sweep, values, arm or sweep.base.arms[0], source=source)
                shape = spec_shape(spec)
                est = None if shape is None else estimate(spec, shape)
                if est is not None and (largest is None or est.total > largest[0].total):
                    largest = (est, source)
                a = spec.arms[0]
                act = a.activation if isinstance(a.activation, str) else "/".join(a.activation)
                hidden = list(spec.model.hidden)
                meta = {"arm": a.name, "activation": act, "hidden": "-".join(map(str, hidden)),
                        "depth": len(hidden), "width": max(hidden),
                        "lr": float(a.lr if a.lr is not None else spec.train.lr),
                        "dataset": spec.data.name}
                for k, v in values.items():
                    if k not in ("activation", "model.depth", "model.width", "model.hidden", "train.lr"):
                        meta[k] = _scalar(v)
                cells.append({"id": cell_id(spec), "spec": spec.model_dump(mode="json", by_alias=True,
                                                                            exclude_none=True),
                              "meta": meta})
    if largest is not None:
        enforce(*largest)
    return cells
