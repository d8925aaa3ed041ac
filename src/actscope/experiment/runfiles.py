"""The files of a run directory: each written whole (atomically), each checked when read.

A file that is missing or corrupt is a `RunDirError` of one line naming the file and what is
wrong, and what rebuilds it where something can (`actscope report` rebuilds metrics.json
from params.npz, the history and config.toml). ``status.json`` says how far the run got.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tomllib
import traceback as tb
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from actscope._util.atomic import atomic_path, atomic_write
from actscope._util.runlock import holder
from actscope.config import ExperimentSpec, parse_spec
from actscope.errors import InputError, RunDirError, shorten

CONFIG, METRICS, PARAMS, HISTORY, STATUS = ("config.toml", "metrics.json", "params.npz",
                                            "history.npz", "status.json")
STATES = ("running", "complete", "interrupted", "failed")  # what status.json records
READABLE = ("complete", "interrupted")  # the states `list_runs` lists


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o))


def to_json(obj) -> str:
    """JSON text of metrics-like data (NumPy scalars and arrays allowed; NaN refused)."""
    return json.dumps(obj, indent=2, default=_json_default, allow_nan=False)


def write_json(path: Path, obj) -> None:
    """``obj`` as JSON at ``path``, atomically."""
    atomic_write(path, to_json(obj))


def finite_json(obj, where: tuple = ()) -> tuple[Any, list[tuple]]:
    """``obj`` (JSON-like, NumPy allowed) with every non-finite number replaced by None, and
    the paths (key and index tuples) of the numbers replaced."""
    if isinstance(obj, np.ndarray):
        obj = obj.tolist()
    elif isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None, [where]
    if isinstance(obj, dict):
        pairs = [(k, finite_json(v, (*where, k))) for k, v in obj.items()]
        return {k: v for k, (v, _) in pairs}, [p for _, (_, ps) in pairs for p in ps]
    if isinstance(obj, list | tuple):
        items = [finite_json(v, (*where, i)) for i, v in enumerate(obj)]
        return [v for v, _ in items], [p for _, ps in items for p in ps]
    return obj, []


def flag_nonfinite(metrics: dict) -> dict:
    """metrics.json as written: every non-finite number null, listed under ``nonfinite``
    (dotted paths, ``arms.relu.members.0.hidden_std.1``) and, per member, the keys it
    touched under the member's ``nonfinite``."""
    clean, paths = finite_json(metrics)
    if not paths:
        return clean
    clean["nonfinite"] = [".".join(str(k) for k in p) for p in paths]
    for p in paths:
        if len(p) > 4 and p[0] == "arms" and p[2] == "members":
            keys = clean["arms"][p[1]]["members"][p[3]].setdefault("nonfinite", [])
            if p[4] not in keys:
                keys.append(p[4])
    return clean


def write_params(folder: Path, arms) -> None:
    """params.npz: ``<arm>/W1``, ``<arm>/b1``, ... of every arm (NumPy), atomically."""
    arrays: dict[str, Any] = {}  # Any: savez's stubs type **kwds like its allow_pickle
    for arm in arms:
        for i, (W, b) in enumerate(arm.params):
            arrays[f"{arm.name}/W{i + 1}"] = np.asarray(W)
            arrays[f"{arm.name}/b{i + 1}"] = np.asarray(b)
    with atomic_path(folder / PARAMS) as tmp, tmp.open("wb") as fh:
        np.savez(fh, **arrays)


def now() -> str:
    """The time now, UTC, ISO 8601 to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_status(folder: Path, state: str, **info) -> dict:
    """status.json: ``state`` (one of `STATES`), the writer's pid and ``info``, atomically;
    what was there before is kept unless ``info`` replaces it."""
    old = read_status(folder, strict=False) or {}
    status = {**old, "state": state, "pid": os.getpid(), **info}
    if state != "failed":
        status.pop("error", None)
        status.pop("traceback", None)
    write_json(folder / STATUS, status)
    return status


def failure(err: BaseException) -> dict:
    """The ``error`` (one line) and ``traceback`` status.json records for ``err``."""
    text = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
    return {"error": shorten(text, 300),
            "traceback": "".join(tb.format_exception(type(err), err, err.__traceback__))}


def read_status(folder: Path, strict: bool = True) -> dict | None:
    """status.json of ``folder`` (None when absent: a run written before status files)."""
    p = Path(folder) / STATUS
    if not p.is_file():
        return None
    try:
        status = json.loads(p.read_text(encoding="utf-8"))
        if not (isinstance(status, dict) and status.get("state") in STATES):
            raise ValueError(f"state is not one of {', '.join(STATES)}")
    except (ValueError, UnicodeDecodeError) as err:
        if strict:
            raise RunDirError(f"{p}: corrupt ({shorten(str(err))})") from None
        return None
    return status


def run_state(folder: str | Path) -> str:
    """How far the run in ``folder`` got: a state of `STATES`, ``abandoned`` (running, but
    no live process holds it: killed), ``complete`` for a run without status.json that has
    its metrics, else ``unknown``."""
    folder = Path(folder)
    try:
        status = read_status(folder)
    except RunDirError:
        return "unknown"
    if status is None:
        return "complete" if (folder / METRICS).is_file() else "unknown"
    if status["state"] == "running" and holder(folder) is None:
        return "abandoned"
    return status["state"]


def digest(path: Path) -> str:
    """The SHA-256 of a file, hex."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def record_digests(folder: Path, *names: str) -> None:
    """Keep the SHA-256 of files ``names`` in status.json, so that reading checks them."""
    status = read_status(folder, strict=False)
    if status is None:
        return
    old = status.get("sha256")
    sums = {**(old if isinstance(old, dict) else {}), **{n: digest(folder / n) for n in names}}
    write_status(folder, status["state"], sha256=sums)


def verify(folder: Path, name: str) -> None:
    """A RunDirError when file ``name`` differs from what the run wrote (status.json's SHA-256;
    nothing to check for a run without one)."""
    status = read_status(folder, strict=False) or {}
    want = status.get("sha256", {}).get(name) if isinstance(status.get("sha256"), dict) else None
    if want is not None and digest(folder / name) != want:
        raise RunDirError(f"{folder / name}: corrupt (its SHA-256 is not the one status.json "
                          f"records: one of the two changed since the run wrote them)")


def _missing(path: Path, why: str) -> RunDirError:
    return RunDirError(f"{path}: missing; {why}")


def read_config(folder: Path) -> ExperimentSpec:
    """The run's spec, from config.toml."""
    p = folder / CONFIG
    if not p.is_file():
        raise _missing(p, "the run's spec is gone, so the run cannot be read")
    verify(folder, CONFIG)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise RunDirError(f"{p}: corrupt (not UTF-8 text)") from None
    except tomllib.TOMLDecodeError as err:
        raise RunDirError(f"{p}: corrupt (not TOML: {shorten(str(err))})") from None
    try:
        return parse_spec(data, source=str(p))
    except InputError as err:
        raise RunDirError(str(err)) from None


def _corrupt_metrics(p: Path, what: str) -> RunDirError:
    return RunDirError(f"{p}: corrupt ({what}); `actscope report {p.parent}` rebuilds it")


def read_metrics(folder: Path) -> dict:
    """metrics.json, checked for what reading the run back needs (arms, members, seeds)."""
    p = folder / METRICS
    if not p.is_file():
        raise RunDirError(f"{p}: missing; `actscope report {folder}` rebuilds it")
    try:
        verify(folder, METRICS)
    except RunDirError:
        raise _corrupt_metrics(p, "changed since the run wrote it") from None
    try:
        metrics = json.loads(p.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise _corrupt_metrics(p, f"not JSON: {shorten(str(err))}") from None
    if not isinstance(metrics, dict) or not isinstance(metrics.get("arms"), dict):
        raise _corrupt_metrics(p, "not a run's metrics: no 'arms' table")
    for name, arm in metrics["arms"].items():
        if not isinstance(arm, dict):
            raise _corrupt_metrics(p, f"arms.{name} is not a table")
        act, members = arm.get("activation"), arm.get("members")
        if not (isinstance(act, list) and act and all(isinstance(a, str) for a in act)):
            raise _corrupt_metrics(p, f"arms.{name}.activation is not a list of names")
        if not (isinstance(members, list) and members and all(
                isinstance(m, dict) and type(m.get("seed")) is int and type(m.get("diverged")) is bool
                for m in members)):
            raise _corrupt_metrics(p, f"arms.{name}.members is not a list of members with seeds")
    return metrics


def read_params(folder: Path) -> dict[str, np.ndarray]:
    """Every array of params.npz, read whole (a truncated file fails here, not later)."""
    p = folder / PARAMS
    if not p.is_file():
        raise _missing(p, "the trained parameters are gone, so the run cannot be read")
    verify(folder, PARAMS)
    try:
        with np.load(p, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError, TypeError,
            AttributeError) as err:  # np.load of a damaged file fails in each of these ways
        raise RunDirError(f"{p}: corrupt (truncated or not an npz file: {shorten(str(err))})") from None
    if not all(isinstance(a, np.ndarray) and a.dtype.kind == "f" for a in arrays.values()):
        raise RunDirError(f"{p}: corrupt (an array that is not floating point)")
    return arrays
