"""The registry: one ``Activation`` object per name, and a cache of parsed names.

Built-ins, parameterised instances, formulas and Python callables all end up here as the
same frozen object, so engines, probes and theory never branch on an activation's name
(the pattern of scikit-learn's ``neural_network/_base.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

Array = np.ndarray
FAMILIES = ("piecewise-linear", "saturating", "smooth", "linear")
MAX_CACHE = 4096


class UnknownActivationError(ValueError):
    """A name that is neither registered nor parses as a parameterised name or formula."""


@dataclass(frozen=True)
class Activation:
    """An activation function and everything an engine needs to know about it.

    ``scalar`` is ``(f, f')`` in the scalar language of ``actscope.activations`` (f in
    ``z``, f' in ``z`` and ``a = f(z)``, parameters by name): the text ``fn``, ``grad``,
    ``torch_fn`` and ``torch_grad`` were compiled from and the compiled engines generate
    their kernels from. None for an activation given as NumPy callables: compiled engines
    then fall back to the NumPy path.
    """

    name: str
    fn: Callable[[Array], Array]
    grad: Callable[[Array], Array]
    family: str
    gain: float = 1.0
    range: tuple[float, float] = (-np.inf, np.inf)
    params: dict = field(default_factory=dict)
    torch_name: str | None = None
    description: str = ""
    # torch equivalents, taking and returning tensors (torch is imported on first call)
    torch_fn: Callable | None = None
    torch_grad: Callable | None = None
    scalar: tuple[str, str] | None = None

    @property
    def is_relu_family(self) -> bool:
        return self.family == "piecewise-linear"

    def __call__(self, z: Array) -> Array:
        return self.fn(z)

    def __reduce__(self):
        """Pickled by name (its functions are closures): the process that loads it looks
        the name up in its own registry, so specs and runs can cross process boundaries."""
        from actscope.activations import get_activation

        return (get_activation, (self.name,))


_REGISTRY: dict[str, Activation] = {}
_PENDING: dict[str, Callable[[], Activation]] = {}  # registered, built on first lookup
_CACHE: dict[str, Activation] = {}
USER_DEFINED: set[str] = set()  # names registered by users (they may be redefined)
UNLISTED: set[str] = set()  # registered for lookup by name only (a search's candidates)


def register(act: Activation, *, overwrite: bool = False, listed: bool = True) -> Activation:
    """Add an activation to the registry (refusing silent replacement). ``listed=False``
    registers it for lookup by name only: ``list_activations`` leaves it out, so that the
    thousands of candidates a search registers do not crowd the names users choose from."""
    if act.family not in FAMILIES:
        raise ValueError(f"family {act.family!r} is not one of {', '.join(FAMILIES)}")
    if (act.name in _REGISTRY or act.name in _PENDING) and not overwrite:
        raise ValueError(f"activation {act.name!r} is already registered")
    _PENDING.pop(act.name, None)
    _REGISTRY[act.name] = act
    if listed:
        UNLISTED.discard(act.name)
    else:
        UNLISTED.add(act.name)
    return act


def register_lazy(name: str, make: Callable[[], Activation], *, overwrite: bool = False) -> None:
    """Register ``name`` now and build it (``make()``) when first looked up: importing the
    package compiles nothing."""
    if (name in _REGISTRY or name in _PENDING) and not overwrite:
        raise ValueError(f"activation {name!r} is already registered")
    _REGISTRY.pop(name, None)
    _PENDING[name] = make


def register_user(act: Activation) -> Activation:
    """Register (or replace) a user's activation; a cached lookup of its name is dropped so
    the new definition is served from now on."""
    forget(act.name)
    USER_DEFINED.add(act.name)
    return register(act, overwrite=True)


def is_builtin(name: str) -> bool:
    """Whether ``name`` is registered by actscope itself (users may not replace those)."""
    return (name in _REGISTRY or name in _PENDING) and name not in USER_DEFINED


def list_activations() -> list[str]:
    """Names of every listed registered activation, sorted."""
    return sorted({*_REGISTRY, *_PENDING} - UNLISTED)


def lookup(key: str) -> Activation | None:
    """The registered or cached activation of ``key``, else None."""
    make = _PENDING.get(key)
    if make is not None:
        act = make()
        if act.name != key:
            raise ValueError(f"activation {key!r} was built as {act.name!r}")
        register(act, overwrite=True)
    return _REGISTRY.get(key) or _CACHE.get(key)


def remember(act: Activation, *keys: str) -> Activation:
    """Cache a parsed activation under its name and the texts it was parsed from."""
    if len(_CACHE) > MAX_CACHE:
        _CACHE.clear()
    for k in (act.name, *keys):
        _CACHE[k] = act
    return act


def forget(name: str) -> None:
    """Drop the cached activation of ``name``."""
    _CACHE.pop(name, None)


__all__ = ["FAMILIES", "USER_DEFINED", "Activation", "Array", "UnknownActivationError", "forget",
           "is_builtin", "list_activations", "lookup", "register", "register_lazy", "register_user",
           "remember"]
