"""How long `actscope reproduce sigmoid-vs-relu` takes, phase by phase.

Prints wall times for the whole command (a fresh interpreter, as a user runs it: there the
report worker of `actscope.reporter` loads matplotlib beside scikit-learn) and for each
phase in this process (where the report is drawn here), with the training time as a ratio
to a plain per-model NumPy loop of the same protocol (the way the article's notebook
trains), run here too.

Target (issue 19): the command in at most 5 s. On a shared machine its wall time says more
about the other jobs than about actscope: the CPU seconds of the command and its workers
and the load average are printed beside it. ``--against SRC`` runs the command from
another source tree too (say ``git archive HEAD src | tar -x -C /tmp/head``, then
``--against /tmp/head/src``), alternating with this one so that both see the same load,
and prints the ratio of their times.

``--cli-only`` skips the in-process phases (a short run on a shared machine).

    python benchmarks/bench_reproduce.py [--repeat 3] [--against SRC] [--cli-only]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def baseline_article_loop(data, epochs=800, lr=0.05, batch=64, seed=42) -> float:
    """Seconds for the article's protocol trained one network at a time, in plain NumPy."""
    X, y = data.X_train, data.y_train.astype(float)[:, None]
    sig = lambda z: 1 / (1 + np.exp(-z))
    acts = {"sigmoid": (sig, lambda z, a: a * (1 - a)),
            "relu": (lambda z: np.maximum(z, 0), lambda z, a: (z > 0).astype(float))}
    start = time.perf_counter()
    nets = []
    for name in ("sigmoid", "relu"):
        rs = np.random.RandomState(seed)
        g = 2.0 if name == "relu" else 1.0
        Ws = [rs.standard_normal((i, o)) * np.sqrt(g / i) for i, o in [(2, 8), (8, 8), (8, 1)]]
        nets.append((name, Ws, [np.zeros(o) for o in (8, 8, 1)]))
    order = np.random.RandomState(seed)
    for _ in range(3):
        order.standard_normal((1,))  # the stream position does not matter for timing
    for _ in range(epochs):
        idx = order.permutation(len(X))
        for name, Ws, bs in nets:
            f, df = acts[name]
            for i in range(0, len(idx), batch):
                xb, yb = X[idx[i:i + batch]], y[idx[i:i + batch]]
                z1 = xb @ Ws[0] + bs[0]
                a1 = f(z1)
                z2 = a1 @ Ws[1] + bs[1]
                a2 = f(z2)
                out = sig(a2 @ Ws[2] + bs[2])
                d3 = (out - yb) / len(xb)
                d2 = (d3 @ Ws[2].T) * df(z2, a2)
                d1 = (d2 @ Ws[1].T) * df(z1, a1)
                for W, b, a, d in ((Ws[2], bs[2], a2, d3), (Ws[1], bs[1], a1, d2), (Ws[0], bs[0], xb, d1)):
                    W -= lr * a.T @ d
                    b -= lr * d.sum(0)
    return time.perf_counter() - start


def run_cli(src: str | None = None) -> tuple[float, float]:
    """Wall and CPU seconds (the command and its workers) of one `actscope reproduce
    sigmoid-vs-relu`, from the installed actscope or from source tree ``src``."""
    env = dict(os.environ, PYTHONPATH=src) if src else None
    with tempfile.TemporaryDirectory() as tmp:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "actscope.cli", "reproduce", "sigmoid-vs-relu",
                        "--out", str(Path(tmp) / "run"), "--quiet"], check=True, capture_output=True,
                       env=env)
        wall = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def _print_cli(args, cli, cli_cpu, other, other_cpu, load_before) -> None:
    """The command's rows: wall and CPU (best of the repeats), the load, the other tree."""
    best = min
    print(f"{'phase':<44}{'best of ' + str(args.repeat):>14}")
    print(f"{'actscope reproduce sigmoid-vs-relu (CLI)':<44}{best(cli):>12.2f} s"
          f"   (median {statistics.median(cli):.2f} s)")
    print(f"{'  its CPU time (all its processes)':<44}{best(cli_cpu):>12.2f} s"
          f"   (median {statistics.median(cli_cpu):.2f} s)")
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{'  load average (1, 5, 15 min) on ' + str(os.cpu_count()) + ' cores':<44}"
          f"{load:>14}   (at the start {' '.join(f'{x:.1f}' for x in load_before)})")
    if args.against:
        print(f"{'the same from ' + args.against:<44}{best(other):>12.2f} s"
              f"   (median {statistics.median(other):.2f} s)")
        print(f"{'  its CPU time (all its processes)':<44}{best(other_cpu):>12.2f} s"
              f"   (median {statistics.median(other_cpu):.2f} s)")
        print(f"{'ratio this / that, wall (best, median)':<44}{best(cli) / best(other):>12.2f} x"
              f"   ({statistics.median(cli) / statistics.median(other):.2f} x)")
        print(f"{'ratio this / that, CPU (best, median)':<44}{best(cli_cpu) / best(other_cpu):>12.2f} x"
              f"   ({statistics.median(cli_cpu) / statistics.median(other_cpu):.2f} x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--against", metavar="SRC", help="another source tree to time, alternately")
    ap.add_argument("--cli-only", action="store_true", help="time the command only, not its phases")
    args = ap.parse_args()
    load_before = os.getloadavg()

    cli, cli_cpu, other, other_cpu = [], [], [], []
    for _ in range(args.repeat):
        wall, cpu = run_cli()
        cli.append(wall)
        cli_cpu.append(cpu)
        if args.against:
            wall, cpu = run_cli(args.against)
            other.append(wall)
            other_cpu.append(cpu)

    if args.cli_only:
        _print_cli(args, cli, cli_cpu, other, other_cpu, load_before)
        return
    t0 = time.perf_counter()
    from actscope.experiment import run_experiment
    from actscope.experiment.rundir import save_run
    from actscope.report import write_report
    t_import = time.perf_counter() - t0

    train, report, base = [], [], []
    for _ in range(args.repeat):
        t = time.perf_counter()
        run = run_experiment("sigmoid-vs-relu")
        train.append(time.perf_counter() - t)
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            save_run(run, Path(tmp) / "run", extra=lambda r, d: write_report(r, d))
            report.append(time.perf_counter() - t)
        base.append(baseline_article_loop(run.dataset))

    best = min
    _print_cli(args, cli, cli_cpu, other, other_cpu, load_before)
    print(f"{'  import actscope':<44}{t_import:>12.2f} s")
    print(f"{'  train both arms + metrics':<44}{best(train):>12.2f} s")
    print(f"{'  save run + figures + report.html':<44}{best(report):>12.2f} s")
    print(f"{'baseline: per-model NumPy loop (training)':<44}{best(base):>12.2f} s")
    print(f"{'ratio train / baseline':<44}{best(train) / best(base):>12.2f} x")


if __name__ == "__main__":
    main()
