"""Microseconds per model-epoch: per-model loops against ensemble engines, one process.

The workload is the first article's: a 2-8-8-1 ReLU network, moons (300 training points),
batch 64, SGD with lr 0.05. A model-epoch is one member's pass over the training data.
Rows (each with its ratio to the per-model NumPy loop, row a):

  a  per-model NumPy loop, one network at a time, as the article trains
  b  per-model PyTorch loop (nn.Module and torch.optim.SGD), as the second article trains
  c  scikit-learn MLPClassifier, same settings
  d  the NumPy reference engine at K = 1,000 (train.fit)
  e  the fast engine (numba), float32 and float64, K = 1 ... 10,000 (train.fit)
  f  on a CUDA machine: the gpu engine's fused epochs and a plain torch.bmm ensemble, float32,
     K up to 1,000,000 (from bench_gpu.py, which also times the kernels alone and variants)

Engine rows time train.fit with evaluation only at the end, and report the steady state
(epochs after the first, from the per-epoch callback); setup (streams, init) is excluded.
Usage: python benchmarks/bench_ensemble.py [--quick] [--scale 2] [--no-memory]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

from actscope.config import TrainSpec, make_dataset
from actscope.engines import get_engine
from actscope.nn.model import MLPSpec
from actscope.training.loop import fit

SPEC = MLPSpec(2, [8, 8], "relu")
LR, BATCH = 0.05, 64


def data():
    return make_dataset(n_samples=400, noise=0.18, random_state=42, standardize="all")


# a: the per-model NumPy loop --------------------------------------------------------------
class ArticleNet:
    """One 2-8-8-1 ReLU network trained by hand, one minibatch at a time."""

    def __init__(self, seed: int):
        r = np.random.RandomState(seed)
        self.W1, self.b1 = r.randn(2, 8) * np.sqrt(2 / 2), np.zeros((1, 8))
        self.W2, self.b2 = r.randn(8, 8) * np.sqrt(2 / 8), np.zeros((1, 8))
        self.W3, self.b3 = r.randn(8, 1) * np.sqrt(2 / 8), np.zeros((1, 1))

    def step(self, X, y):
        z1 = X @ self.W1 + self.b1
        a1 = np.maximum(0, z1)
        z2 = a1 @ self.W2 + self.b2
        a2 = np.maximum(0, z2)
        out = 1 / (1 + np.exp(-np.clip(a2 @ self.W3 + self.b3, -500, 500)))
        loss = -np.mean(y * np.log(out + 1e-9) + (1 - y) * np.log(1 - out + 1e-9))
        d3 = (out - y) / len(X)
        d2 = (d3 @ self.W3.T) * (z2 > 0)
        d1 = (d2 @ self.W2.T) * (z1 > 0)
        for p, g in ((self.W3, a2.T @ d3), (self.b3, d3.sum(0, keepdims=True)),
                     (self.W2, a1.T @ d2), (self.b2, d2.sum(0, keepdims=True)),
                     (self.W1, X.T @ d1), (self.b1, d1.sum(0, keepdims=True))):
            p -= LR * g
        return loss


def bench_numpy_loop(d, models: int, epochs: int) -> float:
    X, y = d.X_train, d.y_train.reshape(-1, 1).astype(float)
    t = time.perf_counter()
    for seed in range(models):
        net, r = ArticleNet(seed), np.random.RandomState(seed + 1)
        for _ in range(epochs):
            idx = r.permutation(len(X))
            losses = [net.step(X[idx[i:i + BATCH]], y[idx[i:i + BATCH]]) for i in range(0, len(X), BATCH)]
            np.mean(losses)
    return (time.perf_counter() - t) / (models * epochs) * 1e6


def bench_torch_loop(d, models: int, epochs: int) -> float:
    import torch

    torch.set_num_threads(1)  # one tiny network: more threads only add synchronisation
    X = torch.tensor(d.X_train, dtype=torch.float32)
    y = torch.tensor(d.y_train, dtype=torch.float32)[:, None]
    _torch_epochs(torch, X, y, 0, 1)  # warm up (first-call costs are not per epoch)
    t = time.perf_counter()
    for seed in range(models):
        _torch_epochs(torch, X, y, seed, epochs)
    return (time.perf_counter() - t) / (models * epochs) * 1e6


def _torch_epochs(torch, X, y, seed: int, epochs: int) -> None:
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 8),
                              torch.nn.ReLU(), torch.nn.Linear(8, 1))
    opt = torch.optim.SGD(net.parameters(), lr=LR)
    lossf = torch.nn.BCEWithLogitsLoss()
    for _ in range(epochs):
        idx = torch.randperm(len(X))
        for i in range(0, len(X), BATCH):
            b = idx[i:i + BATCH]
            opt.zero_grad()
            loss = lossf(net(X[b]), y[b])
            loss.backward()
            opt.step()


def bench_sklearn(d, models: int, epochs: int) -> float:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    t = time.perf_counter()
    for seed in range(models):
        clf = MLPClassifier(hidden_layer_sizes=(8, 8), activation="relu", solver="sgd",
                            learning_rate_init=LR, batch_size=BATCH, momentum=0.0, alpha=0.0,
                            max_iter=epochs, tol=0.0, n_iter_no_change=epochs + 1, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(d.X_train, d.y_train)
    return (time.perf_counter() - t) / (models * epochs) * 1e6


# d, e, f: engines through train.fit -------------------------------------------------------
def bench_engine(engine, d, K: int, epochs: int) -> float:
    """Steady-state µs per model-epoch of train.fit (epochs after the first)."""
    seeds = list(range(K))
    train = TrainSpec(epochs=epochs, lr=LR, batch_size=BATCH, eval_every=epochs,
                      dtype=str(getattr(engine.dtype, "name", "float32")).replace("torch.", ""))
    params = engine.init(SPEC, seeds)
    stamps: list[float] = []
    fit(engine, SPEC, params, d, train, seeds, on_epoch=lambda e, h: stamps.append(time.perf_counter()))
    return (stamps[-2] - stamps[0]) / ((len(stamps) - 2) * K) * 1e6


def bench_bmm(d, K: int, epochs: int) -> float:
    """A plain torch.bmm ensemble on CUDA with autograd (the GPU baseline)."""
    import torch

    dev = torch.device("cuda")
    X = torch.tensor(d.X_train, dtype=torch.float32, device=dev)
    y = torch.tensor(d.y_train, dtype=torch.float32, device=dev)
    ps = [torch.randn(K, i, o, device=dev) * (2 / i) ** 0.5 for i, o in SPEC.weight_shapes]
    bs = [torch.zeros(K, 1, o, device=dev) for _, o in SPEC.weight_shapes]
    for p in ps + bs:
        p.requires_grad_(True)
    n = len(X)

    def epoch():
        perm = torch.argsort(torch.rand(K, n, device=dev), dim=1)
        for i in range(0, n, BATCH):
            idx = perm[:, i:i + BATCH]
            a = X[idx]
            for j, (W, b) in enumerate(zip(ps, bs)):
                a = torch.baddbmm(b, a, W)
                if j < len(ps) - 1:
                    a = torch.relu(a)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(a[..., 0], y[idx], reduction="sum")
            grads = torch.autograd.grad(loss / idx.shape[1], ps + bs)
            with torch.no_grad():
                for p, g in zip(ps + bs, grads):
                    p -= LR * g
    epoch()
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(epochs):
        epoch()
    torch.cuda.synchronize()
    return (time.perf_counter() - t) / (epochs * K) * 1e6


# FLOPs and peak ---------------------------------------------------------------------------
def flops_per_model_epoch(spec: MLPSpec, n: int, batch: int) -> float:
    """Multiply-adds count 2. Forward and backward per point, plus one SGD step per batch."""
    mm = sum(2 * i * o for i, o in spec.weight_shapes)
    first = 2 * spec.weight_shapes[0][0] * spec.weight_shapes[0][1]
    per_point = (mm + sum(spec.sizes[1:]) + sum(spec.hidden)  # forward: layers, biases, act.
                 + mm + (mm - first) + sum(spec.sizes[1:]) + sum(spec.hidden))  # backward
    return float(n * per_point + -(-n // batch) * 2 * spec.n_params)


def machine_peak() -> tuple[float, str]:
    """Peak float32 GFLOP/s: cores x clock x FLOPs per cycle (from the CPU's flags)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    mhz, flags, family, model = 2000.0, "", 0, 0
    try:
        info = open("/proc/cpuinfo").read()
        for line in info.splitlines():
            key, _, val = line.partition(":")
            key = key.strip()
            if key == "cpu MHz":
                mhz = float(val)
            elif key == "flags":
                flags = val
            elif key == "cpu family":
                family = int(val)
            elif key == "model":
                model = int(val)
    except OSError:
        pass
    per_cycle = 64 if "avx512f" in flags else 32 if "fma" in flags else 8
    note = "avx512: 2 FMA x 16 lanes" if per_cycle == 64 else "avx2+fma: 2 FMA x 8 lanes"
    if "AuthenticAMD" in open("/proc/cpuinfo").read() and family == 23 and model < 0x30:
        per_cycle, note = 16, "Zen 1: 2 FMA x 4 lanes (256-bit ops split in two)"
    how = f"{cores} cores x {mhz / 1e3:.2f} GHz x {per_cycle} FLOP/cycle ({note})"
    return cores * mhz / 1e3 * per_cycle, how


class _Enough(Exception):
    """Raised from the epoch callback to stop a run early."""


def memory_child(K: int, epochs: int, of_epochs: int) -> None:
    """Run in a subprocess: set up a ``of_epochs``-epoch run of K members (fast, float32),
    train ``epochs`` of them, print the peak RSS and the history's size (MiB).

    History arrays are allocated (and filled with NaN) for every epoch at the first one,
    so stopping early measures the memory of the whole run."""
    d = data()
    engine = get_engine("fast", dtype="float32")
    seeds = list(range(K))
    train = TrainSpec(epochs=of_epochs, lr=LR, dtype="float32", eval_every=1)
    seen = {}

    def stop(epoch, hist):
        seen["hist"] = hist
        if epoch + 1 >= epochs:
            raise _Enough

    try:
        fit(engine, SPEC, engine.init(SPEC, seeds), d, train, seeds, on_epoch=stop)
    except _Enough:
        pass
    hist_mib = sum(v.nbytes for v in seen["hist"].values.values()) / 2**20
    print(f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} {hist_mib:.0f}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer epochs and models (a smoke run)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every epoch count")
    ap.add_argument("--max-k", type=int, default=10_000, help="largest K of the fast engine rows")
    ap.add_argument("--memory-k", type=int, default=100_000, help="K of the memory check (0: skip)")
    ap.add_argument("--memory-epochs", type=int, default=3, help="epochs the memory check trains")
    ap.add_argument("--memory-of", type=int, default=800,
                    help="epochs the memory check's run is set up for (its history's length)")
    ap.add_argument("--_memory-child", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._memory_child:
        memory_child(args._memory_child, args.memory_epochs, args.memory_of)
        return
    s = args.scale * (0.25 if args.quick else 1.0)

    def ep(n):
        return max(3, int(n * s))

    # the memory check runs with the user's (warm) kernel cache: compiling would count LLVM's memory
    child_env = os.environ.copy()
    os.environ["ACTSCOPE_KERNEL_CACHE"] = tempfile.mkdtemp(prefix="actscope-bench-")  # a true first run
    d = data()
    rows: list[tuple[str, float]] = []
    print(f"workload: {SPEC.label()}, moons n_train={len(d.y_train)}, batch {BATCH}, SGD lr {LR}; "
          f"{os.cpu_count()} CPUs, numba threads {os.environ.get('ACTSCOPE_THREADS', 'all')}")
    base = bench_numpy_loop(d, models=3, epochs=ep(40))
    rows.append(("a  per-model NumPy loop (article)", base))
    try:
        rows.append(("b  per-model PyTorch loop (nn.Module + SGD)", bench_torch_loop(d, 2, ep(20))))
    except ImportError:
        rows.append(("b  per-model PyTorch loop: torch not installed", float("nan")))
    rows.append(("c  scikit-learn MLPClassifier", bench_sklearn(d, 2, ep(40))))
    rows.append(("d  NumPy engine, K=1,000 (float64)", bench_engine(get_engine("numpy"), d, 1000, ep(6))))
    compile_s = {}
    try:
        for dtype in ("float32", "float64"):
            eng = get_engine("fast", dtype=dtype)
            t = time.perf_counter()
            bench_engine(eng, d, 16, 3)
            compile_s[dtype] = time.perf_counter() - t
            for K in (1, 100, 1000, 10_000):
                if K > args.max_k:
                    continue
                epochs = ep(max(4, min(400, 40_000_000 // (K * 400) + 4)))  # about a second a row
                rows.append((f"e  fast engine, {dtype}, K={K:,}", bench_engine(eng, d, K, epochs)))
    except ImportError as err:
        rows.append((f"e  fast engine unavailable: {err}", float("nan")))
    try:
        from actscope.engines.gpu_engine import cuda_available

        if cuda_available():
            from bench_gpu import ensemble_rows

            rows += ensemble_rows(d, (1000, 100_000, 1_000_000), ep(10))
    except ImportError:
        pass

    flops = flops_per_model_epoch(SPEC, len(d.y_train), BATCH)
    peak, how = machine_peak()
    print(f"\n{'row':<48}{'us/model-epoch':>16}{'x vs (a)':>12}{'GFLOP/s':>10}")
    for name, us in rows:
        ratio = base / us if us == us else float("nan")
        print(f"{name:<48}{us:>16.4f}{ratio:>12.1f}{flops / us / 1e3:>10.2f}")
    best_name, best = min(((n, u) for n, u in rows if u == u and n.startswith("e")), key=lambda r: r[1],
                          default=(None, None))
    print(f"\nFLOPs per model-epoch: {flops:,.0f}")
    print(f"machine peak (float32): {peak:.1f} GFLOP/s = {how}")
    if best:
        print(f"fastest CPU row: {best_name.strip()} -> {flops / best / 1e3:.2f} GFLOP/s "
              f"= {flops / best / 1e3 / peak:.1%} of peak")
    at_1000 = {n.split(", ")[1]: u for n, u in rows if n.startswith("e  fast") and n.endswith("K=1,000")}
    for dtype, us in at_1000.items():  # issue 19 target 2: >= 40 % of peak, float64 within 2x
        print(f"kernel at K=1,000, {dtype}: {flops / us / 1e3:.2f} GFLOP/s = {flops / us / 1e3 / peak:.1%} "
              f"of the float32 peak")
    if len(at_1000) == 2:
        print(f"float64 / float32 at K=1,000: {at_1000['float64'] / at_1000['float32']:.2f}x")
    print(f"load average while measuring: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"on {os.cpu_count()} cores")
    gpu = {n.split("K=")[1]: u for n, u in rows if n.startswith("f  gpu")}
    bmm = {n.split("K=")[1]: u for n, u in rows if n.startswith("f  torch.bmm")}
    for K, us in gpu.items():
        print(f"gpu engine at K={K}: {bmm[K] / us:.1f}x faster than torch.bmm, "
              f"{flops / us / 1e6:.2f} TFLOP/s")
    for dtype, sec in compile_s.items():
        print(f"numba first run (compile, empty cache), {dtype}: {sec:.1f} s")
    if args.memory_k:
        out = subprocess.run([sys.executable, __file__, "--_memory-child", str(args.memory_k),
                              "--memory-epochs", str(args.memory_epochs), "--memory-of", str(args.memory_of)],
                             capture_output=True, text=True, env=child_env)
        if out.returncode == 0:
            rss, hist = out.stdout.split()[-2:]
            print(f"peak RSS, fast float32, K={args.memory_k:,}, a {args.memory_of}-epoch run "
                  f"(history allocated in full, eval every epoch; {args.memory_epochs} epochs "
                  f"trained): {rss} MiB, of which history {hist} MiB")
        else:
            print(f"memory check failed: {out.stderr[-300:]}")

if __name__ == "__main__":
    main()
