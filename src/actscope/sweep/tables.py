"""The sweep directory's tables: finished cells, the tidy results table (CSV, Parquet)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from actscope._util.atomic import atomic_path, atomic_write

CELL_COLUMNS = ("cell", "arm", "activation", "hidden", "depth", "width", "lr", "dataset")


def finished_cells(out: Path) -> dict[str, dict]:
    """The results already in ``out/cells`` (unreadable files are ignored)."""
    done = {}
    for p in sorted((out / "cells").glob("*.json")):
        try:
            res = json.loads(p.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if res.get("id") == p.stem:
            done[p.stem] = res
    return done


def table_rows(cells: list[dict], results: dict[str, dict]) -> list[dict]:
    """The tidy table: one row per (finished cell, seed), in grid order."""
    extra = [k for c in cells for k in c["meta"] if k not in CELL_COLUMNS]
    extra = list(dict.fromkeys(extra))
    rows = []
    for c in cells:
        r = results.get(c["id"])
        if r is None:
            continue
        for m in r["members"]:
            row = {"cell": c["id"], **{k: c["meta"].get(k) for k in CELL_COLUMNS[1:]},
                   **{k: c["meta"].get(k) for k in extra},
                   "n_params": r["n_params"], "flops": r["flops"], **m,
                   "engine": r.get("engine"), "elapsed_s": r["elapsed_s"], "cpu_s": r.get("cpu_s")}
            rows.append(row)
    return rows


def normalise_columns(rows: list[dict]) -> list[dict]:
    """Give every column one type: ints become floats where a column mixes them."""
    if not rows:
        return rows
    for col in rows[0]:
        kinds = {type(r[col]) for r in rows if r[col] is not None}
        if kinds == {int, float}:
            for r in rows:
                if r[col] is not None:
                    r[col] = float(r[col])
        elif len(kinds) > 1:
            for r in rows:
                if r[col] is not None:
                    r[col] = str(r[col])
    return rows


def write_csv(path: Path, rows: list[dict]) -> None:
    """Write the rows as CSV (floats exactly, None as empty), atomically."""
    cols = list(rows[0]) if rows else list(CELL_COLUMNS)
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=cols)
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if v is None else repr(v) if isinstance(v, float) else v)
                    for k, v in r.items()})
    atomic_write(path, buf.getvalue())


def write_parquet(path: Path, rows: list[dict]) -> bool:
    """Write the table as Parquet; False when pyarrow is not installed."""
    try:  # an optional extra ("sweep"), loaded only here
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return False
    with atomic_path(path) as tmp:
        pq.write_table(pa.Table.from_pylist(rows), tmp)
    return True


def read_table(out: str | Path) -> list[dict]:
    """The tidy table of a sweep directory (Parquet if present, else CSV)."""
    out = Path(out)
    if (out / "results.parquet").is_file():
        try:
            import pyarrow.parquet as pq

            return pq.read_table(out / "results.parquet").to_pylist()
        except ImportError:
            pass
    with (out / "results.csv").open(newline="") as fh:
        return [_parse_csv_row(r) for r in csv.DictReader(fh)]


def _parse_csv_row(row: dict) -> dict:
    out: dict[str, object] = {}
    for k, v in row.items():
        if v == "":
            out[k] = None
        elif v in ("True", "False"):
            out[k] = v == "True"
        else:
            try:
                out[k] = int(v)
            except ValueError:
                try:
                    out[k] = float(v)
                except ValueError:
                    out[k] = v
    return out
