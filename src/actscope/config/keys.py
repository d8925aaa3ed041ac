"""The keys a table of a spec allows, found from the location of a validation error, so
that an unknown key's message can list them (``unknown key; allowed: lr, epochs, ...``)."""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel


def _subclasses(cls: type) -> list[type]:
    out: list[type] = []
    subs: list[type] = cls.__subclasses__()
    for sub in subs:
        out += [sub, *_subclasses(sub)]
    return out


def _find_model(title: str) -> type[BaseModel] | None:
    """The model a ValidationError's title names (every spec model derives BaseModel)."""
    for cls in _subclasses(BaseModel):
        if cls.__name__ == title and cls.__module__.startswith("actscope."):
            return cls
    return None


def _inner(tp: Any) -> Any:
    """Strip ``Annotated`` and ``None`` from a type: the model, list or dict it holds."""
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        held = [_inner(a) for a in args]
        rich = [a for a in held if isinstance(a, type) and issubclass(a, BaseModel)
                or typing.get_origin(a) in (list, dict)]
        return rich[0] if rich else tp
    return tp


def _field(model: type[BaseModel], key: str) -> Any:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return info.annotation
    return None


def allowed_keys(title: str, loc: tuple) -> list[str] | None:
    """The keys of the table holding ``loc``'s last key (None when it is not a model's)."""
    tp: Any = _find_model(title)
    for part in loc[:-1]:
        tp = _inner(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(part, str):
            tp = _field(tp, part)
        elif typing.get_origin(tp) in (list, dict):
            tp = typing.get_args(tp)[-1]
        else:
            return None
    tp = _inner(tp)
    if not (isinstance(tp, type) and issubclass(tp, BaseModel)):
        return None
    return [info.alias or name for name, info in tp.model_fields.items()]
