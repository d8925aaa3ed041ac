"""Peak memory of history at 100,000 members x 800 epochs, each row in a fresh process.

  history alone  a History of K members set up for E epochs records every epoch of the
                 four keys a run records each epoch (running loss and accuracy, test loss
                 and accuracy), rows of random float32; against the per-member layout
                 (K x E x keys float32 arrays), whose size is printed beside it
  training       `train.fit` of K ReLU members (fast engine, float32) set up for E epochs,
                 stopped after a few: the history, the parameters, the batch orders

Each prints the process's peak RSS and the history's own bytes (`History.nbytes`).
Target (issue 19): 100,000 members x 800 epochs under 1 GB peak RSS.

    python benchmarks/bench_history_memory.py [--members 100000] [--epochs 800]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time

import numpy as np

KEYS = ("train/running_loss", "train/running_accuracy", "test/loss", "test/accuracy")


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def history_alone(K: int, epochs: int) -> None:
    from actscope.training.history import History

    hist = History(epochs=epochs, seeds=list(range(K)), dtype="float32")
    rng = np.random.default_rng(0)
    row = rng.random(K, dtype=np.float32)
    c = time.process_time()
    for e in range(epochs):
        for i, key in enumerate(KEYS):
            hist.record(key, e, row + np.float32(e + i))
    cpu = time.process_time() - c
    print(f"{peak_mib():.0f} {hist.nbytes / 2**20:.1f} {cpu / (epochs * len(KEYS)) * 1e3:.2f}")


class _Enough(Exception):
    """Raised from the epoch callback to stop a run early."""


def training(K: int, epochs: int, run: int = 3) -> None:
    from actscope.config import TrainSpec, make_dataset
    from actscope.engines import get_engine
    from actscope.nn.model import MLPSpec
    from actscope.training.loop import fit

    d = make_dataset(n_samples=400, noise=0.18, random_state=42, standardize="all")
    spec, seeds = MLPSpec(2, [8, 8], "relu"), list(range(K))
    engine = get_engine("fast", dtype="float32")
    seen = {}

    def stop(epoch, hist):
        seen["hist"] = hist
        if epoch + 1 >= run:
            raise _Enough

    try:
        fit(engine, spec, engine.init(spec, seeds), d, TrainSpec(epochs=epochs, dtype="float32"), seeds,
            on_epoch=stop)
    except _Enough:
        pass
    print(f"{peak_mib():.0f} {seen['hist'].nbytes / 2**20:.1f} -")


def child(row: str, K: int, epochs: int) -> list[str]:
    out = subprocess.run([sys.executable, __file__, "--child", row, "--members", str(K), "--epochs",
                          str(epochs)], check=True, capture_output=True, text=True)
    return out.stdout.split()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=100_000)
    ap.add_argument("--epochs", type=int, default=800)
    ap.add_argument("--child", choices=["alone", "training"])
    args = ap.parse_args()
    K, E = args.members, args.epochs
    if args.child:
        (history_alone if args.child == "alone" else training)(K, E)
        return
    old = K * E * len(KEYS) * 4 / 2**20
    print(f"K = {K} members x {E} epochs, float32")
    print(f"{'row':<46}{'peak RSS MiB':>14}{'history MiB':>13}{'ms / record':>13}")
    for row in ("alone", "training"):
        rss, hist, ms = child(row, K, E)
        print(f"{'history ' + row:<46}{rss:>14}{hist:>13}{ms:>13}")
    print(f"{'per-member layout (K x E x 4 keys), for scale':<46}{'':>14}{old:>13.0f}")
    print("target: peak RSS under 1024 MiB")


if __name__ == "__main__":
    main()
