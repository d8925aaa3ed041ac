"""ExperimentSpec -> Run: every arm trained on identical data and seeds, then measured.

Arms share the dataset, the member seeds (hence the raw init draws and the batch order);
they differ only in what their ArmSpec sets.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from actscope._util.parallel import arm_workers, run_forked
from actscope._util.version import __version__
from actscope.analysis import probes
from actscope.config import ExperimentSpec, load_spec, register_custom_activations
from actscope.config.against_data import check_with_data
from actscope.config.budget import check_budget, data_shape
from actscope.data.generators import Dataset, load_dataset
from actscope.engines.base import Engine
from actscope.errors import InputError
from actscope.experiment.arms import arm_model, arm_train, make_engine
from actscope.experiment.metrics import compute_metrics
from actscope.experiment.rundir import ArmResult, Run
from actscope.nn.model import MLPSpec
from actscope.nn.params import finite_members
from actscope.training import tuning as tune
from actscope.training.loop import History, fit


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
    row = hist.row("train/running_loss", epoch)
    finite = row[np.isfinite(row)]
    return float(finite.mean()) if finite.size else None


@dataclass
class ArmTrainer:
    """Trains the arms of one spec: ``trainer(name, send)`` trains arm ``name`` and calls
    ``send(loss)`` after every epoch (the progress bar; None: no progress is shown, and
    nothing is sent). Runs here or in a forked process."""

    spec: ExperimentSpec
    engine: Engine
    data: Dataset
    models: dict[str, MLPSpec]
    seeds: list[int]
    setup: probes.ProbeSetup | None

    def __call__(self, name: str, send: Callable[[float | None], None] | None) -> ArmOutcome:
        spec, engine, setup = self.spec, self.engine, self.setup
        arm = next(a for a in spec.arms if a.name == name)
        mlp, train = self.models[name], arm_train(spec, arm)
        marks = set(spec.probes.record_epochs(spec.train.epochs)) if setup is not None else set()
        started, probes_before = time.perf_counter(), setup.seconds if setup is not None else 0.0

        def tick(epoch: int, hist: History) -> None:
            if epoch in marks and setup is not None:  # probes during training, at the epochs [probes] names
                probes.record_probes(engine, mlp, hist, epoch, setup)
            if send is not None:
                send(epoch_loss(hist, epoch))

        tuning = None
        if train.lr == "tune":  # one ensemble per rate; validation picks (tune.py)
            params, hist, tuning = tune.tune_fit(engine, mlp, self.data, train, self.seeds, tick)
        else:
            params = engine.init(mlp, self.seeds, rng=train.rng)
            params, hist = fit(engine, mlp, params, self.data, train, self.seeds, on_epoch=tick,
                               grad_norms=probes.wants_batch_gradients(spec.probes, engine))
        hist.params = None  # the final parameters travel once, as NumPy
        probe_s = 0.0
        if setup is not None:  # this arm's probe time travels in its outcome, wherever it ran
            probe_s, setup.seconds = setup.seconds - probes_before, probes_before
        return ArmOutcome(engine.to_numpy(params), hist, tuning,
                          time.perf_counter() - started - probe_s, probe_s)


def prepare_arms(spec: ExperimentSpec) -> ArmTrainer:
    """Register the spec's formula activations, make and check every engine and every arm's
    model before any arm trains, load the data and set the probes up."""
    register_custom_activations(spec.activations)  # the run starts: its formulas by name
    engine = make_engine(spec.train)
    for arm in spec.arms:
        make_engine(arm_train(spec, arm))
    data = load_dataset(spec.data)
    check_with_data(spec, data)  # what only the data tells (a CSV's size), before any training
    check_budget(spec, data_shape(data))
    models = {}
    for i, arm in enumerate(spec.arms):
        try:
            models[arm.name] = arm_model(spec, arm, data)
        except ValueError as err:
            raise InputError(f"arms[{i}] ({arm.name}): {err}") from None
    setup = probes.setup_probes(data, spec.probes, spec.data) if spec.probes.include else None
    return ArmTrainer(spec, engine, data, models, spec.seeds.as_list(), setup)


def train_arms(trainer: ArmTrainer, workers: int, progress=None,
               while_training: Callable[[], None] | None = None) -> tuple[dict[str, ArmOutcome], bool]:
    """Every arm's outcome, side by side in ``workers`` forked processes or one after the
    other here; and whether Ctrl-C stopped the training after some arm finished."""
    spec = trainer.spec
    names = [arm.name for arm in spec.arms]
    outcomes: dict[str, ArmOutcome] = {}

    def start(name: str) -> None:
        if progress is not None:
            train = arm_train(spec, next(a for a in spec.arms if a.name == name))
            progress.start(name, train.epochs * tune.n_trials(train))

    advance = progress.advance if progress is not None else (lambda name, loss: None)
    # without a progress display the arms send nothing: 800 epochs, 800 messages less each
    job = trainer if progress is not None else (lambda name, send: trainer(name, None))
    try:
        if workers > 1:  # arms side by side in forked processes (parallel.py)
            for name in names:
                start(name)
            run_forked(names, job, workers, advance, outcomes, idle=while_training)
        else:
            if while_training is not None:
                while_training()
            for name in names:
                start(name)
                outcomes[name] = job(name, partial(advance, name))
    except KeyboardInterrupt:
        if not outcomes:
            raise
        return outcomes, True
    return outcomes, False


def _metrics(run: Run, trainer: ArmTrainer, outcomes: dict[str, ArmOutcome], workers: int,
             started: float) -> dict:
    """metrics.json of a Run whose arms are in: the measurements, timing and provenance."""
    spec, engine, setup = trainer.spec, trainer.engine, trainer.setup
    points = probes.resolve_points(spec.probes.points, trainer.data)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # diverged members
        metrics = compute_metrics(run, engine, points, setup)
    if setup is not None:  # process seconds, summed over arms (they may train side by side)
        probe_s = setup.seconds + sum(o.probe_s for o in outcomes.values())
        metrics["timing"] = {"train_s": round(sum(o.train_s for o in outcomes.values()), 3),
                             "probes_s": round(probe_s, 3), "arm_workers": workers}
    for name, out in outcomes.items():
        if out.tuning is not None and name in metrics["arms"]:
            metrics["arms"][name]["lr_tuning"] = out.tuning
    metrics["engine"] = {"name": engine.name, "dtype": str(spec.train.dtype),
                         "device": engine.device, **(engine.decision() or {})}
    metrics["elapsed_s"] = round(time.perf_counter() - started, 3)
    metrics["actscope_version"] = __version__
    return metrics


def mark_nonfinite_members(hist: History, params: list) -> None:
    """A member whose final parameters are not finite is diverged, whatever its last loss
    said (an update after the last loss can overflow): `nn.params.finite_members` decides."""
    if hist.diverged is None:
        return
    bad = ~finite_members(params) & ~np.asarray(hist.diverged, dtype=bool)
    if bad.any():
        hist.diverged = np.asarray(hist.diverged, dtype=bool) | bad
        last = hist.epochs - 1
        epoch = hist.diverged_epoch if hist.diverged_epoch is not None else np.full(bad.shape, -1)
        hist.diverged_epoch = np.where(bad, last, epoch)


def measure(run: Run) -> dict:
    """metrics.json of a Run read back from its trained state (`rundir.load_trained`):
    what training alone knew (timing, the learning-rate search) is left out, and the file
    says ``rebuilt``."""
    spec, started = run.spec, time.perf_counter()
    engine = make_engine(spec.train)
    setup = probes.setup_probes(run.dataset, spec.probes, spec.data) if spec.probes.include else None
    points = probes.resolve_points(spec.probes.points, run.dataset)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # diverged members
        metrics = compute_metrics(run, engine, points, setup)
    metrics["engine"] = {"name": engine.name, "dtype": str(spec.train.dtype), "device": engine.device}
    metrics["actscope_version"] = __version__
    metrics["elapsed_s"] = round(time.perf_counter() - started, 3)  # the rebuild's own time
    metrics["rebuilt"] = True
    return metrics


def run_experiment(spec: ExperimentSpec | str | Path, progress=None,
                   while_training: Callable[[], None] | None = None,
                   on_trained: Callable[[Run], None] | None = None) -> Run:
    """Train every arm of ``spec`` and measure it; returns the Run (not yet saved).

    ``progress`` is an optional object with ``start(arm, epochs)`` and ``advance(arm, loss)``.
    Arms train side by side in forked processes where the engine allows it
    (`parallel.arm_workers`); the results are the same either way. ``while_training()``
    runs once in this process while they do (before training, when they train here).
    On KeyboardInterrupt after at least one arm finished, the finished arms are kept and
    the Run is marked ``interrupted``; with none finished the interrupt propagates.
    ``on_trained(run)`` runs once the arms are in, before they are measured (the pipeline
    saves the trained state there, before anything that can fail).
    """
    if not isinstance(spec, ExperimentSpec):
        spec = load_spec(spec)
    trainer = prepare_arms(spec)
    workers = arm_workers(len(spec.arms), trainer.engine)
    started = time.perf_counter()
    outcomes, interrupted = train_arms(trainer, workers, progress, while_training)
    run = Run(spec=spec, dataset=trainer.data, arms={}, interrupted=interrupted)
    for arm in spec.arms:  # in the spec's order, whichever finished first
        if arm.name in outcomes:
            out = outcomes[arm.name]
            mark_nonfinite_members(out.history, out.params)
            run.arms[arm.name] = ArmResult(arm.name, trainer.models[arm.name], list(trainer.seeds),
                                           out.params, out.history)
    if on_trained is not None:
        on_trained(run)
    run.metrics = _metrics(run, trainer, outcomes, workers, started)
    return run
