"""Which numba kernels train a network on the fast engine, and loading them.

Two kinds cover a binary network: the *generic* kernels (one module per dtype for every
width, depth and activation: the built-ins through a compiled table, any other scalar
expression, formulas included, as a register program; nothing to compile for a new
architecture or activation once the module is in numba's cache) and the *specialised*
ones (unrolled for one architecture and activation, faster per model-epoch, compiled per
architecture).
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

from actscope.activations import Activation, get_activation
from actscope.engines import auto_policy
from actscope.engines.codegen import kernel_exprs, supports
from actscope.engines.codegen.numba_generic import GENERIC_VERSION, TABLE, generic_source, table_entry
from actscope.engines.codegen.numba_program import Program, compile_program, pack_programs
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


@lru_cache(maxsize=4096)
def _programs(scalar: tuple[str, str], params: tuple) -> tuple[Program, Program] | None:
    """The (f, f') programs of a scalar pair, or None where one does not compile."""
    try:
        return compile_program(scalar[0], dict(params)), compile_program(scalar[1], dict(params))
    except UnsupportedActivation:
        return None


def activation_code(act: Activation, programs: list[Program]) -> tuple[int, list[float]] | None:
    """(code, [q0, q1]) of ``act`` in the generic kernels: its table entry, else a new
    program pair appended to ``programs`` (code ``len(TABLE) + pair index``); None where
    it has no scalar form or that form has no program."""
    if act.scalar is None:
        return None
    entry = table_entry(act.scalar, dict(act.params), _builtins())
    if entry is not None:
        return entry
    pair = _programs(tuple(act.scalar), tuple(sorted(act.params.items())))
    if pair is None:
        return None
    code = len(TABLE) + len(programs) // 2
    programs.extend(pair)
    return code, [0.0, 0.0]


def group_args(groups, dtype) -> tuple[np.ndarray, ...] | None:
    """(codes (G, L - 1), qs (G, L - 1, 2), progs, consts) for the generic kernels, where
    ``groups[g]`` lists group g's activation per hidden layer; None where one has no code."""
    programs: list[Program] = []
    codes, qs = [], []
    for acts in groups:
        for act in acts:
            entry = activation_code(act, programs)
            if entry is None:
                return None
            codes.append(entry[0])
            qs.append(entry[1])
    G, dt = len(groups), np.dtype(dtype)
    progs, consts = pack_programs(programs, dt)
    return (np.array(codes, np.int64).reshape(G, -1), np.array(qs, dt).reshape(G, -1, 2), progs, consts)


def generic_args(spec: MLPSpec, dtype) -> tuple | None:
    """(sizes, codes, qs, progs, consts, block groups) for the generic kernels (one group;
    no block groups: every block is group 0), or None where an activation has no code."""
    args = group_args([spec.activations], dtype)
    if args is None:
        return None
    return (np.array(spec.sizes, np.int64), *args, np.zeros(0, np.int64))


def program_ops(spec: MLPSpec) -> int:
    """The ops of f and f' summed over the hidden units whose activation the generic
    kernels run as a program (``auto_policy.Workload.program_ops``)."""
    total = 0
    for act, width in zip(spec.activations, spec.hidden):
        programs: list[Program] = []
        if activation_code(act, programs) is not None:
            total += width * sum(p.n_ops for p in programs)
    return total


def sources(spec: MLPSpec, dtype) -> dict[str, str]:
    """A cache key for each kernel kind that covers ``spec`` (none for multi-class
    outputs): cheap, so that choosing costs no source generation; ``load`` writes the
    source only for the kind chosen."""
    name = np.dtype(dtype).name
    exprs = tuple((a.scalar, tuple(sorted(a.params.items()))) for a in spec.activations)
    out = {}
    if spec.n_outputs == 1 and spec.n_params <= GENERIC_MAX_PARAMS and generic_args(spec, name) is not None:
        out["generic"] = sources_key(name)
    if supports(spec, MAX_PARAMS) and _compilable(spec):
        out["specialised"] = (f"specialised|{name}|{LANES[name]}|{spec.sizes}|{exprs}"
                              f"|{_generators('specialised')}")
    return out


@cache
def sources_key(dtype: str) -> str:
    """The generic module's cache key for ``dtype`` (one module for every network)."""
    return f"generic|{dtype}|{LANES[dtype]}|{sorted(_builtins().items())}|{_generators()}"


@cache
def _generators(kind: str = "generic") -> str:
    """A hash of the kernel generators' own code: a change to them is a new cache key (the
    specialised kernels' key leaves out the modules only the generic ones use)."""
    from actscope.engines.codegen import (
        common,
        lowering,
        numba_generic,
        numba_layers,
        numba_pcg,
        numba_prelude,
        numba_program,
        numba_source,
    )

    mods = [common, lowering, numba_pcg, numba_prelude, numba_source]
    if kind == "generic":
        mods = [common, lowering, numba_generic, numba_layers, numba_pcg, numba_prelude, numba_program,
                numba_source]
    return hashlib.sha256("".join(inspect.getsource(m) for m in mods).encode()).hexdigest()[:16]


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
    if kind == "generic":
        mod = generic_module(name)
    else:
        mod = load_source(_source(kind, spec, name, key), _version(kind), key=key)
    extra = generic_args(spec, name) if kind == "generic" else (LANES[name],)
    assert extra is not None  # "generic" is chosen only where generic_args gives them
    return KernelSet(kind, mod.train_epoch, mod.evaluate, extra)


def generic_module(dtype):
    """The generic kernel module for ``dtype``, its kernels compiled (or loaded from
    numba's cache) here, in this thread."""
    name = np.dtype(dtype).name
    mod = load_source(_generic_src(name), GENERIC_VERSION, key=sources_key(name))
    if not (mod.train_epoch.signatures and mod.evaluate.signatures):
        with slp_vectorizer():  # compiled (or loaded from the cache) here, one thread
            _warm_up(mod, np.dtype(name))
    return mod


def _warm_up(mod, dt: np.dtype) -> None:
    """Call the generic kernels once on one member with the argument types the engine
    passes, so that they compile now (under the SLP vectoriser), not in a worker thread."""
    sizes, codes, qs = np.array([1, 1, 1], np.int64), np.zeros((1, 1), np.int64), np.zeros((1, 1, 2), dt)
    progs, consts, groups = np.zeros((0, 1, 5), np.int64), np.zeros((0, 1), dt), np.zeros(0, np.int64)
    theta, X, Y = np.zeros((4, 1), dt), np.zeros((1, 1), dt), np.zeros(1, dt)
    keep, out1, out2 = np.ones(1, np.bool_), np.zeros(1), np.zeros(1)
    mod.train_epoch(theta, np.zeros((1, 1), dt), np.zeros((1, 1), dt), X, Y, np.zeros((1, 1), np.int64),
                    np.zeros((1, 6), np.uint64), 0, 1, 0, np.zeros(6), 0, keep, out1, out2, sizes, codes,
                    qs, progs, consts, groups, np.zeros(1), 0, 1)
    mod.evaluate(theta, X, Y, out1, out2, sizes, codes, qs, progs, consts, groups, 0, 1)


def kernel_values(act: Activation, z: np.ndarray, dtype, program: bool = False, grad: bool = True
                  ) -> tuple[np.ndarray, np.ndarray | None]:
    """(f(z), f'(z)) in ``dtype`` through the generic kernels' code for ``act``: its table
    entry, or its program (``program``: the program even for a built-in, to check one
    against the other); f' None without ``grad``. UnsupportedActivation where ``act`` has
    neither."""
    name = np.dtype(dtype).name
    programs: list[Program] = []
    entry = None
    if program and act.scalar is not None:
        pair = _programs(tuple(act.scalar), tuple(sorted(act.params.items())))
        entry = None if pair is None else (len(TABLE), [0.0, 0.0])
        programs.extend(pair or ())
    else:
        entry = activation_code(act, programs)
    if entry is None:
        raise UnsupportedActivation(f"activation {act.name!r} has no code in the generic kernels")
    progs, consts = pack_programs(programs, np.dtype(name))
    flat = np.ravel(np.asarray(z, dtype=name))
    lanes = LANES[name]
    zz = np.zeros((-(-flat.size // lanes), lanes), name)
    zz.ravel()[:flat.size] = flat
    h, d = np.empty_like(zz), np.empty_like(zz)
    generic_module(name).values(entry[0], np.array(entry[1], name), progs, consts, zz, h, d, grad)
    shape = np.shape(z)
    return h.ravel()[:flat.size].reshape(shape), (d.ravel()[:flat.size].reshape(shape) if grad else None)


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


__all__ = ["GENERIC_MAX_PARAMS", "LANES", "MAX_PARAMS", "Decision", "KernelSet", "activation_code", "choose",
           "compiled", "generic_args", "generic_module", "group_args", "kernel_values", "load", "loaded",
           "program_ops", "sources", "sources_key"]
