"""Cells that differ only in learning rate (and activation) trained as one ensemble.

A sweep's cells at the rates of its tuning grid, and across its activations, share
everything else: data, architecture, seeds, optimiser, epochs. The fast engine's generic
kernels take a learning rate per member and an activation per block, so such cells train
as one ensemble (`engines.mixed.train_ensemble`: one kernel call per epoch for all of
them) and are then written back as their own cells, each with the per-member results,
keys and numbers that `cells.run_cell` gives it alone on the generic kernels
(``engine_chosen`` then says ``fast/generic (group of N)``; ``elapsed_s`` and ``cpu_s``
are the group's shared equally among its cells).

`plan_units` decides, before any work, which cells form groups: only cells whose engine
is ``auto`` or ``fast`` and that the kernels train as the training loop would (a binary
task, an optimiser the kernels have, no dropout, L1/L2 or probes), and only where the
estimate (`engines.auto_policy`) says the group on the generic kernels costs less than
``MARGIN`` times the NumPy engine on its cells (``auto``; the compile or load of the
kernels counted once for the sweep). A group is capped at ``GROUP_MAX_MEMBERS`` members
and ``GROUP_MAX_S`` estimated seconds, so that a killed sweep loses little. A group whose
training raises runs its cells again one by one (each then finishes or fails alone).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
import time
import traceback
import warnings
from dataclasses import replace

import numpy as np

from actscope.activations import Activation
from actscope.analysis import cost
from actscope.config import parse_spec, register_custom_activations
from actscope.config.against_data import check_with_data
from actscope.config.budget import spec_shape
from actscope.data.generators import load_dataset
from actscope.engines.auto_policy import MARGIN
from actscope.engines.codegen.common import OPT_KINDS
from actscope.experiment.arms import arm_model, arm_train
from actscope.nn.model import Layer, MLPSpec, init_params
from actscope.sweep.cells import MEMBER_METRICS, run_cell

GROUP_ENGINES = ("auto", "fast")
GROUP_MAX_MEMBERS = 320  # members of one group (the inference-cost preset: 5 activations x 3 rates x 10)
GROUP_MAX_S = 120.0      # estimated seconds of one group's kernel work


def _key(spec: dict, by_activation: bool) -> str | None:
    """What a cell shares with the others of its group (None: it trains alone)."""
    t, probes = spec.get("train", {}), spec.get("probes", {})
    if (t.get("engine") not in GROUP_ENGINES or t.get("device", "cpu") != "cpu"
            or t.get("optimizer", "sgd") not in OPT_KINDS or t.get("dropout", 0) or t.get("l1", 0)
            or t.get("l2", 0) or probes.get("include", ["all"]) or len(spec.get("arms", [])) != 1
            or t.get("lr") == "tune"):
        return None
    d = json.loads(json.dumps(spec))
    d["train"].pop("lr", None)
    arm = d["arms"][0]
    arm.pop("lr", None)
    if by_activation:
        arm.pop("activation", None)
        arm.pop("name", None)
    return json.dumps(d, sort_keys=True)


def _estimates(cell: dict) -> tuple[float, float, float, int] | None:
    """(NumPy seconds for the cell alone, generic-kernel seconds of its members within a
    group, the kernels' compile or load seconds, its members), or None where the data's
    shape is known only once loaded."""
    from actscope.engines import fast_kernels
    from actscope.engines.auto_policy import Workload, kernel_estimate, numpy_estimate
    from actscope.engines.fast_engine import n_threads

    spec = parse_spec(cell["spec"], source=f"cell {cell['id']}")
    shape = spec_shape(spec)
    if shape is None or shape.n_classes > 2:
        return None
    arm, train = spec.arms[0], spec.train
    mlp = MLPSpec(shape.n_features, spec.model.hidden, arm.activation, init=arm.init or spec.model.init)
    dt = train.dtype
    lanes = fast_kernels.LANES[dt]
    work = Workload(members=spec.seeds.n, epochs=train.epochs, n=shape.n_train,
                    batch=min(train.batch_size, shape.n_train), sizes=tuple(mlp.sizes), dtype=dt,
                    threads=n_threads(), lanes=lanes, program_ops=fast_kernels.program_ops(mlp))
    key = fast_kernels.sources_key(dt)
    compiled, loaded = fast_kernels.compiled("generic", key), fast_kernels.loaded("generic", key)
    block = kernel_estimate(replace(work, members=lanes, threads=1), "generic", compiled,
                            "numba" in sys.modules, loaded)
    # in a group a cell fills members / lanes blocks (padding only per activation), spread over the threads
    share = block.work_s * spec.seeds.n / lanes / work.threads
    return numpy_estimate(work).work_s, share, block.compile_s, spec.seeds.n


def _groups_of(cells: list[dict], by_activation: bool) -> list[list[int]]:
    """Indices of the cells with the same key (grid order kept), singles included."""
    keys: dict[str, list[int]] = {}
    out: list[list[int]] = []
    for i, c in enumerate(cells):
        k = _key(c["spec"], by_activation)
        if k is None:
            out.append([i])
        elif k in keys:
            keys[k].append(i)
        else:
            keys[k] = [i]
            out.append(keys[k])
    return out


def plan_units(cells: list[dict]) -> list[dict]:
    """The payloads an executor maps with `run_unit`: each cell alone, or groups of cells
    ``{"id": "group-<hash>", "meta", "cells": [cell payloads]}`` where the estimate says
    the kernels pay (see the module). Cells keep their grid order within a group."""
    if importlib.util.find_spec("numba") is None:
        return list(cells)
    chosen: list[list[int]] = []
    saved, compile_s = 0.0, 0.0
    for idx in _groups_of(cells, by_activation=True):
        if len(idx) < 2 and _key(cells[idx[0]]["spec"], False) is None:
            chosen.append(idx)
            continue
        est = [_estimates(cells[i]) for i in idx]
        if any(e is None for e in est):
            chosen.extend([i] for i in idx)
            continue
        for part in _split(idx, est, cells):
            chosen.append(part)
        for (np_s, k_s, c_s, _), i in zip(est, idx):  # type: ignore[misc]
            auto = cells[i]["spec"]["train"]["engine"] == "auto"
            saved += max(0.0, MARGIN * np_s - k_s) if auto else np_s
            compile_s = max(compile_s, c_s)
    if saved <= compile_s:  # the kernels do not pay for this sweep: every cell alone
        return list(cells)
    return [_unit([cells[i] for i in part]) if len(part) > 1 else cells[part[0]]
            for part in sorted(chosen, key=lambda p: p[0])]


def _split(idx: list[int], est: list, cells: list[dict]) -> list[list[int]]:
    """``idx`` in parts of at most GROUP_MAX_MEMBERS members and GROUP_MAX_S seconds; a cell
    that ``auto`` trains faster with NumPy (its estimate) stays alone."""
    parts: list[list[int]] = []
    cur: list[int] = []
    cur_m, cur_s = 0, 0.0
    for i, (np_s, k_s, _, m) in zip(idx, est):
        if cells[i]["spec"]["train"]["engine"] == "auto" and not k_s < MARGIN * np_s:
            parts.append([i])
            continue
        if cur and (cur_m + m > GROUP_MAX_MEMBERS or cur_s + k_s > GROUP_MAX_S):
            parts.append(cur)
            cur, cur_m, cur_s = [], 0, 0.0
        cur.append(i)
        cur_m, cur_s = cur_m + m, cur_s + k_s
    if cur:
        parts.append(cur)
    return parts


def _unit(cells: list[dict]) -> dict:
    ids = ",".join(c["id"] for c in cells)
    return {"id": "group-" + hashlib.sha256(ids.encode()).hexdigest()[:16],
            "meta": {"group": len(cells), "hidden": cells[0]["meta"].get("hidden")}, "cells": cells}


def run_unit(payload: dict, progress=None) -> dict:
    """`cells.run_cell` for a cell, `run_group` for a group (what the executors map)."""
    if "cells" in payload:
        return run_group(payload, progress)
    return run_cell(payload, progress)


def run_group(payload: dict, progress=None) -> dict:
    """Train a group's cells as one ensemble: ``{"id", "cells": [each cell's result]}``.

    Where the group's training raises (a spec the kernels do not cover after all, an
    error in one cell's data), its cells run again one by one with `run_cell`, so that
    each finishes or is recorded failed on its own; a MemoryError makes every cell
    ``lost`` (run again on restart).
    """
    cells = payload["cells"]
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return {"id": payload["id"], "cells": _train_group(cells, progress)}
    except MemoryError:
        return {"id": payload["id"], "cells": [{"id": c["id"], "meta": c["meta"],
                                                "lost": "MemoryError: out of memory"} for c in cells]}
    except Exception:  # noqa: BLE001 - the cells then run alone, each failing on its own
        note = traceback.format_exc(limit=-2).strip().splitlines()[-1]
        import logging

        logging.getLogger(__name__).debug("group %s ran its cells one by one: %s", payload["id"], note)
        return {"id": payload["id"], "cells": [run_cell(c, progress) for c in cells]}


def _members(specs: list, data) -> tuple:
    """(MLPSpecs, activations, group per member, rate per member, stacked initial
    parameters, batch streams) of the cells' members, cell after cell, seeds in order."""
    from actscope.training.stepper import batch_streams

    mlps: list[MLPSpec] = []
    acts: list[Activation] = []
    group: list[int] = []
    lrs: list[float] = []
    params: list[list[Layer]] = []
    streams: list = []
    seeds = specs[0].seeds.as_list()
    for spec in specs:
        check_with_data(spec, data)
        mlp, train = arm_model(spec, spec.arms[0], data), arm_train(spec, spec.arms[0])
        names = [a.name for a in mlp.activations]
        if mlp.n_outputs != 1 or len(set(names)) != 1 or (mlps and mlp.sizes != mlps[0].sizes):
            raise ValueError("the cells of a group share a binary architecture, one activation each")
        known = [a.name for a in acts]
        if names[0] not in known:
            acts.append(mlp.activations[0])
            known.append(names[0])
        group += [known.index(names[0])] * len(seeds)
        lrs += [float(train.lr)] * len(seeds)
        params.append(init_params(mlp, seeds, rng=train.rng))
        streams += batch_streams(mlp, seeds, train.rng)
        mlps.append(mlp)
    stacked = [Layer(np.concatenate([p[i].W for p in params]), np.concatenate([p[i].b for p in params]))
               for i in range(len(params[0]))]
    return mlps, acts, np.array(group), np.array(lrs), stacked, streams


def _train_group(cells: list[dict], progress) -> list[dict]:
    """The cells' results from one `train_ensemble` call (see the module)."""
    from actscope.engines.mixed import MixedPlan, train_ensemble

    started, cpu = time.perf_counter(), time.process_time()
    specs = [parse_spec(c["spec"], source=f"cell {c['id']}") for c in cells]
    t = specs[0].train
    register_custom_activations(specs[0].activations)
    data = load_dataset(specs[0].data)
    mlps, acts, group, lrs, params, streams = _members(specs, data)
    plan = MixedPlan(epochs=t.epochs, batch_size=t.batch_size, optimizer=t.optimizer, momentum=t.momentum,
                     betas=(float(t.betas[0]), float(t.betas[1])), eps=t.eps, weight_decay=t.weight_decay,
                     shuffle=t.shuffle)
    label = f"group of {len(cells)} cells"
    if progress is not None:
        progress.start(label, t.epochs)
    y = data.y_train.astype(np.float64)
    evals = {s: data.split(s) for s in data.splits}
    tick = None if progress is None else (lambda e: progress.advance(label))
    res = train_ensemble(mlps[0].sizes, acts, group, lrs, params, data.X_train, y, streams, plan, evals,
                         dtype=t.dtype, on_epoch=tick)
    assert res is not None  # no should_stop
    share = (round((time.perf_counter() - started) / len(cells), 3),
             round((time.process_time() - cpu) / len(cells), 3))
    seeds = specs[0].seeds.as_list()
    chosen = f"fast/generic (group of {len(cells)})"
    return [_cell_result(c, mlp, seeds, res, j * len(seeds), "fast", chosen, share)
            for j, (c, mlp) in enumerate(zip(cells, mlps))]


def _cell_result(cell: dict, mlp: MLPSpec, seeds: list[int], res, at: int, engine: str, chosen: str,
                 share: tuple[float, float]) -> dict:
    """One cell's result as `run_cell` writes it, from members ``at .. at + len(seeds)``."""
    members = []
    for k, seed in enumerate(seeds):
        div = bool(res.diverged[at + k])
        row: dict = {"seed": int(seed), "diverged": div}
        for key in MEMBER_METRICS:
            v: float | None
            if key == "final_train_loss":
                v = float(res.splits["train_running"][0][at + k])
            else:
                split, metric = key.split("_", 1)
                pair = res.splits.get(split)
                v = None if pair is None else float(pair[0 if metric == "loss" else 1][at + k])
            row[key] = None if div or v is None or not np.isfinite(v) else v
        members.append(row)
    return {"id": cell["id"], "meta": cell["meta"], "members": members,
            "n_params": cost.n_params(mlp), "flops": cost.flops_per_prediction(mlp),
            "engine": engine, "engine_chosen": chosen, "elapsed_s": share[0], "cpu_s": share[1]}


def expand(res: dict, units: dict[str, dict]) -> list[dict]:
    """The cell results in one executor result: a group's own list, every cell of a group
    marked lost or failed where the group's task was (a worker died), else ``[res]``."""
    if "cells" in res:
        return list(res["cells"])
    unit = units.get(res.get("id", ""))
    if unit is None or "cells" not in unit:
        return [res]
    keep = {k: v for k, v in res.items() if k in ("lost", "error", "traceback")}
    return [{"id": c["id"], "meta": c["meta"], **keep} for c in unit["cells"]]
