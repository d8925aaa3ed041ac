"""What every fused epoch pays outside the kernel: microseconds per epoch of Python around
the fast engine's kernel, at K = 10 and K = 1,000 members.

Four rows per ensemble size, run alternating in this one process (best of ``--repeats``),
the same network, data and epochs:

  kernel    the kernel alone, called directly in a loop over the epochs (its arguments
            prepared once), inline and split over the threads, the faster: the baseline
  runner    ``FusedTrainer.run_epoch`` in a loop (batch orders, buffers, the thread split)
  stepper   ``training.Stepper.run_epoch`` (the runner plus divergence, history records and
            the per-epoch evaluation schedule)
  fit+tick  ``training.fit`` with the per-epoch callback ``actscope run`` installs (the
            progress tick: the epoch's mean loss over finite members), its set-up (the
            engine's choice, the runner, one epoch) taken out as the difference between
            an E-epoch and a 1-epoch fit

and prints each row's microseconds per epoch outside the kernel (its time minus the
kernel's, over the epochs) and its ratio to the kernel (target 1: within 1.2x).

Usage: python benchmarks/bench_overhead.py [--epochs 400] [--repeats 5] [--hidden 8-8]
       [--members 10,1000] [--dtype float64]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from actscope.config import TrainSpec, make_dataset
from actscope.engines import get_engine
from actscope.engines.base import EpochPlan
from actscope.engines.fast_engine import FusedTrainer, n_blocks, n_threads, run_blocks
from actscope.nn.model import MLPSpec
from actscope.training.loop import fit
from actscope.training.stepper import Stepper, batch_streams


def _setup(K: int, hidden: tuple[int, ...], epochs: int, dtype: str):
    data = make_dataset(name="moons", n_samples=400, noise=0.18, random_state=42, test_size=0.25,
                        split_seed=42, val_size=0.2, standardize="all")
    eng = get_engine("fast", dtype=dtype, kernel="generic")
    spec = MLPSpec(2, hidden, "relu")
    train = TrainSpec(lr=0.05, epochs=epochs, eval_every=epochs, engine="fast", dtype=dtype)
    seeds = list(range(K))
    return data, eng, spec, train, seeds


def _runner(eng, spec, train, data, seeds) -> FusedTrainer:
    params = eng.init(spec, seeds)
    plan = EpochPlan(optimizer="sgd", lr=train.lr, momentum=0.9, betas=(0.9, 0.999), eps=1e-8,
                     weight_decay=0.0, batch_size=train.batch_size, shuffle=True,
                     streams=batch_streams(spec, seeds, "default"), epochs=train.epochs)
    runner = eng.epoch_runner(spec, params, eng.asarray(data.X_train), data.y_train.astype(np.float64), plan)
    assert isinstance(runner, FusedTrainer)
    return runner


def time_kernel(eng, spec, train, data, seeds) -> float:
    """The kernel alone: the runner's first epoch's arguments, called again every epoch,
    inline and on the thread pool; the faster of the two."""
    r = _runner(eng, spec, train, data, seeds)
    K = r.theta.shape[1]
    nb = n_blocks(K, r.theta.dtype)
    keep = np.ones(K, np.bool_)
    loss, correct = np.empty(K), np.empty(K)
    perms = np.zeros((1, 1), np.int64)
    best = float("inf")
    for threads in sorted({1, n_threads()}):
        t = time.perf_counter()
        for e in range(train.epochs):
            run_blocks(r.ks.train, nb, r.theta, r.s1, r.s2, r.X, r.y, perms, r.pcg, 2, r.B, r.kind, r.hyper,
                       e * r.n_batches, keep, loss, correct, *r.ks.extra, *r.rates, threads=threads)
        best = min(best, time.perf_counter() - t)
    return best


def time_runner(eng, spec, train, data, seeds) -> float:
    r = _runner(eng, spec, train, data, seeds)
    keep = np.ones(len(seeds), np.bool_)
    t = time.perf_counter()
    for _ in range(train.epochs):
        r.run_epoch(keep)
        _ = r.params
    return time.perf_counter() - t


def time_stepper(eng, spec, train, data, seeds) -> float:
    params = eng.init(spec, seeds)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        st = Stepper(eng, spec, params, data, train, seeds)
        t = time.perf_counter()
        for _ in range(train.epochs):
            st.run_epoch()
        return time.perf_counter() - t


def time_fit(eng, spec, train, data, seeds) -> float:
    """``fit`` with the progress tick, its set-up taken out: (t(E) - t(1)) x E / (E - 1)."""
    from actscope.experiment.run import epoch_loss

    sink = []

    def tick(epoch, hist):
        sink.append(epoch_loss(hist, epoch))

    def run(epochs: int) -> float:
        tr = train.model_copy(update={"epochs": epochs, "eval_every": epochs})
        params = eng.init(spec, seeds)
        t = time.perf_counter()
        fit(eng, spec, params, data, tr, seeds, on_epoch=tick)
        return time.perf_counter() - t

    E = train.epochs
    return (run(E) - run(1)) * E / (E - 1)


ROWS = {"kernel": time_kernel, "runner": time_runner, "stepper": time_stepper, "fit+tick": time_fit}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=400)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--hidden", default="8-8")
    ap.add_argument("--members", default="10,1000")
    ap.add_argument("--dtype", default="float64")
    args = ap.parse_args(argv)
    hidden = tuple(int(w) for w in args.hidden.split("-"))
    print(f"load {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; 2-{args.hidden}-1 relu, moons (240 "
          f"training points, minibatch 64), {args.dtype}, generic kernels, best of {args.repeats}")
    for K in (int(k) for k in args.members.split(",")):
        epochs = args.epochs if K <= 100 else max(20, args.epochs // 10)
        data, eng, spec, train, seeds = _setup(K, hidden, epochs, args.dtype)
        for fn in ROWS.values():  # warm-up: kernels loaded, first calls paid
            fn(eng, spec, train.model_copy(update={"epochs": 2, "eval_every": 2}), data, seeds)
        best = dict.fromkeys(ROWS, float("inf"))
        for _ in range(args.repeats):
            for name, fn in ROWS.items():
                best[name] = min(best[name], fn(eng, spec, train, data, seeds))
        base = best["kernel"]
        print(f"K = {K}, {epochs} epochs: kernel {1e6 * base / epochs:.1f} us/epoch")
        for name in list(ROWS)[1:]:
            extra = 1e6 * (best[name] - base) / epochs
            print(f"  {name:<9} {1e6 * best[name] / epochs:9.1f} us/epoch   {extra:8.1f} us/epoch outside "
                  f"the kernel   {best[name] / base:5.2f}x the kernel")
    print(f"load at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
