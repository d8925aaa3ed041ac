"""Which numba kernels train a network on the fast engine, and loading them.

Two kinds cover a binary network: the *generic* kernels (one module per dtype for every
width, depth and built-in activation: nothing to compile for a new architecture once the
module is in numba's cache) and the *specialised* ones (unrolled for one architecture,
faster per model-epoch, compiled per architecture; the only kind for formula activations).
``choose`` picks one by the estimate of ``auto_policy``: compile seconds plus work.
"""

from __future__ import annotations

import hashlib
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np

from actscope.activations import get_activation
from actscope.engines import auto_policy
from actscope.engines.codegen import kernel_exprs, supports
from actscope.engines.codegen.numba_generic import GENERIC_VERSION, TABLE, generic_source, table_entry
from actscope.engines.codegen.numba_source import (
    KERNEL_VERSION,
    UnsupportedActivation,
    model_source,
    scalar_expr,
)
from actscope.engines.kernel_cache import is_compiled, is_loaded, load_source, slp_vectorizer
from actscope.nn.model import MLPSpec

LANES = {"float32": 16, "float64": 8}
MAX_PARAMS = 2048  # larger networks would unroll into very long kernels: generic or NumPy
GENERIC_MAX_PARAMS = 200_000  # the generic kernels keep (P, LANES) buffers per block
_FUNCS = ("train_epoch", "evaluate")


@dataclass(frozen=True)
class KernelSet:
    """Loaded kernels: ``train(*args, *extra, lo, hi)`` and ``evaluate(*args, *extra, lo,
    hi)``, where ``extra`` carries what the kind needs besides the common arguments (the
    lane count, or the architecture as arrays)."""

    kind: str
    train: Callable[..., object]
    evaluate: Callable[..., object]
    extra: tuple


@dataclass(frozen=True)
class Decision:
    """How one network trains: ``engine`` ("fast" or "numpy"), ``kernel`` and why."""

    engine: str
    kernel: str | None
    reason: str


@cache
def _builtins() -> dict[str, tuple[tuple[str, str], dict]]:
    """The table's activations as the registry defines them: ((f, f'), default params)."""
    out = {}
    for name in TABLE:
        act = get_activation(name)
        assert act.scalar is not None  # every activation of the table has its scalar form
        out[name] = (act.scalar, dict(act.params))
    return out


@cache
def _generic_src(dtype: str) -> str:
    return generic_source(_builtins(), dtype, LANES[dtype])


def generic_args(spec: MLPSpec, dtype) -> tuple | None:
    """(sizes, activation codes, their parameters) for the generic kernels, or None where
    an activation is not one of the built-ins they carry."""
    codes, qs = [], []
    for act in spec.activations:
        entry = None if act.scalar is None else table_entry(act.scalar, dict(act.params), _builtins())
        if entry is None:
            return None
        codes.append(entry[0])
        qs.append(entry[1])
    return (np.array(spec.sizes, np.int64), np.array(codes, np.int64).reshape(-1),
            np.array(qs, np.dtype(dtype)).reshape(-1, 2))


def sources(spec: MLPSpec, dtype) -> dict[str, str]:
    """A cache key for each kernel kind that covers ``spec`` (none for multi-class
    outputs): cheap, so that choosing costs no source generation; ``load`` writes the
    source only for the kind chosen."""
    name = np.dtype(dtype).name
    exprs = tuple((a.scalar, tuple(sorted(a.params.items()))) for a in spec.activations)
    out = {}
    if spec.n_outputs == 1 and spec.n_params <= GENERIC_MAX_PARAMS and generic_args(spec, name) is not None:
        out["generic"] = f"generic|{name}|{LANES[name]}|{sorted(_builtins().items())}|{_generators()}"
    if supports(spec, MAX_PARAMS) and _compilable(spec):
        out["specialised"] = f"specialised|{name}|{LANES[name]}|{spec.sizes}|{exprs}|{_generators()}"
    return out


@cache
def _generators() -> str:
    """A hash of the kernel generators' own code: a change to them is a new cache key."""
    from actscope.engines.codegen import (
        common,
        lowering,
        numba_generic,
        numba_pcg,
        numba_prelude,
        numba_source,
    )

    text = "".join(inspect.getsource(m) for m in (common, lowering, numba_generic, numba_pcg,
                                                  numba_prelude, numba_source))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _compilable(spec: MLPSpec) -> bool:
    """Whether every activation's expressions translate to kernel code."""
    try:
        for (f, p), (df, q) in kernel_exprs(spec):
            scalar_expr(f, p, "z")
            scalar_expr(df, q, "z", "a")
    except (UnsupportedActivation, SyntaxError):
        return False
    return True


@lru_cache(maxsize=64)
def _source(kind: str, spec: MLPSpec, name: str, key: str) -> str:
    """The kernel module's source (``key`` keys the cache with the spec, so that a name
    registered again with another formula is another source)."""
    if kind == "generic":
        return _generic_src(name)
    return model_source(spec.sizes, kernel_exprs(spec), name, LANES[name])


def _version(kind: str) -> int:
    return GENERIC_VERSION if kind == "generic" else KERNEL_VERSION


def compiled(kind: str, key: str) -> bool:
    """Whether this kernel kind would run without compiling (this process or disk cache)."""
    return is_compiled(key, _version(kind), _FUNCS)


def loaded(kind: str, key: str) -> bool:
    """Whether this kernel kind is compiled in this process already (nothing to load)."""
    return is_loaded(key, _version(kind), _FUNCS)


def load(kind: str, key: str, spec: MLPSpec, dtype) -> KernelSet:
    """The kernels of one kind for ``spec`` (compiled by numba on their first call)."""
    name = np.dtype(dtype).name
    mod = load_source(_source(kind, spec, name, key), _version(kind), key=key)
    extra = generic_args(spec, name) if kind == "generic" else (LANES[name],)
    assert extra is not None  # "generic" is chosen only where generic_args gives them
    if kind == "generic" and not (mod.train_epoch.signatures and mod.evaluate.signatures):
        with slp_vectorizer():  # compiled (or loaded from the cache) here, one thread
            _warm_up(mod, np.dtype(name))
    return KernelSet(kind, mod.train_epoch, mod.evaluate, extra)


def _warm_up(mod, dt: np.dtype) -> None:
    """Call the generic kernels once on one member with the argument types the engine
    passes, so that they compile now (under the SLP vectoriser), not in a worker thread."""
    sizes, codes, qs = np.array([1, 1, 1], np.int64), np.zeros(1, np.int64), np.zeros((1, 2), dt)
    theta, X, Y = np.zeros((4, 1), dt), np.zeros((1, 1), dt), np.zeros(1, dt)
    keep, out1, out2 = np.ones(1, np.bool_), np.zeros(1), np.zeros(1)
    mod.train_epoch(theta, np.zeros((1, 1), dt), np.zeros((1, 1), dt), X, Y, np.zeros((1, 1), np.int64),
                    np.zeros((1, 6), np.uint64), 0, 1, 0, np.zeros(6), 0, keep, out1, out2, sizes, codes,
                    qs, 0, 1)
    mod.evaluate(theta, X, Y, out1, out2, sizes, codes, qs, 0, 1)


def choose(spec: MLPSpec, srcs: dict[str, str], work: auto_policy.Workload | None,
           allow_numpy: bool) -> Decision:
    """The kernel (or NumPy, where ``allow_numpy``) with the smallest estimate for ``work``.
    Without a workload (evaluation only), a compiled kernel if there is one; else NumPy
    for ``auto`` and the cheaper kind to compile for ``fast``."""
    done = {k: compiled(k, s) for k, s in srcs.items()}
    if work is None:
        ready = [k for k in ("specialised", "generic") if done.get(k)]
        if ready:
            return Decision("fast", ready[0], "evaluation with kernels already compiled")
        if allow_numpy or not srcs:
            return Decision("numpy", None, "evaluation only: nothing is compiled for it")
        kind = "generic" if "generic" in srcs else "specialised"
        return Decision("fast", kind, "engine = 'fast' asked for")
    est, why = auto_policy.decide(work, done, "numba" in sys.modules, allow_numpy,
                                  loaded={k for k, s in srcs.items() if loaded(k, s)})
    return Decision(est.engine, est.kernel, why)


__all__ = ["GENERIC_MAX_PARAMS", "LANES", "MAX_PARAMS", "Decision", "KernelSet", "choose", "compiled",
           "generic_args", "load", "loaded", "sources"]
