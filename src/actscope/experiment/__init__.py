"""ExperimentSpec -> Run: every arm trained on identical data and seeds, then measured.

Arms share the dataset, the member seeds (hence the raw init draws and the batch order);
they differ only in what their ArmSpec sets. Metrics follow the schema of DESIGN.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from actscope._util.parallel import arm_workers, run_forked
from actscope._util.version import __version__
from actscope.analysis import probes
from actscope.analysis.classmetrics import per_member_reports
from actscope.analysis.stats import CI_NOTE, TEST_NOTE, compare_arms, mean_ci, summarize_arm
from actscope.config import ExperimentSpec, TrainSpec, load_spec, register_custom_activations
from actscope.data.generators import Dataset, load_dataset
from actscope.engines import MissingExtraError, get_engine
from actscope.errors import InputError
from actscope.experiment.rundir import ArmResult, Run
from actscope.nn.model import MLPSpec
from actscope.training import tuning as tune
from actscope.training.loop import History, fit

SUMMARY_METRICS = ("test_accuracy", "test_loss", "final_train_loss", "val_accuracy",
                   "test_macro_f1", "test_balanced_accuracy")


def arm_model(spec: ExperimentSpec, arm, data: Dataset) -> MLPSpec:
    """The MLPSpec of one arm."""
    return MLPSpec(n_inputs=data.n_features, hidden=spec.model.hidden, activation=arm.activation,
                   n_classes=data.n_classes, init=arm.init or spec.model.init)


def arm_train(spec: ExperimentSpec, arm) -> TrainSpec:
    """The TrainSpec of one arm (its own learning rate if it sets one)."""
    return spec.train if arm.lr is None else spec.train.model_copy(update={"lr": arm.lr})


def make_engine(train: TrainSpec):
    """The engine a TrainSpec names, or an InputError that says what is wrong."""
    try:
        return get_engine(train.engine, dtype=train.dtype, device=train.device)
    except MissingExtraError as err:
        raise InputError(str(err)) from None
    except ValueError as err:
        raise InputError(f"train.engine = {train.engine!r}: {err}") from None


def member_metrics(engine, arm: ArmResult, data: Dataset, points: dict[str, np.ndarray]) -> list[dict]:
    """The per-member entries of metrics.json."""
    h = arm.history
    params = engine.from_numpy(arm.params)
    test_loss, test_acc = h.last("test/loss"), h.last("test/accuracy")
    std = probes.hidden_std(engine, arm.mlp, params, data.X_test)
    traces = {name: probes.signal_trace(engine, arm.mlp, params, x)[:, 0, :] for name, x in points.items()}
    has_val = "val/accuracy" in h.values
    val_acc = h.last("val/accuracy") if has_val else None
    reports = per_member_reports(engine, arm.mlp, params, data.X_test, data.y_test, data.n_classes)
    final_train = h.last("train/running_loss")
    out = []
    for k, seed in enumerate(arm.seeds):
        div = bool(h.diverged[k])

        def num(x):
            return None if div or not np.isfinite(x) else float(x)

        m = {"seed": int(seed), "diverged": div,
             "final_train_loss": num(final_train[k]),
             "test_accuracy": num(test_acc[k]), "test_loss": num(test_loss[k]),
             "hidden_std": None if div else [float(s) for s in std[k]],
             "signal_trace": {} if div else {n: [float(v) for v in t[k]] for n, t in traces.items()}}
        if has_val:
            m["val_accuracy"] = num(val_acc[k])
        if not div:  # per-class metrics on the test split (classmetrics.py)
            rep = reports[k]
            m["test_macro_f1"] = rep.pop("macro_f1")
            m["test_balanced_accuracy"] = rep.pop("balanced_accuracy")
            m["test_per_class"] = rep
        if div:
            m["diverged_epoch"] = int(h.diverged_epoch[k]) + 1 if h.diverged_epoch is not None else None
        out.append(m)
    return out


def compute_metrics(run: Run, engine, points: dict[str, np.ndarray], setup=None) -> dict:
    """metrics.json for a Run whose arms are trained (``setup``: a probes.ProbeSetup)."""
    if setup is None and run.spec.probes.include:
        setup = probes.setup_probes(run.dataset, run.spec.probes, run.spec.data)
    arms = {}
    for arm in run.arms.values():
        members = member_metrics(engine, arm, run.dataset, points)
        summary = {key: mean_ci([m.get(key) if m.get(key) is not None else np.nan for m in members])
                   for key in SUMMARY_METRICS if any(key in m for m in members)}
        if setup is not None:  # the probes of [probes] on the final parameters (probes.py)
            vals = probes.final_probes(engine, arm.mlp, engine.from_numpy(arm.params), arm.history, setup)
            probes.attach_to_members(members, vals)
            summary.update(summarize_arm({"members": members}, keys=list(vals)))
        arms[arm.name] = {"activation": list(arm.mlp.activation), "init": arm.mlp.init,
                          "n_classes": arm.mlp.n_classes, "sizes": list(arm.mlp.sizes),
                          "members": members, "summary": summary,
                          "n_diverged": int(sum(m["diverged"] for m in members))}
    d = run.dataset
    return {
        "name": run.spec.name, "arms": arms,
        "stages": probes.stage_names(next(iter(run.arms.values())).mlp) if run.arms else [],
        "points": {n: [float(v) for v in x] for n, x in points.items()},
        "epochs": run.spec.train.epochs,
        "dataset": {"name": d.name, "n_train": len(d.y_train), "n_test": len(d.y_test),
                    "n_val": 0 if d.y_val is None else len(d.y_val), "n_features": d.n_features,
                    "n_classes": d.n_classes, "class_names": list(d.class_names)},
        "interrupted": run.interrupted,
        "probes": None if setup is None else {
            "include": list(setup.include), "split": setup.split,
            "baseline": {k: float(v) if np.isfinite(v) else None for k, v in setup.baseline.items()},
            "epochs": [e + 1 for e in run.spec.probes.record_epochs(run.spec.train.epochs)]
            + [run.spec.train.epochs], "true_boundary": setup.true_dist is not None},
        "statistics": {"ci": CI_NOTE["t"], "paired": TEST_NOTE},
        "comparisons": compare_arms(arms, label=probes.label),
    }


@dataclass
class ArmOutcome:
    """What training one arm gives back (from this process or a forked one)."""

    params: list            # final parameters, NumPy
    history: History
    tuning: dict | None     # the learning-rate search, when lr = "tune"
    train_s: float          # seconds training, probes excluded
    probe_s: float          # seconds in the probes during training


def epoch_loss(hist: History, epoch: int) -> float | None:
    """The mean running training loss of epoch ``epoch`` over the members still finite."""
    row = hist.values["train/running_loss"][epoch]
    finite = row[np.isfinite(row)]
    return float(finite.mean()) if finite.size else None


def run_experiment(spec: ExperimentSpec | str | Path, progress=None,
                   while_training: Callable[[], None] | None = None) -> Run:
    """Train every arm of ``spec`` and measure it; returns the Run (not yet saved).

    ``progress`` is an optional object with ``start(arm, epochs)`` and ``advance(arm, loss)``.
    Arms train side by side in forked processes where the engine allows it
    (`parallel.arm_workers`); the results are the same either way. ``while_training()``
    runs once in this process while they do (before training, when they train here).
    On KeyboardInterrupt after at least one arm finished, the finished arms are kept and
    the Run is marked ``interrupted``; with none finished the interrupt propagates.
    """
    if not isinstance(spec, ExperimentSpec):
        spec = load_spec(spec)
    register_custom_activations(spec.activations)  # a spec unpickled in a worker process
    engine = make_engine(spec.train)
    for arm in spec.arms:
        make_engine(arm_train(spec, arm))
    data = load_dataset(spec.data)
    models = {}
    for i, arm in enumerate(spec.arms):  # every arm's model is checked before any trains
        try:
            models[arm.name] = arm_model(spec, arm, data)
        except ValueError as err:
            raise InputError(f"arms[{i}] ({arm.name}): {err}") from None
    seeds = spec.seeds.as_list()
    run = Run(spec=spec, dataset=data, arms={})
    setup = probes.setup_probes(data, spec.probes, spec.data) if spec.probes.include else None
    marks = set(spec.probes.record_epochs(spec.train.epochs)) if setup is not None else set()
    arms = {arm.name: arm for arm in spec.arms}

    def train_arm(name: str, send) -> ArmOutcome:
        """Train arm ``name``; ``send(loss)`` after every epoch (the progress bar)."""
        arm, mlp = arms[name], models[name]
        train = arm_train(spec, arm)
        started, probes_before = time.perf_counter(), setup.seconds if setup is not None else 0.0

        def tick(epoch: int, hist: History) -> None:
            if epoch in marks:  # probes during training, at the epochs [probes] names
                probes.record_probes(engine, mlp, hist, epoch, setup)
            send(epoch_loss(hist, epoch))

        tuning = None
        if train.lr == "tune":  # one ensemble per rate; validation picks (tune.py)
            params, hist, tuning = tune.tune_fit(engine, mlp, data, train, seeds, tick)
        else:
            params = engine.init(mlp, seeds, rng=train.rng)
            params, hist = fit(engine, mlp, params, data, train, seeds, on_epoch=tick,
                               grad_norms=probes.wants_batch_gradients(spec.probes, engine))
        hist.params = None  # the final parameters travel once, as NumPy
        probe_s = 0.0
        if setup is not None:  # this arm's probe time travels in its outcome, wherever it ran
            probe_s, setup.seconds = setup.seconds - probes_before, probes_before
        return ArmOutcome(engine.to_numpy(params), hist, tuning, time.perf_counter() - started - probe_s,
                          probe_s)

    outcomes: dict[str, ArmOutcome] = {}
    workers = arm_workers(len(arms), engine)

    def start(name: str) -> None:
        if progress is not None:
            train = arm_train(spec, arms[name])
            progress.start(name, train.epochs * tune.n_trials(train))

    advance = progress.advance if progress is not None else (lambda name, loss: None)
    started = time.perf_counter()
    try:
        if workers > 1:  # arms side by side in forked processes (parallel.py)
            for name in arms:
                start(name)
            run_forked(list(arms), train_arm, workers, advance, outcomes, idle=while_training)
        else:
            if while_training is not None:
                while_training()
            for name in arms:
                start(name)
                outcomes[name] = train_arm(name, lambda loss, _name=name: advance(_name, loss))
    except KeyboardInterrupt:
        if not outcomes:
            raise
        run.interrupted = True
    for name in arms:  # in the spec's order, whichever finished first
        if name in outcomes:
            out = outcomes[name]
            run.arms[name] = ArmResult(name, models[name], list(seeds), out.params, out.history)
    tuning = {name: out.tuning for name, out in outcomes.items() if out.tuning is not None}
    points = probes.resolve_points(spec.probes.points, data)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # diverged members
        run.metrics = compute_metrics(run, engine, points, setup)
    if setup is not None:  # process seconds, summed over arms (they may train side by side)
        probe_s = setup.seconds + sum(o.probe_s for o in outcomes.values())
        run.metrics["timing"] = {"train_s": round(sum(o.train_s for o in outcomes.values()), 3),
                                 "probes_s": round(probe_s, 3), "arm_workers": workers}
    for name, info in tuning.items():
        if name in run.metrics["arms"]:
            run.metrics["arms"][name]["lr_tuning"] = info
    run.metrics["engine"] = {"name": engine.name, "dtype": str(spec.train.dtype),
                             "device": getattr(engine, "device", "cpu")}
    run.metrics["elapsed_s"] = round(time.perf_counter() - started, 3)
    run.metrics["actscope_version"] = __version__
    return run
