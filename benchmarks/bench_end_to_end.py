"""End to end: microseconds per model-epoch of `actscope run`, against the article's loop.

`actscope run` (the CLI, as a subprocess) trains the first article's 2-8-8-1 ReLU network on
its moons data (batch 64, SGD, lr 0.05) as one ensemble of K members, float32,
``--engine auto``, probes off, no report. The time per model-epoch is the difference
between an E2- and an E1-epoch run divided by (E2 - E1) x K, so that start-up, data,
metrics and saving cancel out; both wall and CPU seconds (the child's user + system time,
steadier on a shared machine) are reported. In the same process:

  baseline  the article's per-model NumPy loop (bench_ensemble.py row a)
  kernel    the fast engine's fused epochs alone through train.fit at the same K and
            precision, evaluation at the end only (bench_ensemble.py row e)

Targets (issue 19): baseline / end-to-end >= 200, end-to-end / kernel <= 1.2.

    python benchmarks/bench_end_to_end.py [--members 1000] [--epochs 20 220] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_ensemble import bench_engine, bench_numpy_loop, data  # noqa: E402

CONFIG = """name = "end-to-end"
[data]
name = "moons"
n_samples = 400
noise = 0.18
random_state = 42
test_size = 0.25
split_seed = 42
standardize = "all"
[model]
hidden = [8, 8]
[train]
lr = 0.05
epochs = {epochs}
batch_size = 64
dtype = "float32"
engine = "auto"
[[arms]]
name = "relu"
activation = "relu"
[seeds]
start = 0
count = {members}
[probes]
include = []
"""


def cli_seconds(folder: Path, members: int, epochs: int, report: bool) -> tuple[float, float]:
    """Wall and child CPU seconds of one `actscope run` of ``epochs`` epochs."""
    cfg = folder / f"e{epochs}.toml"
    cfg.write_text(CONFIG.format(epochs=epochs, members=members))
    out = folder / f"run-{epochs}-{time.monotonic_ns()}"
    cmd = [sys.executable, "-m", "actscope", "run", str(cfg), "--out", str(out), "--quiet"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd + ([] if report else ["--no-report"]), check=True, capture_output=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def timed(fn, *args) -> tuple[float, float]:
    """(wall, CPU) µs per model-epoch of a function that returns wall µs per model-epoch."""
    c = time.process_time()
    t = time.perf_counter()
    wall_us = fn(*args)
    return wall_us, wall_us * (time.process_time() - c) / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=1000)
    ap.add_argument("--epochs", type=int, nargs=2, default=(20, 220))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--report", action="store_true", help="draw the report too")
    args = ap.parse_args()
    K, (e1, e2) = args.members, args.epochs
    from actscope.engines import get_engine

    d = data()
    with tempfile.TemporaryDirectory() as tmp:
        cli_seconds(Path(tmp), K, e1, args.report)  # compiles and caches the kernels once
        walls, cpus = [], []
        for _ in range(args.repeat):
            (w1, c1), (w2, c2) = (cli_seconds(Path(tmp), K, e, args.report) for e in (e1, e2))
            walls.append((w2 - w1) / ((e2 - e1) * K) * 1e6)
            cpus.append((c2 - c1) / ((e2 - e1) * K) * 1e6)
    base = [timed(bench_numpy_loop, d, 3, 40) for _ in range(args.repeat)]
    engine = get_engine("fast", dtype="float32")
    kernel = [timed(bench_engine, engine, d, K, 40) for _ in range(args.repeat)]
    e2e_w, e2e_c = min(walls), min(cpus)
    base_w, base_c = min(b[0] for b in base), min(b[1] for b in base)
    ker_w, ker_c = min(k[0] for k in kernel), min(k[1] for k in kernel)
    print(f"K = {K}, float32, epochs {e2} - {e1}, best of {args.repeat}; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    print(f"{'row':<52}{'wall µs':>10}{'CPU µs':>10}")
    print(f"{'actscope run (CLI), per model-epoch':<52}{e2e_w:>10.2f}{e2e_c:>10.2f}")
    print(f"{'baseline: per-model NumPy loop (article)':<52}{base_w:>10.2f}{base_c:>10.2f}")
    print(f"{'kernel alone: fast engine fused epochs (train.fit)':<52}{ker_w:>10.2f}{ker_c:>10.2f}")
    print(f"{'ratio baseline / end to end (target >= 200)':<52}{base_w / e2e_w:>10.1f}"
          f"{base_c / e2e_c:>10.1f}")
    print(f"{'ratio end to end / kernel (target <= 1.2)':<52}{e2e_w / ker_w:>10.2f}{e2e_c / ker_c:>10.2f}")


if __name__ == "__main__":
    main()
