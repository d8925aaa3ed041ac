"""The run directory of a search, resumable cell by cell.

::

    search.toml          the search as resolved (a folder is reused only for the same one)
    status.json          counts: candidates, cells computed and reused, stage progress
    candidates.jsonl     one candidate per line (`Candidate.to_dict`), rewritten atomically
    rejected.json        how many proposals screening rejected, per reason, with examples
    cells/s<stage>-<task>-<chunk>.npz
                         one finished cell: one row per member (candidate x seed x lr)

Every file is written atomically (`_util.atomic`), so a process killed at any moment
(``kill -9`` included) leaves finished cells whole and nothing half-written; the folder is
locked while a search writes it (`_util.runlock`), as a sweep's is.
"""

from __future__ import annotations

import json
import re
import tomllib
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from actscope._util.atomic import atomic_path, atomic_write
from actscope._util.runlock import LOCK_NAME, FolderLock, lock_folder
from actscope.errors import InputError, shown
from actscope.search.canonical import Candidate
from actscope.search.evaluate import MEMBER_COLUMNS
from actscope.search.spec import SearchSpec

CELL_NAME = re.compile(r"^s(\d+)-(.+)-(\d+)\.npz$")


def default_search_dir(name: str, root: str | Path = "runs") -> Path:
    """``runs/search-<name>``: no time stamp, so the same command resumes the same search."""
    return Path(root) / f"search-{name}"


def _flat(data: object, prefix: str = "") -> dict[str, object]:
    """A TOML document as {dotted field: value} (lists of tables indexed: ``stages[1].epochs``)."""
    out: dict[str, object] = {}
    if isinstance(data, dict):
        for k, v in data.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(data, list) and any(isinstance(v, dict) for v in data):
        for i, v in enumerate(data):
            out.update(_flat(v, f"{prefix}[{i}]"))
        out[f"{prefix}.length"] = len(data)
    else:
        out[prefix] = data
    return out


def spec_difference(old_toml: str, new_toml: str) -> str | None:
    """The first field (dotted) where two searches' TOML differ, shown with both values."""
    try:
        old = _flat(tomllib.loads(old_toml))
    except tomllib.TOMLDecodeError:
        return "search.toml is not valid TOML"
    new = _flat(tomllib.loads(new_toml))
    for field in sorted(set(old) | set(new)):
        if old.get(field) != new.get(field):
            return f"{field} = {old.get(field)!r} there, {new.get(field)!r} in this search"
    return None


def open_store(out: str | Path, spec: SearchSpec) -> FolderLock:
    """Create or reuse the folder ``out`` for ``spec`` and lock it for this process.

    Refused in one line (InputError naming ``--out``): a file in the way, a folder that
    cannot be written, one another live process is writing, or one holding something else
    than this search (a different ``search.toml``: the field that differs is named; other
    content without a ``search.toml``).
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out = {shown(str(out))}: exists and is not a folder")
    lock = lock_folder(out, "search")
    try:
        _check_content(out, spec)
    except BaseException:
        lock.release()
        raise
    for tmp in (out / "cells").glob(".*.tmp"):  # left by a process killed while writing
        tmp.unlink(missing_ok=True)
    atomic_write(out / "search.toml", spec.to_toml())
    return lock


def _check_content(out: Path, spec: SearchSpec) -> None:
    toml = out / "search.toml"
    if toml.exists():
        diff = spec_difference(toml.read_text(), spec.to_toml())
        if diff is not None:
            raise InputError(f"--out = {shown(str(out))}: holds a different search ({diff}); "
                             "give a new or empty folder, or the same search to resume it")
        return
    content = [p.name for p in out.iterdir() if p.name != LOCK_NAME]
    if content:
        raise InputError(f"--out = {shown(str(out))}: the folder is not empty and holds no search "
                         "(no search.toml); give a new or empty folder")


def cell_path(out: Path, stage: int, task: str, chunk: int) -> Path:
    """Where the cell (stage, task, chunk) is stored."""
    return Path(out) / "cells" / f"s{stage}-{task}-{chunk}.npz"


def write_cell(out: Path, stage: int, task: str, chunk: int, rows: dict[str, np.ndarray]) -> Path:
    """Store one finished cell atomically."""
    path = cell_path(out, stage, task, chunk)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        arrays: dict[str, Any] = {c: np.asarray(rows[c]) for c in MEMBER_COLUMNS}
        np.savez(fh, **arrays)
    return path


def read_cell(path: Path) -> dict[str, np.ndarray] | None:
    """A stored cell's rows, or None when the file is missing or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return {c: z[c] for c in MEMBER_COLUMNS}
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError):
        return None


def member_table(run_dir: str | Path) -> dict[str, np.ndarray]:
    """Every stored member row of every cell, concatenated, with ``stage`` (int) and
    ``task`` (str) columns added; cells in (stage, task, chunk) order."""
    found = []
    for p in (Path(run_dir) / "cells").glob("s*.npz"):
        m = CELL_NAME.match(p.name)
        if m:
            found.append((int(m.group(1)), m.group(2), int(m.group(3)), p))
    cols: dict[str, list[np.ndarray]] = {c: [] for c in ("stage", "task", *MEMBER_COLUMNS)}
    for stage, task, _, p in sorted(found):
        rows = read_cell(p)
        if rows is None:
            continue
        n = len(rows["key"])
        cols["stage"].append(np.full(n, stage, dtype=np.int64))
        cols["task"].append(np.full(n, task))
        for c in MEMBER_COLUMNS:
            cols[c].append(rows[c])
    empty = {"stage": np.int64, "task": str, "key": str, "seed": np.int64}
    return {c: (np.concatenate(v) if v else np.zeros(0, dtype=empty.get(c, np.float64)))
            for c, v in cols.items()}


def write_candidates(out: Path, candidates: Sequence[Candidate]) -> None:
    """``candidates.jsonl``: one candidate per line, written atomically."""
    atomic_write(Path(out) / "candidates.jsonl",
                 "".join(json.dumps(c.to_dict(), sort_keys=True) + "\n" for c in candidates))


def read_candidates(run_dir: str | Path) -> list[Candidate]:
    """The candidates stored in ``run_dir/candidates.jsonl`` (empty when none)."""
    path = Path(run_dir) / "candidates.jsonl"
    if not path.exists():
        return []
    return [Candidate.from_dict(json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def write_json(out: Path, name: str, data: dict) -> None:
    """``out/name`` as indented JSON, atomically."""
    atomic_write(Path(out) / name, json.dumps(data, indent=2, sort_keys=True) + "\n")
