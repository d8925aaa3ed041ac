"""A sweep file: an experiment file with a ``[sweep]`` table whose ``[sweep.grid]`` lists
values of spec fields. Validated once, whole, before any cell runs."""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import tomli_w
from pydantic import BaseModel, Field, StrictBool, ValidationError

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
from actscope.config.specs import SafeName
from actscope.config.validation import MAX_NAME
from actscope.errors import InputError, input_error, shown

SECTIONS: dict[str, type[BaseModel]] = {"data": DataSpec, "model": ModelSpec, "train": TrainSpec,
                                        "seeds": SeedsSpec}
SHORTCUTS = {"activation", "model.depth", "model.width"}
NOT_SWEEPABLE = {"train.lr_grid", "train.tune_val_size", "seeds.values"}


class SweepTable(Strict):
    """The ``[sweep]`` table."""

    name: SafeName = "sweep"  # names the sweep directory and every cell's spec
    description: str = ""
    grid: dict[str, Any] = {}
    target_accuracy: Annotated[float, Field(gt=0, le=1, strict=True)] = 0.95
    success_fraction: Annotated[float, Field(gt=0, le=1, strict=True)] = 0.9
    shared_lr: Annotated[float, Field(gt=0, strict=True)] | None = None  # the naive comparison's rate
    reference: str | None = None  # the activation gaps are measured against (default relu)
    focus: list[Annotated[int, Field(gt=0, strict=True)]] | None = None  # headline architecture
    latency: StrictBool = True
    latency_batch: Annotated[int, Field(gt=0, strict=True)] = 4096


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
        grid = self.base.train.lr_grid
        if not self.tuned:
            return []
        assert grid is not None  # lr = "tune" fills it in (config.tuning)
        return sorted(set(float(r) for r in grid) | {self.shared_lr})

    def to_toml(self) -> str:
        """The sweep as resolved, every default explicit: loading it runs the same cells."""
        base = self.base.model_dump(mode="json", by_alias=True, exclude_none=True)
        base["name"] = self.name  # every cell's spec carries the sweep's name
        if any(p == "activation" for p, _ in self.axes):
            base.pop("arms")
        return tomli_w.dumps({"sweep": self.table.model_dump(mode="json", exclude_none=True), **base})

    def n_cells(self) -> int:
        n = math.prod(len(v) for _, v in self.axes)
        if not any(p == "activation" for p, _ in self.axes):
            n *= len(self.base.arms)
        return n * max(1, len(self.lr_values))

    def _repr_html_(self) -> str:
        """The sweep in a notebook: base settings and grid (`sweep.display`)."""
        from actscope.sweep.display import sweep_html  # deferred: only notebooks need it

        return sweep_html(self)


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
        raise input_error(src, f"sweep.grid.{path}", values, "an axis is a list of values")
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


def _arm_name(activation) -> str:
    """A safe arm name for an activation axis value (a long formula: its start and a hash)."""
    text = activation if isinstance(activation, str) else "+".join(map(str, activation))
    name = re.sub(r"[^A-Za-z0-9_.+\-]", "_", text).lstrip(".") or "arm"
    if len(name) > MAX_NAME:
        name = f"{name[:MAX_NAME - 9]}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"
    return name


def cell_spec(sweep: Sweep, values: dict, arm: ArmSpec, source: str) -> ExperimentSpec:
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


def parse_sweep(data: dict, source: str = "sweep") -> Sweep:
    """Validate a sweep file's content (refuses bad fields and values, runs nothing)."""
    data = dict(data)
    if "sweep" not in data:
        raise InputError(f"{source}: not a sweep config: it has no [sweep] table")
    raw = {"sweep": data.pop("sweep")}
    if isinstance(raw["sweep"], dict) and "name" in data:  # one name: [sweep] name or the top level
        if "name" not in raw["sweep"]:
            raw["sweep"] = {**raw["sweep"], "name": data["name"]}
        elif raw["sweep"]["name"] != data["name"]:
            raise input_error(source, "name", data["name"],
                              f"differs from sweep.name = {shown(raw['sweep']['name'])}; give one name")
    data["name"] = raw["sweep"].get("name", "sweep") if isinstance(raw["sweep"], dict) else "sweep"
    try:
        table = _SweepFile.model_validate(raw).sweep
    except ValidationError as err:
        raise InputError(format_validation_error(err, source)) from None
    axes: list[tuple[str, list]] = []
    seen: set[str] = set()  # linear in the number of axes
    for path, values in _flatten(table.grid):
        name = _check_axis(path, values, source)
        if name in seen:
            raise InputError(f"{source}: sweep.grid.{name}: given twice")
        seen.add(name)
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
            cell_spec(sweep, {name: v}, base.arms[0], source=f"{source}: sweep.grid.{name} = {shown(v)}")
    return sweep


def load_sweep(path: str | Path) -> Sweep:
    """Read and validate a sweep TOML file (or a built-in sweep preset's name)."""
    p = resolve_config_path(path)
    return parse_sweep(load_toml(p), source=str(p))


def resolved_toml(sweep: Sweep) -> str:
    """The sweep as resolved, every default explicit (``sweep.toml``); see `Sweep.to_toml`."""
    return sweep.to_toml()
