"""Sweeps: a grid over spec fields x seeds; each cell trains as one ensemble.

A sweep file is an experiment file (``[data]``, ``[model]``, ``[train]``, ``[seeds]``, ...)
with a top-level ``[sweep]`` table whose ``[sweep.grid]`` lists the values of dotted spec
fields (``model.hidden``, ``train.lr``, ``data.noise``, ...) plus the shortcuts
``activation`` (one arm per value), ``model.depth`` and ``model.width`` (``hidden =
[width] * depth``). With ``[train] lr = "tune"`` every cell is trained at every rate of
``lr_grid`` and the rate is chosen per arm on the validation split (tune.py).

The sweep directory (default ``runs/<name>``; the same command resumes it)::

    sweep.toml              the sweep as resolved
    cells/<id>.json         one finished cell (written atomically); <id> hashes its spec
    results.parquet|.csv    tidy: one row per cell and seed
    configs.csv             one row per arm configuration: naive and tuned rates, accuracy
    analysis.json           fair comparison, cheapest networks, measured latency
    figures/*.png, report.html
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import math
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError

from actscope.config import (
    ArmSpec,
    DataSpec,
    ExperimentSpec,
    ModelSpec,
    SeedsSpec,
    Strict,
    TrainSpec,
    format_validation_error,
    load_toml,
    parse_spec,
    resolve_config_path,
)
from actscope.errors import InputError

MAX_CELLS = 10_000  # larger grids need yes=True (--yes)
SECTIONS = {"data": DataSpec, "model": ModelSpec, "train": TrainSpec, "seeds": SeedsSpec}
SHORTCUTS = {"activation", "model.depth", "model.width"}
NOT_SWEEPABLE = {"train.lr_grid", "train.tune_val_size", "seeds.values"}
MEMBER_METRICS = ("test_accuracy", "test_loss", "val_accuracy", "val_loss", "train_accuracy",
                  "train_loss", "final_train_loss")
CELL_COLUMNS = ("cell", "arm", "activation", "hidden", "depth", "width", "lr", "dataset")


class SweepTable(Strict):
    """The ``[sweep]`` table."""

    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.+\-]+$")] = "sweep"
    description: str = ""
    grid: dict[str, Any] = {}
    target_accuracy: Annotated[float, Field(gt=0, le=1)] = 0.95
    success_fraction: Annotated[float, Field(gt=0, le=1)] = 0.9
    shared_lr: Annotated[float, Field(gt=0)] | None = None  # the naive comparison's rate
    reference: str | None = None  # the activation gaps are measured against (default relu)
    focus: list[Annotated[int, Field(gt=0)]] | None = None  # headline architecture
    latency: bool = True
    latency_batch: Annotated[int, Field(gt=0)] = 4096


class _SweepFile(Strict):
    sweep: SweepTable


@dataclass
class Sweep:
    """A validated sweep: its table, the base experiment and the grid axes."""

    table: SweepTable
    base: ExperimentSpec
    axes: list[tuple[str, list]]
    source: str = "sweep"
    tuned: bool = False
    raw: dict = field(default_factory=dict)
    raw_probes: bool = False  # the file has a [probes] table

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def shared_lr(self) -> float:
        if self.table.shared_lr is not None:
            return float(self.table.shared_lr)
        return 0.05 if self.base.train.lr == "tune" else float(self.base.train.lr)

    @property
    def lr_values(self) -> list[float]:
        """The rates every arm is trained at (the tuning grid plus the shared rate)."""
        if not self.tuned:
            return []
        return sorted(set(float(r) for r in self.base.train.lr_grid) | {self.shared_lr})

    def n_cells(self) -> int:
        n = math.prod(len(v) for _, v in self.axes)
        if not any(p == "activation" for p, _ in self.axes):
            n *= len(self.base.arms)
        return n * max(1, len(self.lr_values))


# Loading ------------------------------------------------------------------------------------

def _flatten(grid: dict, prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    for k, v in grid.items():
        path = f"{prefix}{k}"
        if isinstance(v, dict):
            out.extend(_flatten(v, path + "."))
        else:
            out.append((path, v))
    return out


def _check_axis(path: str, values, src: str) -> str:
    """The canonical name of a grid axis, or an InputError naming what is wrong."""
    path = "activation" if path == "arms.activation" else path
    if not isinstance(values, list):
        raise InputError(f"{src}: sweep.grid.{path} = {values!r}: an axis is a list of values")
    if not values:
        raise InputError(f"{src}: sweep.grid.{path} = []: an axis needs at least one value")
    if path in SHORTCUTS:
        return path
    head, _, rest = path.partition(".")
    known = "activation, model.depth, model.width, arms.<field>, data.*, model.*, train.*, seeds.*"
    if head == "arms" and rest in ArmSpec.model_fields and rest != "name":
        return path
    if head in SECTIONS and rest in SECTIONS[head].model_fields and path not in NOT_SWEEPABLE:
        return path
    raise InputError(f"{src}: sweep.grid: unknown field {path!r}; sweepable: {known}")


def parse_sweep(data: dict, source: str = "sweep") -> Sweep:
    """Validate a sweep file's content (refuses bad fields and values, runs nothing)."""
    data = dict(data)
    if "sweep" not in data:
        raise InputError(f"{source}: not a sweep config: it has no [sweep] table")
    raw = {"sweep": data.pop("sweep")}
    try:
        table = _SweepFile.model_validate(raw).sweep
    except ValidationError as err:
        raise InputError(format_validation_error(err, source)) from None
    axes: list[tuple[str, list]] = []
    for path, values in _flatten(table.grid):
        name = _check_axis(path, values, source)
        if any(n == name for n, _ in axes):
            raise InputError(f"{source}: sweep.grid.{name}: given twice")
        axes.append((name, list(values)))
    if not axes:
        raise InputError(f"{source}: sweep.grid is empty: give at least one axis")
    names = [n for n, _ in axes]
    if "model.hidden" in names and ({"model.depth", "model.width"} & set(names)):
        raise InputError(f"{source}: sweep.grid: give model.hidden or model.depth/width, not both")
    if "activation" in names:
        if "arms" in data:
            raise InputError(f"{source}: sweep.grid.activation makes one arm per activation: "
                             "remove the [[arms]] tables (or sweep arms.<field> instead)")
        first = axes[names.index("activation")][1][0]
        data["arms"] = [{"name": "activation", "activation": first}]
    base = parse_spec(data, source=source)
    tuned = base.train.lr == "tune"
    if tuned and "train.lr" in names:
        raise InputError(f"{source}: sweep.grid.train.lr with [train] lr = \"tune\": give one or "
                         "the other (the tuning grid is [train] lr_grid)")
    sweep = Sweep(table=table, base=base, axes=axes, source=source, tuned=tuned, raw=raw,
                  raw_probes="probes" in data)
    for name, values in axes:  # each value alone must make a valid spec
        for v in values:
            _cell_spec(sweep, {name: v}, base.arms[0], source=f"{source}: sweep.grid.{name} = {v!r}")
    return sweep


def load_sweep(path: str | Path) -> Sweep:
    """Read and validate a sweep TOML file (or a built-in sweep preset's name)."""
    p = resolve_config_path(path)
    return parse_sweep(load_toml(p), source=str(p))


# Cells --------------------------------------------------------------------------------------

def _arm_name(activation) -> str:
    text = activation if isinstance(activation, str) else "+".join(map(str, activation))
    return re.sub(r"[^A-Za-z0-9_.+\-]", "_", text) or "arm"


def _cell_spec(sweep: Sweep, values: dict, arm: ArmSpec, source: str) -> ExperimentSpec:
    d = sweep.base.model_dump(mode="json", by_alias=True, exclude_none=True)
    arm_d = arm.model_dump(mode="json", exclude_none=True)
    hidden = list(d["model"]["hidden"])
    depth, width = len(hidden), hidden[0]
    for path, v in values.items():
        if path == "activation":
            arm_d = {"name": _arm_name(v), "activation": v}
        elif path == "model.depth":
            depth = v
        elif path == "model.width":
            width = v
        elif path.startswith("arms."):
            arm_d[path[5:]] = v
        else:
            sec, key = path.split(".", 1)
            d[sec][key] = v
    if "model.depth" in values or "model.width" in values:
        if not isinstance(depth, int) or not isinstance(width, int) or depth < 1 or width < 1:
            raise InputError(f"{source}: depth and width must be positive integers")
        d["model"]["hidden"] = [width] * depth
    d["arms"] = [arm_d]
    if not sweep.raw_probes:  # a sweep records accuracies only, unless it asks for probes
        d["probes"] = {"include": [], "batch_gradients": "off"}
    d["train"].pop("lr_grid", None)
    if sweep.tuned:
        d["train"]["lr"] = values.get("train.lr", sweep.shared_lr)
    d["name"] = sweep.name
    return parse_spec(d, source=source)


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

    Refuses (InputError) a grid of more than MAX_CELLS cells unless ``yes``.
    """
    n = sweep.n_cells()
    if n > MAX_CELLS and not yes:
        raise InputError(f"{sweep.source}: the grid has {n:,} cells (more than {MAX_CELLS:,}); "
                         "pass --yes to run it anyway")
    names = [p for p, _ in sweep.axes]
    arms = [None] if "activation" in names else list(sweep.base.arms)
    lrs = sweep.lr_values or [None]
    cells = []
    for combo in itertools.product(*(v for _, v in sweep.axes)):
        for arm in arms:
            for lr in lrs:
                values = dict(zip(names, combo))
                if lr is not None:
                    values["train.lr"] = lr
                label = ", ".join(f"{k} = {v!r}" for k, v in values.items())
                spec = _cell_spec(sweep, values, arm or sweep.base.arms[0],
                                  source=f"{sweep.source}: cell ({label})")
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
    return cells


def run_cell(payload: dict, progress=None) -> dict:
    """Train one cell (one ensemble over the seeds) and return its per-member results.

    An exception (not an interrupt) is returned as ``{"id", "meta", "error"}`` so that one
    failing cell does not stop the others.
    """
    import warnings

    import numpy as np

    try:  # a diverging member is recorded as diverged; its overflow warnings are noise here
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return _run_cell(payload, progress)
    except Exception as err:  # noqa: BLE001 - reported per cell, retried on restart
        return {"id": payload["id"], "meta": payload["meta"], "error": f"{type(err).__name__}: {err}"}


def _run_cell(payload: dict, progress=None) -> dict:
    from actscope.analysis import cost
    from actscope.experiment import run_experiment

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
                v = float(h.last(hk)[k]) if hk in h.values else None
            row[key] = None if m["diverged"] or v is None or not math.isfinite(v) else float(v)
        members.append(row)
    return {"id": payload["id"], "meta": payload["meta"], "members": members,
            "n_params": cost.n_params(arm.mlp), "flops": cost.flops_per_prediction(arm.mlp),
            "engine": run.metrics.get("engine", {}).get("name"),
            "elapsed_s": round(time.perf_counter() - started, 3),
            "cpu_s": round(time.process_time() - cpu, 3)}


# The sweep directory ------------------------------------------------------------------------

def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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


def _normalise_columns(rows: list[dict]) -> list[dict]:
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
    cols = list(rows[0]) if rows else list(CELL_COLUMNS)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.chmod(tmp, 0o666 & ~_umask())
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if v is None else repr(v) if isinstance(v, float) else v)
                        for k, v in r.items()})
    os.replace(tmp, path)


def write_parquet(path: Path, rows: list[dict]) -> bool:
    """Write the table as Parquet; False when pyarrow is not installed."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return False
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(pa.Table.from_pylist(rows), tmp)
    os.replace(tmp, path)
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
    out = {}
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


# Running ------------------------------------------------------------------------------------

@dataclass
class SweepResult:
    """What a sweep produced: its directory, the table and the analysis."""

    path: Path
    rows: list[dict]
    analysis: dict
    n_cells: int
    n_skipped: int
    n_run: int
    elapsed_s: float
    report: Path | None = None
    n_failed: int = 0


def default_sweep_dir(name: str, root: str | Path = "runs") -> Path:
    """``runs/<name>``: no time stamp, so the same command resumes the same sweep."""
    return Path(root) / name


def resolved_toml(sweep: Sweep) -> str:
    import tomli_w

    base = sweep.base.model_dump(mode="json", by_alias=True, exclude_none=True)
    if any(p == "activation" for p, _ in sweep.axes):
        base.pop("arms")
    return tomli_w.dumps({"sweep": sweep.table.model_dump(mode="json", exclude_none=True), **base})


def run_sweep(
    sweep: Sweep | str | Path,
    out: str | Path | None = None,
    executor: str = "inprocess",
    workers: int | None = None,
    address: str | None = None,
    yes: bool = False,
    progress: bool = True,
    report: bool = True,
    echo: Callable[[str], None] = print,
) -> SweepResult:
    """Run every unfinished cell of ``sweep``, then write the table, analysis and report.

    Bad input is refused before any work. Each cell's result is written atomically when it
    finishes; a KeyboardInterrupt propagates and loses no finished cell, and running the
    same sweep into the same directory again skips them (and says how many).
    """
    from actscope.sweep.executors import check_executor, execute

    if not isinstance(sweep, Sweep):
        sweep = load_sweep(sweep)
    check_executor(executor, workers)
    cells = plan_cells(sweep, yes=yes)
    out = Path(out) if out is not None else default_sweep_dir(sweep.name)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out = {str(out)!r}: exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "sweep.toml", resolved_toml(sweep))
    done = finished_cells(out)
    ids = {c["id"] for c in cells}
    results = {i: r for i, r in done.items() if i in ids}
    todo = [c for c in cells if c["id"] not in results]
    n_skipped = len(cells) - len(todo)
    if n_skipped:
        echo(f"resuming {out}: {n_skipped} of {len(cells)} cells already finished, skipped")
    started = time.perf_counter()
    failed: list[dict] = []
    with SweepProgress(len(todo), enabled=progress) as bar:
        kwargs = {"progress": bar} if executor == "inprocess" else {}
        for res in execute(executor, run_cell, todo, workers=workers, address=address, **kwargs):
            failed_file = out / "failed" / f"{res['id']}.txt"
            if "error" in res:
                failed.append(res)
                atomic_write(failed_file, json.dumps(res["meta"]) + "\n" + res["error"] + "\n")
                echo(f"cell {res['id']} failed ({res['error'].splitlines()[0][:200]}); "
                     "it will be retried on restart")
                continue
            atomic_write(out / "cells" / f"{res['id']}.json", json.dumps(res))
            failed_file.unlink(missing_ok=True)
            results[res["id"]] = res
            bar.cell_done(res)
    elapsed = time.perf_counter() - started
    result = finish_sweep(sweep, out, cells, results, report=report)
    result.n_skipped, result.n_run, result.elapsed_s = n_skipped, len(todo) - len(failed), elapsed
    result.n_failed = len(failed)
    return result


def finish_sweep(sweep: Sweep, out: Path, cells: list[dict], results: dict[str, dict],
                 report: bool = True) -> SweepResult:
    """Write the table, the per-configuration summary, the analysis and the report."""
    from actscope.experiment.rundir import write_json
    from actscope.sweep.analysis import analyse, configs_csv_rows

    rows = _normalise_columns(table_rows(cells, results))
    write_csv(out / "results.csv", rows)
    write_parquet(out / "results.parquet", rows)
    analysis = analyse(sweep, rows)
    crow = configs_csv_rows(analysis)
    if crow:
        write_csv(out / "configs.csv", crow)
    tmp = out / ".analysis.json.tmp"
    write_json(tmp, analysis)
    os.replace(tmp, out / "analysis.json")
    html = None
    if report:
        from actscope.report.sweep_report import write_sweep_report

        html = write_sweep_report(sweep, analysis, out)
    return SweepResult(out, rows, analysis, len(cells), 0, 0, 0.0, html)


class SweepProgress:
    """Progress on stderr (rich): cells finished, and the epochs of the current cell."""

    def __init__(self, total: int, enabled: bool = True) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._p = Progress(TextColumn("[bold]{task.description:<22}"), BarColumn(), MofNCompleteColumn(),
                           TimeElapsedColumn(), TimeRemainingColumn(), console=Console(stderr=True),
                           disable=not enabled)
        self._cells = self._p.add_task("cells", total=total)
        self._epochs = None

    def __enter__(self):
        self._p.__enter__()
        return self

    def __exit__(self, *exc):
        return self._p.__exit__(*exc)

    def start(self, arm: str, epochs: int) -> None:  # the training-progress protocol
        if self._epochs is None:
            self._epochs = self._p.add_task(arm, total=epochs)
        self._p.reset(self._epochs, total=epochs, description=arm[:22])

    def advance(self, arm: str, loss: float | None = None) -> None:
        if self._epochs is not None:
            self._p.advance(self._epochs)

    def cell_done(self, res: dict) -> None:
        m = res["meta"]
        self._p.update(self._cells, advance=1,
                       description=f"{m['activation']} {m['hidden']} lr {m['lr']:g}"[:22])
