"""What the probes cost next to the training they measure.

The sigmoid-vs-relu protocol (300 training points, 800 epochs) with 20 seeds per arm and
1,000 test points; prints the training time, the probe time (every probe of [probes],
measured at the end) and their ratio, all in this process.

    python benchmarks/bench_probes.py [--seeds 20] [--test 1000] [--engine numpy]
"""

from __future__ import annotations

import argparse
import time

from actscope.config import load_spec, parse_spec


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--test", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=800)
    ap.add_argument("--engine", default="numpy")
    args = ap.parse_args()

    from actscope.experiment import run_experiment
    data = load_spec("sigmoid-vs-relu").model_dump(by_alias=True)
    n = 300 + args.test
    data["data"].update(n_samples=n, test_size=args.test / n)
    data["seeds"] = {"start": 42, "count": args.seeds}
    data["train"].update(epochs=args.epochs, engine=args.engine)
    spec = parse_spec(data, source="bench")
    bare = spec.model_copy(update={"probes": spec.probes.model_copy(update={"include": []})})

    from actscope.analysis import probes
    from actscope.experiment import make_engine

    w0, c0 = time.perf_counter(), time.process_time()
    run = run_experiment(bare)  # training only (and the article's own metrics)
    train_w, train_c = time.perf_counter() - w0, time.process_time() - c0
    engine = make_engine(spec.train)
    w0, c0 = time.perf_counter(), time.process_time()
    setup = probes.setup_probes(run.dataset, spec.probes, spec.data)
    for arm in run.arms.values():
        probes.final_probes(engine, arm.mlp, engine.from_numpy(arm.params), arm.history, setup)
    probe_w, probe_c = time.perf_counter() - w0, time.process_time() - c0
    d = run.metrics["dataset"]
    print(f"{args.seeds} seeds x {len(run.arms)} arms, {d['n_train']} train / {d['n_test']} test points, "
          f"{args.epochs} epochs, engine {args.engine}")
    for what, t, p in (("wall", train_w, probe_w), ("cpu ", train_c, probe_c)):
        print(f"{what}: training {t:.2f} s, probes {p:.2f} s, probes / training = {p / t:.3f}")

if __name__ == "__main__":
    main()
