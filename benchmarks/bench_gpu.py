"""The gpu engine's fused kernel against a plain torch.bmm ensemble, on one CUDA device.

Workload of bench_ensemble (2-8-8-1 ReLU, moons with 300 training points, batch 64, SGD
lr 0.05), K members up to 1,000,000. Rows give microseconds per model-epoch:

  kernel   the fused training kernel alone (CUDA events around the launches)
  epoch    what training.loop.fit pays per epoch: keep in, kernel, loss / accuracy / keep back
  eval     the fused evaluation kernel on the training set
  bmm      torch.baddbmm + autograd over the ensemble, on the same GPU (the baseline)

Large ensembles start from the initial weights of the first 1,000 seeds repeated (every
member keeps its own batch order: setup time is not what is measured). Variants of the
launch (threads per block, fast math) are timed at the largest K first.
Usage: python benchmarks/bench_gpu.py [--max-k 1000000] [--epochs 10]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ensemble import BATCH, LR, SPEC, bench_bmm, data, flops_per_model_epoch  # noqa: E402

from actscope.config import TrainSpec  # noqa: E402
from actscope.engines import EpochPlan, gpu_engine  # noqa: E402
from actscope.engines.fast_engine import pcg_states  # noqa: E402
from actscope.training.loop import batch_streams  # noqa: E402

BASE_SEEDS = 1000


def trainer(engine, d, K: int, dtype: str):
    """A fused trainer for K members (initial weights of BASE_SEEDS seeds, tiled)."""
    base = min(K, BASE_SEEDS)
    params = engine.to_numpy(engine.init(SPEC, list(range(base))))
    reps = -(-K // base)
    tiled = [(np.tile(W, (reps, 1, 1))[:K], np.tile(b, (reps, 1))[:K]) for W, b in params]
    streams = batch_streams(SPEC, list(range(base)), "default")
    states = np.tile(pcg_states(streams), (reps, 1))[:K]
    t = TrainSpec(epochs=1, lr=LR, batch_size=BATCH, dtype=dtype)
    plan = EpochPlan(t.optimizer, t.lr, t.momentum, tuple(t.betas), t.eps, t.weight_decay, t.batch_size,
                     t.shuffle, [streams[k % base] for k in range(K)])
    gpu_engine.pcg_states = lambda _: states  # the tiled states, not a walk over K Generators
    try:
        tr = engine.epoch_runner(SPEC, engine.from_numpy(tiled), d.X_train, d.y_train.astype(float), plan)
    finally:
        gpu_engine.pcg_states = pcg_states
    assert isinstance(tr, gpu_engine.FusedTrainer), type(tr)
    tr.keep.fill_(1)
    return tr


def time_kernel(torch, tr, epochs: int) -> float:
    """µs per model-epoch of the training kernel alone (median of per-epoch event times)."""
    tr.launch()
    times = []
    for _ in range(epochs):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        tr.launch()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b) * 1e3)
    return float(np.median(times)) / tr.K


def time_epoch(torch, tr, epochs: int) -> float:
    keep = np.ones(tr.K, dtype=bool)
    tr.run_epoch(keep)
    t = time.perf_counter()
    for _ in range(epochs):
        tr.run_epoch(keep)
    return (time.perf_counter() - t) / (epochs * tr.K) * 1e6


def time_eval(torch, engine, tr, d, epochs: int) -> float:
    params = tr.params
    engine.loss_and_accuracy(SPEC, params, d.X_train, d.y_train)
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(epochs):
        engine.loss_and_accuracy(SPEC, params, d.X_train, d.y_train)
    return (time.perf_counter() - t) / (epochs * tr.K) * 1e6


def ensemble_rows(d, Ks, epochs: int) -> list[tuple[str, float]]:
    """bench_ensemble's rows f: the gpu engine's epochs (what training.loop.fit pays per epoch) and
    the torch.bmm baseline, float32, µs per model-epoch."""
    import torch

    engine, out = gpu_engine.GpuEngine("float32"), []
    for K in Ks:
        tr = trainer(engine, d, K, "float32")
        out.append((f"f  gpu engine (fused), float32, K={K:,}", time_epoch(torch, tr, epochs)))
        del tr
        torch.cuda.empty_cache()
        out.append((f"f  torch.bmm ensemble, float32, K={K:,}", bench_bmm(d, K, max(3, epochs // 2))))
        torch.cuda.empty_cache()
    return out


def kernel_info(tr) -> str:
    fn = tr.mod.module.get_function("train_epoch_shared")
    return f"{fn.num_regs} registers, {fn.local_size_bytes} B local (spill) per thread"


def main(argv=None) -> None:
    import cupy
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-k", type=int, default=1_000_000)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--no-variants", action="store_true")
    ap.add_argument("--no-bmm", action="store_true")
    args = ap.parse_args(argv)
    d = data()
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}, cupy {cupy.__version__}; "
          f"workload {SPEC.label()}, n_train={len(d.y_train)}, batch {BATCH}")
    Kmax = args.max_k
    if not args.no_variants:
        print(f"\nlaunch variants, float32, K={Kmax:,} (kernel µs per model-epoch)")
        for block in (32, 64, 128):
            for fast in (True, False):
                gpu_engine.BLOCK = block
                eng = gpu_engine.GpuEngine("float32", launcher=gpu_engine.CupyLauncher(fast_math=fast))
                t0 = time.perf_counter()
                tr = trainer(eng, d, Kmax, "float32")
                us = time_kernel(torch, tr, args.epochs)
                print(f"  block {block:>3}, fast math {fast!s:<5}: {us:.5f}  ({kernel_info(tr)}; "
                      f"setup {time.perf_counter() - t0:.1f} s)")
                del tr
        gpu_engine.BLOCK = 64
    rows = []
    for dtype in ("float32", "float64"):
        eng = gpu_engine.GpuEngine(dtype)
        for K in (1000, 10_000, 100_000, 1_000_000):
            if K > Kmax or (dtype == "float64" and K not in (10_000, Kmax)):
                continue
            tr = trainer(eng, d, K, dtype)
            rows.append((f"kernel {dtype} K={K:,}", time_kernel(torch, tr, args.epochs)))
            rows.append((f"epoch  {dtype} K={K:,}", time_epoch(torch, tr, args.epochs)))
            rows.append((f"eval   {dtype} K={K:,}", time_eval(torch, eng, tr, d, args.epochs)))
            if dtype == "float32" and K == Kmax:
                print(f"\nfloat32 kernel: {kernel_info(tr)}")
            del tr
            torch.cuda.empty_cache()
    if not args.no_bmm:
        for K in (1000, 100_000, 1_000_000):
            if K <= Kmax:
                rows.append((f"bmm    float32 K={K:,}", bench_bmm(d, K, max(3, args.epochs // 2))))
                torch.cuda.empty_cache()
    flops = flops_per_model_epoch(SPEC, len(d.y_train), BATCH)
    bmm = {r[0].split("K=")[1]: r[1] for r in rows if r[0].startswith("bmm")}
    print(f"\n{'row':<32}{'us/model-epoch':>16}{'TFLOP/s':>10}{'bmm / row':>11}")
    for name, us in rows:
        ref = bmm.get(name.split("K=")[1])
        print(f"{name:<32}{us:>16.5f}{flops / us / 1e6:>10.2f}{(ref / us if ref else float('nan')):>11.1f}")
    print(f"FLOPs per model-epoch: {flops:,.0f}")


if __name__ == "__main__":
    main()
