"""Engines: the same small contract on different array libraries.

``get_engine(name, **options)`` returns one; engines with optional dependencies are
registered by a loader so that importing actscope never imports torch.
"""

from __future__ import annotations

from collections.abc import Callable

from .base import Engine, Forward, MissingExtraError
from .numpy_engine import NumpyEngine

_LOADERS: dict[str, Callable[..., Engine]] = {"numpy": NumpyEngine}


def register_engine(name: str, loader: Callable[..., Engine]) -> None:
    """Make ``get_engine(name, **options)`` call ``loader(**options)``."""
    _LOADERS[name] = loader


def list_engines() -> list[str]:
    return sorted(_LOADERS)


def get_engine(name: str = "numpy", **options) -> Engine:
    """An engine by name; ``options`` (dtype, device, ...) go to its constructor."""
    if isinstance(name, str) and name in _LOADERS:
        return _LOADERS[name](**options)
    if not isinstance(name, str):
        return name  # already an engine
    raise ValueError(f"unknown engine {name!r}; known: {', '.join(list_engines())}")


__all__ = ["Engine", "Forward", "MissingExtraError", "NumpyEngine", "get_engine",
           "list_engines", "register_engine"]
