"""CSV reading: values per second of `load_csv` against two baselines in the same process.

A file of ROWS x COLS numeric features and a text label is written to a temporary folder,
then read, best of ``--repeat``, by:

  load_csv   actscope.data.csv_files.load_csv (validated, chunked NumPy conversion)
  per-cell   the csv module, float() and NumPy's isnan/isfinite cell by cell (how
             actscope read CSV files before issue 16)
  loadtxt    numpy.loadtxt of the feature columns only (NumPy's C parser, no validation,
             no label column): what raw parsing costs

and the refusal time of a file estimated over $ACTSCOPE_CSV_MAX_VALUES (set to a tenth of
its values) is printed beside them.

    python benchmarks/bench_csv.py [--rows 5000] [--cols 200] [--repeat 3]
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from actscope.data.csv_files import load_csv
from actscope.errors import InputError


def write_file(path: Path, rows: int, cols: int) -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((rows, cols))
    with path.open("w") as fh:
        fh.write(",".join(f"f{j}" for j in range(cols)) + ",label\n")
        for i in range(rows):
            fh.write(",".join(f"{v:.6f}" for v in X[i]) + f",{'ab'[i % 2]}\n")


def per_cell(path: Path):
    """The pre-issue-16 way: every cell through float() and a finiteness check."""
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    X = np.empty((len(rows) - 1, len(rows[0]) - 1))
    for i, row in enumerate(rows[1:]):
        for j, cell in enumerate(row[:-1]):
            v = float(cell.strip())
            if np.isnan(v) or not np.isfinite(v):  # the old checks, on NumPy scalars
                raise ValueError(cell)
            X[i, j] = v
    return X


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=5000)
    ap.add_argument("--cols", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    n_values = args.rows * args.cols
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.csv"
        write_file(path, args.rows, args.cols)
        print(f"{args.rows} rows x {args.cols} features, {path.stat().st_size / 2**20:.1f} MiB")
        ref = load_csv(path, label="label")[0]
        assert np.array_equal(ref, per_cell(path))
        t_new = best(lambda: load_csv(path, label="label"), args.repeat)
        t_cell = best(lambda: per_cell(path), args.repeat)
        t_np = best(lambda: np.loadtxt(path, delimiter=",", skiprows=1, usecols=range(args.cols)),
                    args.repeat)
        for name, t in (("load_csv", t_new), ("per-cell", t_cell), ("loadtxt", t_np)):
            print(f"{name:<9} {t:7.2f} s  {n_values / t / 1e6:6.2f} M values/s  "
                  f"this / load_csv = {t / t_new:5.2f}")
        os.environ["ACTSCOPE_CSV_MAX_VALUES"] = str(max(1, n_values // 10))
        t = time.perf_counter()
        try:
            load_csv(path, label="label")
        except InputError as err:
            print(f"refused over the limit in {time.perf_counter() - t:.3f} s: {str(err)[:100]}...")


if __name__ == "__main__":
    main()
