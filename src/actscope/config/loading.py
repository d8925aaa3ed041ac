"""Loading specs: TOML files and presets, command-line overrides, one-line messages."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from actscope.config.keys import allowed_keys
from actscope.config.presets import PRESETS_DIR, list_presets
from actscope.config.specs import DataSpec, ExperimentSpec
from actscope.data.generators import Dataset, load_dataset
from actscope.errors import InputError, shorten, shown


def _format_loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def format_validation_error(err: ValidationError, source: str = "config") -> str:
    """One line: the field, the value and what is allowed (the first error only)."""
    e = err.errors()[0]
    # drop pydantic's union-branch markers such as 'str' or 'list[str]' from the location
    markers = {"str", "int", "float", "bool", "list", "constrained-float"}
    loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and ("[" in p or p in markers)))
    field = _format_loc(loc) or "(top level)"
    msg = shorten(e["msg"].removeprefix("Value error, "), 400)
    if e["type"] == "extra_forbidden":
        allowed = allowed_keys(err.title, loc)
        listed = f"; allowed: {', '.join(allowed)}" if allowed else ""
        return f"{source}: {shorten(field)} = {shown(e.get('input'))}: unknown key{listed}"
    if e["type"] == "missing":
        return f"{source}: missing required key '{field}'"
    value = e.get("input")
    if isinstance(value, dict) and e["type"] == "value_error":  # a table's check names its fields
        return f"{source}: {msg}" if not loc else f"{source}: {field}: {msg}"
    return f"{source}: {field} = {shown(value)}: {msg}"


def parse_spec(data: dict[str, Any], source: str = "config") -> ExperimentSpec:
    """Validate an experiment's content; an InputError of one line if it is not valid."""
    try:
        return ExperimentSpec.model_validate(data)
    except ValidationError as err:
        raise InputError(format_validation_error(err, source)) from None


def resolve_config_path(path: str | Path) -> Path:
    """A path as given, else a preset of that name (``sigmoid-vs-relu``)."""
    p = Path(path)
    if p.is_file():
        return p
    for cand in (PRESETS_DIR / p.name, PRESETS_DIR / f"{p.name}.toml"):
        if cand.is_file():
            return cand
    if p.exists():
        raise InputError(f"CONFIG = {shown(path)}: not a file")
    raise InputError(f"CONFIG = {shown(path)}: no such file, nor a preset; presets: "
                     f"{', '.join(list_presets('all'))}")


def load_toml(path: str | Path) -> dict[str, Any]:
    """The content of a TOML file (or a preset of that name); one-line errors."""
    p = resolve_config_path(path)
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"{p}: TOML syntax error: {shorten(str(err), 200)}") from None
    except UnicodeDecodeError:
        raise InputError(f"{p}: not a UTF-8 text file") from None


def load_spec(path: str | Path) -> ExperimentSpec:
    """Read and validate an experiment TOML file (or a preset name)."""
    p = resolve_config_path(path)
    data = load_toml(p)
    if "sweep" in data:
        raise InputError(f"{p}: a sweep config (it has a [sweep] table): run it with `actscope sweep`")
    if "search" in data:
        raise InputError(f"{p}: a search config (it has a [search] table): run it with `actscope search`")
    return parse_spec(resolve_data_path(data, p.parent), source=str(p))


def with_overrides(spec: ExperimentSpec, seeds: int | None = None, engine: str | None = None,
                   **train) -> ExperimentSpec:
    """A copy of ``spec`` with command-line overrides applied and validated."""
    data = spec.model_dump(by_alias=True)
    if seeds is not None:
        data["seeds"] = {**data["seeds"], "count": seeds, "values": None}
        if data["seeds"].get("values") is None:
            data["seeds"].pop("values")
    if engine is not None:
        data["train"]["engine"] = engine
    data["train"].update({k: v for k, v in train.items() if v is not None})
    try:
        return ExperimentSpec.model_validate(data)
    except ValidationError as err:  # name the option, not the field it sets
        line = format_validation_error(err, "options").removeprefix("options: ")
        field = line.split(" ", 1)[0]
        options = {"seeds.count": "--seeds", "train.engine": "--engine",
                   **{f"train.{k}": f"--{k.replace('_', '-')}" for k in train}}
        if field in options:
            raise InputError(f"{options[field]}{line[len(field):]}") from None
        raise InputError(f"options: {line}") from None


def resolve_data_path(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """A relative ``[data] path`` (CSV) is relative to the config file: make it absolute."""
    d = data.get("data")
    if isinstance(d, dict) and isinstance(d.get("path"), str) and d["path"]:
        path = Path(d["path"]).expanduser()
        if not path.is_absolute():
            data = {**data, "data": {**d, "path": str((base / path).resolve())}}
    return data


def make_dataset(**fields) -> Dataset:
    """The splits of a dataset described by DataSpec fields, validated as a ``[data]``
    table is: ``make_dataset(name="moons", noise=0.2)``.

    Raises
    ------
    InputError
        A field or value that a ``[data]`` table would refuse (one line).
    """
    try:
        spec = DataSpec(**fields)
    except ValidationError as err:
        raise InputError(format_validation_error(err, "data")) from None
    return load_dataset(spec)
