"""``--set section.field=value``: command-line overrides of any spec field, applied to a
spec's TOML content before it is validated, so that every value passes the same checks as
the file's own.

A value is read as a TOML literal (``0.1``, ``[16, 16]``, ``"tanh"``, ``true``,
``{name = "a", activation = "relu"}``); a value that is not one (``tanh``) is taken as a
plain string. The path names fields of the spec's models (``train.lr``,
``model.hidden``, ``arms.0.activation`` for the first arm); a name the models do not have is
refused with one line listing the fields that are there.
"""

from __future__ import annotations

import copy
import re
import tomllib
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from actscope.config.loading import load_toml, parse_spec, resolve_config_path, resolve_data_path
from actscope.config.specs import ExperimentSpec
from actscope.errors import InputError, shown


def parse_value(text: str) -> Any:
    """``text`` as a TOML literal; a plain string when it is not one."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _models_in(annotation) -> tuple[type[BaseModel] | None, bool]:
    """The pydantic model a field holds (directly, optionally or as a list's items), and
    whether it holds it as a list."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (list, tuple) and args:
        model, _ = _models_in(args[0])
        return model, model is not None
    if origin is typing.Annotated:
        return _models_in(args[0])
    if origin in (typing.Union, types.UnionType):
        for a in args:
            model, is_list = _models_in(a)
            if model is not None:
                return model, is_list
    return None, False


def _is_table(annotation) -> bool:
    """Whether a field takes a table of any keys (a dict), possibly optional."""
    origin = typing.get_origin(annotation)
    if origin is dict or annotation is dict:
        return True
    if origin is typing.Annotated:
        return _is_table(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(_is_table(a) for a in typing.get_args(annotation))
    return False


def _keys(model: type[BaseModel]) -> dict[str, Any]:
    """The keys a table of ``model`` takes (aliases where set) -> the field's annotation."""
    return {(f.alias or name): f.annotation for name, f in model.model_fields.items()}


def _check(path: list[str], text: str, keys: Mapping[str, Any], done: list[str]) -> None:
    """Refuse a path that names no field (one line listing the fields that are there)."""
    part, rest = path[0], path[1:]
    if part not in keys:
        where = ".".join(done) or "the spec"
        raise InputError(f"--set = {shown(text)}: {where} has no field {part!r}; "
                         f"it has: {', '.join(sorted(keys))}")
    model, is_list = _models_in(keys[part])
    if model is None and rest and not _is_table(keys[part]):
        name = ".".join([*done, part])
        raise InputError(f"--set = {shown(text)}: {name} is a value, not a table: set it whole "
                         f"({name}=...)")
    if model is None or not rest:  # a plain value, a table of any keys or a list: set as given
        return
    if is_list:
        if not rest[0].isdigit():
            raise InputError(f"--set = {shown(text)}: {'.'.join([*done, part])} is a list of tables: "
                             f"name one by its index ({'.'.join([*done, part])}.0.{rest[0]})")
        done, rest = [*done, part, rest[0]], rest[1:]
        if not rest:
            return
    else:
        done = [*done, part]
    _check(rest, text, _keys(model), done)


def split_set(text: str) -> tuple[list[str], Any]:
    """``"train.lr=0.1"`` -> (["train", "lr"], 0.1); an InputError for a malformed one."""
    key, sep, value = text.partition("=")
    path = key.strip().split(".")
    if not sep or not all(path):
        raise InputError(f"--set = {shown(text)}: write section.field=value (train.lr=0.1, "
                         "model.hidden=[16,16], model.activation=\"tanh\")")
    return path, parse_value(value.strip())


def _put(data: dict[str, Any], path: list[str], value: Any, text: str) -> None:
    """Set ``value`` at ``path`` in ``data`` (tables made as needed, list entries must exist)."""
    node: Any = data
    for depth, part in enumerate(path[:-1]):
        if isinstance(node, list):
            if int(part) >= len(node):
                raise InputError(f"--set = {shown(text)}: {'.'.join(path[:depth])} has "
                                 f"{len(node)} entries (0 to {len(node) - 1})")
            node = node[int(part)]
            continue
        if not isinstance(node.get(part), (dict, list)):
            node[part] = {}
        node = node[part]
    if isinstance(node, list):
        raise InputError(f"--set = {shown(text)}: set a field of one entry, not the entry")
    node[path[-1]] = value


def apply_sets(data: dict[str, Any], sets: Iterable[str],
               sections: Mapping[str, type[BaseModel]] | None = None) -> dict[str, Any]:
    """A copy of a spec's TOML content with each ``section.field=value`` applied in order.

    Parameters
    ----------
    data
        The content of an experiment (or sweep) file, not yet validated.
    sets
        The ``--set`` values as typed.
    sections
        Tables other than an experiment's that may be set (a sweep's ``{"sweep": SweepTable}``).

    Raises
    ------
    InputError
        A malformed ``--set`` or one naming no field of the spec (one line).
    """
    keys = {**_keys(ExperimentSpec), **(sections or {})}
    out = copy.deepcopy(data)
    for text in sets:
        path, value = split_set(text)
        _check(path, text, keys, [])
        _put(out, path, value, text)
    return out


def _as_loc(path: list[str]) -> str:
    """``["arms", "1", "activation"]`` -> ``arms[1].activation``, as validation messages write it."""
    out = ""
    for part in path:
        out += f"[{part}]" if part.isdigit() else ("." if out else "") + part
    return out


def name_the_set(err: InputError, source: str, sets: Iterable[str]) -> InputError:
    """A validation error about a field a ``--set`` gave (or a field within it, or the table
    holding it), re-worded to name that ``--set``: ``--set = 'train.lr=-1': train.lr = -1: ...``;
    other errors as they are."""
    line = str(err)
    if not line.startswith(f"{source}: "):
        return err
    rest = line[len(source) + 2:]
    field = re.split(r"[ :]", rest, maxsplit=1)[0]
    for text in reversed(list(sets)):
        loc = _as_loc(text.partition("=")[0].strip().split("."))
        if field == loc or field.startswith((f"{loc}.", f"{loc}[")) or loc.startswith(f"{field}."):
            return InputError(f"--set = {shown(text)}: {rest}")
    return err


def load_spec_with(path: str | Path, sets: Iterable[str] = ()) -> ExperimentSpec:
    """`load_spec` with ``--set`` overrides applied before validation."""
    sets = list(sets)
    p = resolve_config_path(path)
    data = load_toml(p)
    if "sweep" in data:
        raise InputError(f"{p}: a sweep config (it has a [sweep] table): run it with `actscope sweep`")
    if "search" in data:
        raise InputError(f"{p}: a search config (it has a [search] table): run it with `actscope search`")
    data = apply_sets(resolve_data_path(data, p.parent), sets)
    try:
        return parse_spec(data, source=str(p))
    except InputError as err:
        raise name_the_set(err, str(p), sets) from None
