"""End to end: microseconds per model-epoch of `actscope run`, against the article's loop.

`actscope run` (the CLI, as a subprocess) trains the first article's 2-8-8-1 ReLU network on
its moons data (batch 64, SGD, lr 0.05) as one ensemble of K members, float32,
``--engine auto``, probes off, no report. The time per model-epoch is the difference
between an E2- and an E1-epoch run divided by (E2 - E1) x K, so that start-up, data,
metrics and saving cancel out. Both runs are long (120 and 420 epochs by default, not 20
and 220): work a run does once but in the background while it trains (imports in a
thread, a report worker starting) then lands inside the training of both runs and cancels
too; with a 20-epoch run it could end after the short run's training and be counted per
epoch. Three clocks, best of ``--repeat``: the run's own ``elapsed_s`` (metrics.json: from
the run's start to its metrics, Python's start-up and imports excluded), the subprocess's
wall time and its CPU time (user + system, steadier on a shared machine). In the same
process:

  baseline  the article's per-model NumPy loop (bench_ensemble.py row a)
  kernel    the fast engine's fused epochs alone through train.fit at the same K and
            precision, evaluation at the end only (bench_ensemble.py row e)

Targets (issue 19): baseline / end-to-end >= 200, end-to-end / kernel <= 1.2. The engine
`auto` chose is printed (from metrics.json): the rows mean something only where it is the
fast engine.

    python benchmarks/bench_end_to_end.py [--members 1000] [--epochs 120 420] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
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


def cli_seconds(folder: Path, members: int, epochs: int, report: bool,
                extra: tuple[str, ...] = ()) -> tuple[float, float, float, str]:
    """Seconds of one `actscope run` of ``epochs`` epochs: the run's own elapsed_s, the
    subprocess's wall and CPU time; and the engine the run chose."""
    cfg = folder / f"e{epochs}.toml"
    cfg.write_text(CONFIG.format(epochs=epochs, members=members))
    out = folder / f"run-{epochs}-{time.monotonic_ns()}"
    cmd = [sys.executable, "-m", "actscope", "run", str(cfg), "--out", str(out), "--quiet", *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd + ([] if report else ["--no-report"]), check=True, capture_output=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    metrics = json.loads((out / "metrics.json").read_text())
    engine = metrics["engine"]
    return float(metrics["elapsed_s"]), wall, cpu, str(engine.get("chosen", engine["name"]))


def timed(fn, *args) -> tuple[float, float]:
    """(wall, CPU) µs per model-epoch of a function that returns wall µs per model-epoch."""
    c = time.process_time()
    t = time.perf_counter()
    wall_us = fn(*args)
    return wall_us, wall_us * (time.process_time() - c) / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=1000)
    ap.add_argument("--epochs", type=int, nargs=2, default=(120, 420))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--report", action="store_true", help="draw the report too")
    args = ap.parse_args()
    K, (e1, e2) = args.members, args.epochs
    from actscope.engines import get_engine

    d = data()
    per = {"run": [], "wall": [], "cpu": []}
    with tempfile.TemporaryDirectory() as tmp:
        # compiles and caches the kernels once (forced: `auto` counts compiling against them)
        cli_seconds(Path(tmp), K, e1, args.report, ("--engine", "fast"))
        chosen = set()
        for _ in range(args.repeat):
            short, long = (cli_seconds(Path(tmp), K, e, args.report) for e in (e1, e2))
            chosen |= {short[3], long[3]}
            for i, key in enumerate(per):
                per[key].append((long[i] - short[i]) / ((e2 - e1) * K) * 1e6)
    base = [timed(bench_numpy_loop, d, 3, 40) for _ in range(args.repeat)]
    engine = get_engine("fast", dtype="float32")
    kernel = [timed(bench_engine, engine, d, K, 40) for _ in range(args.repeat)]
    e2e = {key: min(v) for key, v in per.items()}
    base_w, base_c = min(b[0] for b in base), min(b[1] for b in base)
    ker_w, ker_c = min(k[0] for k in kernel), min(k[1] for k in kernel)
    print(f"K = {K}, float32, epochs {e2} - {e1}, best of {args.repeat}; engine chosen: "
          f"{', '.join(sorted(chosen))}; load "
          f"average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    print(f"{'row':<52}{'wall µs':>10}{'CPU µs':>10}")
    print(f"{'actscope run (CLI), per model-epoch: its elapsed_s':<52}{e2e['run']:>10.2f}{'':>10}")
    print(f"{'actscope run (CLI), per model-epoch: subprocess':<52}{e2e['wall']:>10.2f}{e2e['cpu']:>10.2f}")
    print(f"{'baseline: per-model NumPy loop (article)':<52}{base_w:>10.2f}{base_c:>10.2f}")
    print(f"{'kernel alone: fast engine fused epochs (train.fit)':<52}{ker_w:>10.2f}{ker_c:>10.2f}")
    print(f"{'ratio baseline / end to end (target >= 200)':<52}{base_w / e2e['wall']:>10.1f}"
          f"{base_c / e2e['cpu']:>10.1f}")
    print(f"{'ratio end to end / kernel (target <= 1.2)':<52}{e2e['wall'] / ker_w:>10.2f}"
          f"{e2e['cpu'] / ker_c:>10.2f}")
    print(f"{'  the same from the run elapsed_s (wall)':<52}{e2e['run'] / ker_w:>10.2f}")


if __name__ == "__main__":
    main()
