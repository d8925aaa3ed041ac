"""Many activations and learning rates trained together on the fast engine's kernels.

An activation search trains thousands of small networks that differ only in their hidden
activation and learning rate. ``train_mixed`` trains them as one ensemble: member k has
activation ``activations[group[k]]`` on every hidden layer and rate ``lrs[k]``, and its
numbers are exactly those ``actscope run`` gives with ``engine = "fast"`` for that
activation, rate and seed (the same parameters, batch orders and kernel arithmetic per
lane). ``activation_values`` evaluates an activation through the kernels' own code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from actscope.activations import Activation
from actscope.engines import fast_kernels
from actscope.engines.auto_policy import Workload, kernel_estimate
from actscope.engines.codegen.common import OPT_KINDS, UnsupportedActivation
from actscope.engines.codegen.numba_generic import TABLE
from actscope.engines.codegen.numba_program import OPCODES
from actscope.engines.fast_engine import ThreadChoice, n_threads, pack, pcg_states, run_blocks
from actscope.engines.fast_kernels import LANES
from actscope.nn.model import MLPSpec, Params

__all__ = ["MixedPlan", "MixedResult", "activation_values", "train_ensemble", "train_mixed"]

# program ops that call the C library one element at a time
SCALAR_CALLS = ("pow", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh")
# program ops in the prelude's vector forms that still cost several ops (polynomials, exp)
VECTOR_SPECIALS = ("erf", "erfc", "sin", "cos")


@dataclass(frozen=True)
class MixedPlan:
    """How every member trains: optimiser (``training.optimizers`` name) and its
    hyperparameters, epochs, minibatch size and whether batches are shuffled."""

    epochs: int
    batch_size: int
    optimizer: str = "sgd"
    momentum: float = 0.9
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    shuffle: bool = True


def _group_costs(codes: np.ndarray, progs: np.ndarray) -> np.ndarray:
    """A rough cost per group: 1 per table activation, per program op 1 (10 for the
    scalar library calls, which do not vectorise; 4 for the vector special functions)."""
    weight = np.ones(len(OPCODES))
    weight[[OPCODES[f] for f in SCALAR_CALLS]] = 10.0
    weight[[OPCODES[f] for f in VECTOR_SPECIALS]] = 4.0
    weight[OPCODES["const"]] = 0.0
    out = np.zeros(codes.shape[0])
    for g, row in enumerate(codes):
        for c in row:
            p = 2 * (int(c) - len(TABLE))
            if p < 0:
                out[g] += 1.0
                continue
            for q in (p, p + 1):
                out[g] += weight[progs[q, 1:progs[q, 0, 0] + 1, 0]].sum()
    return out


def _order(costs: np.ndarray, threads: int) -> np.ndarray:
    """Groups dealt by falling cost into one pile per thread, piles concatenated:
    ``run_blocks`` gives each thread a contiguous run of blocks, so each gets a like mix
    (a search yields its candidates in grammar order, costly ones together)."""
    ranked = np.argsort(-costs, kind="stable")
    return np.concatenate([ranked[t::threads] for t in range(max(1, threads))])


def _layout(group: np.ndarray, order: np.ndarray, lanes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Members arranged so that each block of ``lanes`` holds one group, groups in
    ``order``: (column -> member (K_pad,), column is a real member (K_pad,), block -> group)."""
    cols, real, blocks = [], [], []
    for g in order:
        idx = np.flatnonzero(group == g)
        if idx.size == 0:
            continue
        pad = -idx.size % lanes
        cols.append(np.concatenate([idx, np.full(pad, idx[0])]))
        real.append(np.arange(idx.size + pad) < idx.size)
        blocks.append(np.full((idx.size + pad) // lanes, g))
    return np.concatenate(cols), np.concatenate(real), np.concatenate(blocks).astype(np.int64)


def _check(sizes, activations, group, lrs, streams, params) -> None:
    K = group.shape[0]
    if len(sizes) < 2 or sizes[-1] != 1:
        raise ValueError(f"sizes = {tuple(sizes)}: must end in 1 (a binary output)")
    if K == 0 or group.min() < 0 or group.max() >= len(activations):
        raise ValueError(f"group: {K} entries, each in 0..{len(activations) - 1}")
    if lrs.shape != (K,) or len(streams) != K or np.shape(params[0][0])[0] != K:
        raise ValueError(f"lrs, streams and params: one per member ({K})")


def _kernel_args(sizes, activations, dtype: str) -> tuple:
    """(sizes, codes, qs, progs, consts) of the groups; UnsupportedActivation naming the
    first activation the generic kernels cannot run."""
    depth = len(sizes) - 2
    for act in activations:
        if fast_kernels.group_args([[act]], dtype) is None:
            raise UnsupportedActivation(f"activation {act.name!r} has no scalar form the kernels run")
    args = fast_kernels.group_args([[act] * depth for act in activations], dtype)
    assert args is not None  # each activation was checked above
    return (np.array(sizes, np.int64), *args)


def _orders(streams, cols: np.ndarray, n: int, shuffle: bool):
    """(mode, perms, pcg) as ``FusedTrainer`` draws batch orders, arranged by column;
    perms is None where they are drawn afresh each epoch (mode 1)."""
    none_p, none_s = np.zeros((1, 1), np.int64), np.zeros((1, 6), np.uint64)
    if not shuffle:
        return 0, none_p, none_s
    pcg = pcg_states(streams)
    if pcg is not None:
        return 2, none_p, np.ascontiguousarray(pcg[cols])
    return 1, None, none_s


@dataclass(frozen=True)
class MixedResult:
    """What `train_ensemble` gives back: ``splits`` as `train_mixed` returns them, and
    ``diverged`` (K,) bool: the members whose loss stopped being finite or whose final
    parameters are not all finite (what ``run_experiment`` marks diverged)."""

    splits: dict[str, tuple[np.ndarray, np.ndarray]]
    diverged: np.ndarray


def train_ensemble(sizes: Sequence[int], activations: Sequence[Activation], group: np.ndarray,
                   lrs: np.ndarray, params: Params, X: np.ndarray, y: np.ndarray, streams: Sequence,
                   plan: MixedPlan, evals: dict[str, tuple[np.ndarray, np.ndarray]],
                   dtype: str = "float32", should_stop: Callable[[], bool] | None = None,
                   on_epoch: Callable[[int], None] | None = None) -> MixedResult | None:
    """`train_mixed`, also saying which members diverged; ``on_epoch(epoch)`` (0-based)
    after every epoch (a progress bar)."""
    group, lrs = np.asarray(group, dtype=np.int64), np.asarray(lrs, dtype=np.float64)
    _check(sizes, activations, group, lrs, streams, params)
    run = _Ensemble(sizes, activations, group, lrs, params, X, y, streams, plan, np.dtype(dtype).name)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for e in range(plan.epochs):
            if should_stop is not None and should_stop():
                return None
            run.epoch(e)
            if on_epoch is not None:
                on_epoch(e)
        return MixedResult(run.results(evals), run.diverged())


def train_mixed(sizes: Sequence[int], activations: Sequence[Activation], group: np.ndarray,
                lrs: np.ndarray, params: Params, X: np.ndarray, y: np.ndarray, streams: Sequence,
                plan: MixedPlan, evals: dict[str, tuple[np.ndarray, np.ndarray]],
                dtype: str = "float32", should_stop: Callable[[], bool] | None = None,
                ) -> dict[str, tuple[np.ndarray, np.ndarray]] | None:
    """Train K members, each with its own activation group and learning rate, in one
    kernel call per epoch.

    Parameters
    ----------
    sizes
        Inputs, hidden widths, 1 (a binary output).
    activations, group
        Member k has ``activations[group[k]]`` on every hidden layer: a built-in of the
        kernels' table or any activation with a scalar form (run as a program).
    lrs
        (K,) learning rates.
    params
        Initial parameters of the K members (``nn.model.init_params``; not modified).
    X, y
        Training points and binary labels.
    streams
        One batch-order stream per member (``training.stepper.batch_streams``). PCG64
        Generators are drawn from in the kernel, from copies of their states, as
        ``FusedTrainer`` does (the objects are left as they were); others in Python.
    plan
        Optimiser, epochs, minibatch size.
    evals
        Splits evaluated after the last epoch: ``{name: (X, y)}``.
    dtype
        "float32" or "float64".
    should_stop
        Polled before every epoch; when it returns True training stops and None is
        returned (the caller keeps nothing of an unfinished training).

    Returns
    -------
    dict or None
        ``{split: (loss (K,), accuracy (K,))}`` for every split of ``evals`` plus
        ``"train_running"`` (the last epoch's mean minibatch loss and accuracy over its
        points), float64 arrays of values rounded to ``dtype`` as ``training.loop.fit``
        records them; a member whose loss stopped being finite has NaN everywhere (as
        there). None when ``should_stop`` stopped it.

    Raises
    ------
    UnsupportedActivation
        Where an activation has no scalar form the generic kernels run.
    """
    res = train_ensemble(sizes, activations, group, lrs, params, X, y, streams, plan, evals, dtype,
                         should_stop)
    return None if res is None else res.splits


class _Ensemble:
    """The kernels' arguments for one mixed ensemble, arranged by column (``_layout``)."""

    def __init__(self, sizes, activations, group, lrs, params, X, y, streams, plan: MixedPlan, name: str):
        self.mod = fast_kernels.generic_module(name)
        self.arch = _kernel_args(sizes, activations, name)
        order = _order(_group_costs(self.arch[1], self.arch[3]), n_threads())
        self.cols, self.real, self.bgroup = _layout(group, order, LANES[name])
        spec = MLPSpec(int(sizes[0]), tuple(int(s) for s in sizes[1:-1]), "identity")  # the layout only
        self.theta = np.ascontiguousarray(pack(spec, params, name)[:, self.cols])
        self.kind = kind = OPT_KINDS[plan.optimizer]
        self.s1 = np.zeros(self.theta.shape if kind else (1, 1), name)
        self.s2 = np.zeros(self.theta.shape if kind == 3 else (1, 1), name)
        self.X, self.y = np.ascontiguousarray(X, dtype=name), np.ascontiguousarray(y, dtype=name)
        self.n, self.name, self.streams = self.X.shape[0], name, streams
        self.B = min(plan.batch_size, self.n)
        self.hyper = np.array([0.0, plan.momentum, plan.betas[0], plan.betas[1], plan.eps, plan.weight_decay])
        self.mode, self.perms, self.pcg = _orders(streams, self.cols, self.n, plan.shuffle)
        self.keep, self.rates = self.real.copy(), np.ascontiguousarray(lrs[self.cols])
        self.loss, self.corr = np.zeros(self.cols.size), np.zeros(self.cols.size)
        work = Workload(members=self.cols.size, epochs=1, n=self.n, batch=self.B, sizes=tuple(sizes),
                        dtype=name, threads=1, lanes=LANES[name])
        one = kernel_estimate(work, "generic", True, True, True).work_s  # an epoch on one thread
        self.threads = ThreadChoice(self.bgroup.size, one)

    def epoch(self, e: int) -> None:
        """Epoch ``e`` (0-based) of every member, one kernel call over all blocks."""
        n = self.n
        p = self.perms
        if p is None:  # streams other than PCG64: drawn in Python, as FusedTrainer does
            p = np.stack([st.permutation(n) for st in self.streams])[self.cols]
        self.threads.run(self.mod.train_epoch, self.bgroup.size, self.theta, self.s1, self.s2, self.X, self.y,
                         p, self.pcg, self.mode, self.B, self.kind, self.hyper, e * -(-n // self.B),
                         self.keep, self.loss, self.corr, *self.arch, self.bgroup, self.rates)

    def _back(self) -> np.ndarray:
        """Each member's column (the caller's order)."""
        back = np.empty(self.real.sum(), np.int64)
        back[self.cols[self.real]] = np.flatnonzero(self.real)
        return back

    def diverged(self) -> np.ndarray:
        """(K,) bool in the caller's order: loss no longer finite, or parameters not all finite."""
        finite = np.isfinite(self.theta).all(axis=0)
        return ~(self.keep & finite)[self._back()]

    def results(self, evals: dict) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Each split's (loss, accuracy) and the last epoch's, per member in the caller's
        order, NaN where diverged, rounded to the dtype as History keeps them."""
        keep, name = self.keep, self.name
        running = (np.where(keep, self.loss, np.nan), np.where(keep, self.corr / self.n, np.nan))
        out = {"train_running": running}
        for split, (Xe, ye) in evals.items():
            le, ae = np.empty(self.cols.size), np.empty(self.cols.size)
            run_blocks(self.mod.evaluate, self.bgroup.size, self.theta, np.ascontiguousarray(Xe, dtype=name),
                       np.ascontiguousarray(ye, dtype=name), le, ae, *self.arch, self.bgroup)
            out[split] = (np.where(keep, le, np.nan), np.where(keep, ae, np.nan))
        back = self._back()
        return {k: (a[back].astype(name).astype(np.float64), b[back].astype(name).astype(np.float64))
                for k, (a, b) in out.items()}


def activation_values(act: Activation, z: np.ndarray, dtype: str = "float32") -> np.ndarray:
    """f(z) in ``dtype`` through the generic kernels' own code for ``act`` (its table entry
    or its program), so that timing it times what training runs (``search.cost``).

    Raises
    ------
    UnsupportedActivation
        Where ``act`` has no scalar form the generic kernels run.
    """
    return fast_kernels.kernel_values(act, z, np.dtype(dtype).name, grad=False)[0]
