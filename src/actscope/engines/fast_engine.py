"""The fast CPU engine: numba kernels over an ensemble laid out member-last.

Parameters live in one array ``theta`` of shape (P, K) (parameter-major, member-last) so
that a SIMD register holds one parameter of LANES consecutive members. The contract's
``Layer(W, b)`` arrays are views of theta with the usual shapes ((K, fan_in, fan_out) and
(K, fan_out)), so every NumPy function still reads them. Kernels are generated for one
architecture (see ``fast_kernels``), compiled once and cached on disk.

Supported: binary outputs and activations whose registry entry has ``scalar`` expressions;
anything else runs the NumPy reference code in this engine's dtype (correct, not fast).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import lru_cache

import numpy as np

from actscope._util.cores import usable_cores
from actscope.engines import fast_kernels
from actscope.engines.auto_policy import Workload, kernel_estimate
from actscope.engines.base import Capabilities, EpochPlan
from actscope.engines.codegen.numba_source import KERNEL_VERSION, OPT_KINDS, model_source
from actscope.engines.fast_kernels import LANES, MAX_PARAMS, Decision, KernelSet
from actscope.engines.kernel_cache import cache_dir, load_source, require_numba

__all__ = ["BatchOrders", "FastEngine", "FusedTrainer", "ThreadChoice", "cache_dir", "n_threads",
           "pcg_states", "run_blocks"]
from actscope.engines.numpy_engine import NumpyEngine
from actscope.nn.model import Layer, MLPSpec, Params, init_params

_POOL: list[ThreadPoolExecutor] = []
TRIALS = 2  # calls timed inline, then as many on the pool (``ThreadChoice``)
POOL_SURE_S = 0.01  # a call estimated above this on one thread goes to the pool untried


def n_threads() -> int:
    """Threads the kernels use ($ACTSCOPE_THREADS, else the CPUs this process may use)."""
    env = os.environ.get("ACTSCOPE_THREADS")
    if env:
        return max(1, int(env))
    return usable_cores()


def run_blocks(fn: Callable[..., object], n_items: int, *args, threads: int | None = None) -> None:
    """``fn(*args, lo, hi)`` over [0, n_items) split into one contiguous chunk per thread
    (the kernels release the GIL); the last chunk runs in the calling thread. ``threads``
    (default `n_threads`) caps the threads: 1 runs everything inline, no pool."""
    t = min(n_threads() if threads is None else threads, n_items)
    if t <= 1:
        fn(*args, 0, n_items)
        return
    if not _POOL or _POOL[0]._max_workers < t - 1:
        _POOL[:] = [ThreadPoolExecutor(max_workers=t - 1, thread_name_prefix="actscope")]
    chunks = _chunks(n_items, t)
    futures = [_POOL[0].submit(fn, *args, lo, hi) for lo, hi in chunks[:-1]]
    try:
        fn(*args, *chunks[-1])
    finally:
        for f in futures:
            f.result()


@lru_cache(maxsize=256)
def _chunks(n_items: int, t: int) -> tuple[tuple[int, int], ...]:
    """[0, n_items) in ``t`` contiguous chunks of nearly equal size."""
    edges = [round(i * n_items / t) for i in range(t + 1)]
    return tuple(zip(edges[:-1], edges[1:]))


class ThreadChoice:
    """How many threads share a kernel call that repeats (an epoch), decided by its work:
    where the estimate of one call on one thread (``estimate_s``) is below
    ``POOL_SURE_S``, the first ``TRIALS`` calls run inline and the next ``TRIALS`` on
    every thread, timed, and the faster way runs the rest (a small ensemble then runs in
    the calling thread, with no pool); above it the pool at once. The numbers do not
    depend on it: each block is computed alone."""

    def __init__(self, blocks: int, estimate_s: float | None = None) -> None:
        self.most = min(n_threads(), blocks)
        sure = self.most <= 1 or (estimate_s is not None and estimate_s > POOL_SURE_S)
        self.threads: int | None = self.most if sure else None
        self.times: dict[int, list[float]] = {1: [], self.most: []}

    def run(self, fn: Callable[..., object], n_items: int, *args) -> None:
        """``run_blocks(fn, n_items, *args)`` on the threads chosen (timing the trials)."""
        if self.threads is not None:
            run_blocks(fn, n_items, *args, threads=self.threads)
            return
        t = 1 if len(self.times[1]) < TRIALS else self.most
        start = time.perf_counter()
        run_blocks(fn, n_items, *args, threads=t)
        self.times[t].append(time.perf_counter() - start)
        if len(self.times[self.most]) == TRIALS:
            self.threads = min(self.times, key=lambda k: min(self.times[k]))


def n_blocks(K: int, dtype) -> int:
    lanes = LANES[np.dtype(dtype).name]
    return -(-K // lanes)


def offsets(spec: MLPSpec) -> list[tuple[int, int]]:
    """Row offset of each layer's W and b in theta."""
    out, off = [], 0
    for fi, fo in spec.weight_shapes:
        out.append((off, off + fi * fo))
        off += fi * fo + fo
    return out


def views(spec: MLPSpec, theta: np.ndarray) -> Params:
    """The contract's Layer(W, b) views of a (P, K) theta."""
    K = theta.shape[1]
    out = []
    for (fi, fo), (wo, bo) in zip(spec.weight_shapes, offsets(spec)):
        W = theta[wo:wo + fi * fo].reshape(fi, fo, K).transpose(2, 0, 1)
        b = theta[bo:bo + fo].T
        out.append(Layer(W, b))
    return out


def pack(spec: MLPSpec, params: Params, dtype) -> np.ndarray:
    """A new (P, K) theta holding ``params``."""
    K = params[0][0].shape[0]
    theta = np.empty((spec.n_params, K), dtype=dtype)
    for (W, b), (wo, bo), (fi, fo) in zip(params, offsets(spec), spec.weight_shapes):
        theta[wo:wo + fi * fo] = np.asarray(W).reshape(K, fi * fo).T
        theta[bo:bo + fo] = np.asarray(b).T
    return theta


def theta_of(spec: MLPSpec, params: Params, dtype) -> np.ndarray | None:
    """The theta that ``params`` are views of (no copy), or None."""
    base = getattr(params[0][0], "base", None)
    if (not isinstance(base, np.ndarray) or base.dtype != dtype or base.ndim != 2
            or base.shape != (spec.n_params, params[0][0].shape[0]) or not base.flags.c_contiguous):
        return None
    for (W, b), (V, c) in zip(params, views(spec, base)):
        for x, y in ((W, V), (b, c)):
            if (x.base is not base or x.shape != y.shape or x.strides != y.strides
                    or x.__array_interface__["data"][0] != y.__array_interface__["data"][0]):
                return None
    return base


def pcg_states(streams) -> np.ndarray | None:
    """(K, 6) uint64 PCG64 states of numpy Generators, or None if any is something else."""
    out = np.empty((len(streams), 6), dtype=np.uint64)
    mask = (1 << 64) - 1
    for k, st in enumerate(streams):
        if not isinstance(st, np.random.Generator) or type(st.bit_generator).__name__ != "PCG64":
            return None
        s = st.bit_generator.state
        state, inc = s["state"]["state"], s["state"]["inc"]
        out[k] = (state >> 64, state & mask, inc >> 64, inc & mask, s["has_uint32"], s["uinteger"])
    return out


class FastEngine(NumpyEngine):
    """The engine contract with numba kernels for training and evaluation."""

    name = "fast"
    # the kernels run on a thread pool, which does not survive a fork
    capabilities = Capabilities(dropout=True, multiclass=True, fused_epochs=True, fork_safe=False,
                                max_fused_params=MAX_PARAMS)

    def __init__(self, dtype: str = "float64", device: str = "cpu", policy: str = "fast",
                 kernel: str | None = None) -> None:
        """``policy="auto"`` (``engine = "auto"``) may train a network with the NumPy code
        where the estimate says compiling would not pay; numba is then imported only when
        a kernel is used. ``kernel`` ("generic" or "specialised") forces that kind wherever
        it covers the network (tests and benchmarks)."""
        if policy == "auto":
            import importlib.util

            if importlib.util.find_spec("numba") is None:
                require_numba()
        else:
            require_numba()
        super().__init__(dtype=dtype, device=device)
        self.policy, self.force = policy, kernel
        self.decisions: dict[str, Decision] = {}

    def choose(self, spec: MLPSpec, work: Workload | None = None) -> Decision:
        """How ``spec`` trains here (remembered per architecture once there is a workload)."""
        key = repr(spec)
        if work is None and key in self.decisions:
            return self.decisions[key]
        srcs = fast_kernels.sources(spec, self.dtype)
        if self.force in srcs:
            srcs = {self.force: srcs[self.force]}
        decision = fast_kernels.choose(spec, srcs, work, self.policy == "auto")
        if work is not None:
            self.decisions[key] = decision
        return decision

    def kernels(self, spec: MLPSpec, work: Workload | None = None) -> KernelSet | None:
        """The kernels ``choose`` picks for ``spec`` (compiled on first use), or None where
        the NumPy code runs it."""
        decision = self.choose(spec, work)
        if decision.kernel is None:
            return None
        src = fast_kernels.sources(spec, self.dtype)[decision.kernel]
        return fast_kernels.load(decision.kernel, src, spec, self.dtype)

    def decision(self) -> dict | None:
        """What this engine chose for the networks it trained and why (metrics.json's
        ``engine``: ``chosen`` and ``reason``), or None before any."""
        if not self.decisions:
            return None
        chosen = sorted({d.engine + (f"/{d.kernel}" if d.kernel else "") for d in self.decisions.values()})
        reasons = sorted({d.reason for d in self.decisions.values()})
        return {"chosen": ", ".join(chosen), "policy": self.policy, "reason": " | ".join(reasons)}

    # contract -----------------------------------------------------------------------------
    def from_numpy(self, params: Params) -> Params:
        shapes = [tuple(np.shape(W)[1:]) for W, _ in params]
        spec = _shape_spec(shapes)
        return views(spec, pack(spec, params, self.dtype))

    def to_numpy(self, params: Params) -> Params:
        return [Layer(np.array(W, dtype=np.float64, order="C"), np.array(b, dtype=np.float64, order="C"))
                for W, b in params]

    def init(self, spec: MLPSpec, seeds, rng: str = "default") -> Params:
        return views(spec, pack(spec, init_params(spec, seeds, rng), self.dtype))

    def loss_and_accuracy(self, spec: MLPSpec, params: Params, X, y):
        ks = self.kernels(spec)
        if ks is None or np.ndim(X) != 2:
            return super().loss_and_accuracy(spec, params, X, y)
        theta = theta_of(spec, params, self.dtype)
        if theta is None:
            theta = pack(spec, params, self.dtype)
        K = theta.shape[1]
        loss, acc = np.empty(K), np.empty(K)
        Xd = np.ascontiguousarray(X, dtype=self.dtype)
        yd = np.ascontiguousarray(y, dtype=self.dtype)
        run_blocks(ks.evaluate, n_blocks(K, self.dtype), theta, Xd, yd, loss, acc, *ks.extra)
        return loss, acc

    # the fused epochs of the training loop -------------------------------------------------
    def epoch_runner(self, spec: MLPSpec, params: Params, X, y, plan: EpochPlan) -> FusedTrainer | None:
        """A FusedTrainer for these params, or None when the kernels do not cover the spec
        or the optimiser."""
        if plan.optimizer not in OPT_KINDS:
            return None
        K, n = int(np.shape(params[0][0])[0]), int(np.shape(X)[0])
        dt = self.dtype.name
        work = Workload(members=K, epochs=max(1, plan.epochs), n=n, batch=min(plan.batch_size, n),
                        sizes=tuple(spec.sizes), dtype=dt, threads=n_threads(), lanes=LANES[dt],
                        program_ops=fast_kernels.program_ops(spec))
        ks = self.kernels(spec, work)
        if ks is None:
            return None
        one = kernel_estimate(replace(work, epochs=1, threads=1), ks.kind, True, True, loaded=True)
        return FusedTrainer(self, ks, spec, params, X, y, plan, epoch_s=one.work_s)


class FusedTrainer:
    """Runs whole epochs in one kernel call; owns theta and the optimiser state.

    ``epoch_s``: the estimate of one epoch on one thread, from which `ThreadChoice` decides
    how many threads share an epoch's blocks (a small ensemble runs inline in the calling
    thread). Everything an epoch's call takes but the epoch's position is prepared once."""

    def __init__(self, engine: FastEngine, ks: KernelSet, spec: MLPSpec, params: Params, X, y,
                 plan: EpochPlan, epoch_s: float | None = None):
        self.ks, self.spec, self.plan = ks, spec, plan
        dt = engine.dtype
        self.theta = pack(spec, params, dt)  # a copy: the caller's params are not modified
        self.kind = OPT_KINDS[plan.optimizer]
        shape = self.theta.shape if self.kind else (1, 1)
        self.s1 = np.zeros(shape, dt)
        self.s2 = np.zeros(self.theta.shape if self.kind == 3 else (1, 1), dt)
        self.X = np.ascontiguousarray(np.asarray(X), dtype=dt)
        self.y = np.ascontiguousarray(np.asarray(y), dtype=dt)
        n = self.X.shape[0]
        self.B = min(plan.batch_size, n)
        self.n_batches = -(-n // self.B)
        self.t = 0
        self.pcg = pcg_states(plan.streams) if plan.shuffle else None
        self.hyper = np.array([plan.lr, plan.momentum, plan.betas[0], plan.betas[1], plan.eps,
                               plan.weight_decay], dtype=np.float64)
        # the generic kernels take a rate per member (the specialised ones hyper[0])
        self.rates = (np.full(self.theta.shape[1], float(plan.lr)),) if ks.kind == "generic" else ()
        self.blocks = n_blocks(self.theta.shape[1], dt)
        self.threads = ThreadChoice(self.blocks, epoch_s)
        self._views = views(spec, self.theta)  # theta is updated in place: the views stay current
        no_perms = np.zeros((1, 1), np.int64)
        if not plan.shuffle:
            self._orders: tuple | None = (no_perms, np.zeros((1, 6), np.uint64), 0)
        elif self.pcg is not None:
            self._orders = (no_perms, self.pcg, 2)
        else:
            self._orders = None  # drawn in Python every epoch (mode 1)

    @property
    def params(self) -> Params:
        """Views of the current parameters (updated in place by the next epoch)."""
        return self._views

    def run_epoch(self, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One epoch: (mean minibatch loss (K,), points right (K,), members still kept (K,))."""
        K = self.theta.shape[1]
        if self._orders is None:
            perms = np.stack([st.permutation(self.X.shape[0]) for st in self.plan.streams]).astype(np.int64)
            pcg, mode = np.zeros((1, 6), np.uint64), 1
        else:
            perms, pcg, mode = self._orders
        still = np.array(keep, dtype=np.bool_, copy=True)
        loss, correct = np.empty(K), np.empty(K)
        self.threads.run(self.ks.train, self.blocks, self.theta, self.s1, self.s2, self.X, self.y, perms, pcg,
                         mode, self.B, self.kind, self.hyper, self.t, still, loss, correct, *self.ks.extra,
                         *self.rates)
        self.t += self.n_batches
        return loss, correct, still


def _shape_spec(shapes: list[tuple[int, int]]) -> MLPSpec:
    """A spec with these weight shapes (only its sizes are used, for packing)."""
    sizes = [shapes[0][0]] + [fo for _, fo in shapes]
    n_classes = 2 if sizes[-1] == 1 else sizes[-1]
    return MLPSpec(n_inputs=sizes[0], hidden=sizes[1:-1], activation="identity", n_classes=n_classes)


def _rng_module():
    return load_source(model_source((1, 1, 1), [(("z", {}), ("1.0", {}))], "float64", 4), KERNEL_VERSION)


class BatchOrders:
    """Each epoch's batch order for every member, as ``st.permutation(n)`` draws them from
    ``streams``: in parallel numba for PCG64 Generators (whose Python objects are then
    left where they were), in Python otherwise."""

    def __init__(self, streams, n: int):
        self.streams, self.n = streams, n
        self.pcg = pcg_states(streams)
        self.mod = _rng_module() if self.pcg is not None else None

    def next(self) -> np.ndarray:
        if self.pcg is None:
            return np.stack([st.permutation(self.n) for st in self.streams]).astype(np.int64)
        out = np.empty((len(self.streams), self.n), np.int64)
        assert self.mod is not None  # loaded with pcg
        run_blocks(self.mod.permutations, len(self.streams), self.pcg, out)
        return out
