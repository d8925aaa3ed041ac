"""Seconds before training starts for a new architecture: the fast engine against NumPy.

Each row is a fresh Python process (as a user's ``actscope run`` is) that builds the
engine, initialises a network of an architecture no earlier run used (random widths, so no
specialised kernel can be cached), and trains two epochs; the time is from just before
``get_engine`` to the end of the first epoch (imports of actscope and NumPy excluded,
numba's import included), and "before training" is that time less one steady epoch (the
second's): the stall the target is about. Rows, each with its ratio to NumPy's time (row a):

  a  NumPy engine
  b  fast engine, generic kernels, kernel cache empty (the one compile per dtype and machine)
  c  fast engine, generic kernels, warm cache, a new architecture (target: at most 2 s)
  d  fast engine, specialised kernels, a new architecture (what every new architecture cost
     before the generic kernels)
  e  engine = "auto", a new architecture, 2 members (the estimate's pick)
  f  engine = "fast", warm cache, a new formula activation (random coefficients, so no run
     used it before): it runs as a program in the generic kernels (target: at most 2 s; the
     time includes deriving f' from the formula)

Usage: python benchmarks/bench_compile.py [--quick] [--dtype float32] [--activation tanh]
``--quick`` skips rows b and d (the long compiles).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

CHILD = r"""
import json, sys, time
import numpy as np
from actscope.config import TrainSpec, make_dataset
from actscope.nn.model import MLPSpec
from actscope.training.loop import fit
engine_name, kernel, dtype, act, widths, members = sys.argv[1:7]
widths = [int(w) for w in widths.split(",")]
data = make_dataset(n_samples=400, noise=0.18, random_state=42, test_size=0.25, split_seed=42)
t0 = time.perf_counter()
from actscope.engines import get_engine
if engine_name == "fast":
    from actscope.engines.fast_engine import FastEngine
    eng = FastEngine(dtype, kernel=kernel)
else:
    eng = get_engine(engine_name, dtype=dtype)
spec = MLPSpec(2, widths, act)
seeds = list(range(int(members)))
train = TrainSpec(epochs=2, lr=0.05, batch_size=64, dtype=dtype, eval_every=1)
ends = []
tick = lambda e, h: ends.append(time.perf_counter())
fit(eng, spec, eng.init(spec, seeds), data, train, seeds, on_epoch=tick)
out = {"first_epoch_s": ends[0] - t0, "stall_s": max(0.0, 2 * ends[0] - ends[1] - t0)}
if hasattr(eng, "decisions") and eng.decisions:
    out["decision"] = eng.decision()
print(json.dumps(out))
"""


def child(engine: str, kernel: str, dtype: str, act: str, widths: str, members: int,
          cache: str | None = None) -> dict:
    env = dict(os.environ)
    if cache is not None:
        env["ACTSCOPE_KERNEL_CACHE"] = cache
    res = subprocess.run([sys.executable, "-c", CHILD, engine, kernel, dtype, act, widths, str(members)],
                         capture_output=True, text=True, env=env, timeout=3600)
    if res.returncode != 0:
        raise SystemExit(res.stderr[-2000:])
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip the long compiles (rows b and d)")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--activation", default="tanh")
    ap.add_argument("--members", type=int, default=1000)
    args = ap.parse_args(argv)
    import random

    rnd = random.Random()
    new = lambda: ",".join(str(rnd.randint(5, 30)) for _ in range(rnd.randint(2, 3)))  # noqa: E731
    print(f"load: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; dtype {args.dtype}, "
          f"activation {args.activation}, {args.members} members, 1 epoch of the article's moons")
    rows = []
    widths = new()
    rows.append(("a  numpy", child("numpy", "", args.dtype, args.activation, widths, args.members)))
    if not args.quick:
        with tempfile.TemporaryDirectory() as cold:
            rows.append(("b  fast/generic, empty cache",
                         child("fast", "generic", args.dtype, args.activation, new(), args.members, cold)))
    child("fast", "generic", args.dtype, args.activation, "3", 2)  # the generic module, cached
    rows.append(("c  fast/generic, warm cache, new widths " + (w := new()),
                 child("fast", "generic", args.dtype, args.activation, w, args.members)))
    if not args.quick:
        rows.append(("d  fast/specialised, new widths " + (w := new()),
                     child("fast", "specialised", args.dtype, args.activation, w, args.members)))
    rows.append(("e  auto, 2 members, new widths " + (w := new()),
                 child("auto", "", args.dtype, args.activation, w, 2)))
    formula = f"f(x) = x * tanh({rnd.uniform(0.5, 2):.4f} * x) + {rnd.uniform(0, 0.2):.4f} * sin(x)"
    rows.append(("f  fast, a new formula, new widths " + (w := new()),
                 child("fast", "", args.dtype, formula, w, args.members)))
    base = rows[0][1]["first_epoch_s"]
    for name, r in rows:
        extra = f"   [{r['decision']['chosen']}]" if "decision" in r else ""
        print(f"{name:<52} {r['first_epoch_s']:8.2f} s   {r['first_epoch_s'] / base:6.2f}x numpy"
              f"   before training {r['stall_s']:6.2f} s{extra}")


if __name__ == "__main__":
    main()
