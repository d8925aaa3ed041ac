"""The run directory: claimed when a run starts, written stage by stage, checked when read.

``RunWriter`` claims the folder before any data loads (created, or an empty one taken, and
locked: `actscope._util.runlock`), then writes what is done as soon as it is done, each file
atomically: config.toml and status.json (``running``) at the claim; params.npz and the
history as soon as the arms are trained; metrics.json; the report, drawn in a hidden
``.tmp`` folder beside the run and moved in whole; status ``complete`` last. An error after
training keeps the run, marked ``failed`` with its error and traceback. The files and their
checks: `actscope.experiment.runfiles`.
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

import numpy as np

from actscope._util.atomic import atomic_path, atomic_write
from actscope._util.runlock import claim_folder, holder, try_lock
from actscope.config import ExperimentSpec, register_custom_activations
from actscope.data.generators import Dataset, load_dataset
from actscope.errors import InputError, RunDirError, RunFailedError, shorten
from actscope.experiment import notebook
from actscope.experiment import runfiles as rf
from actscope.experiment.history_io import LEGACY_CSV, read_csv_history, read_history, write_history
from actscope.nn.model import Layer, MLPSpec, Params
from actscope.training.loop import History

to_json, write_json = rf.to_json, rf.write_json  # for the sweep and outside tools

__all__ = ["ArmResult", "Run", "RunWriter", "check_run_dir", "default_run_dir", "list_runs", "load_run",
           "load_trained", "open_run", "save_run", "staged", "to_json", "write_json"]


@dataclass
class ArmResult:
    """One trained arm: its architecture, seeds, final parameters (NumPy) and history."""

    name: str
    mlp: MLPSpec
    seeds: list[int]
    params: Params
    history: History

    def member(self, k: int = 0) -> Params:
        """The parameters of member ``k`` as a one-member ensemble."""
        return [type(layer)(layer.W[k:k + 1], layer.b[k:k + 1]) for layer in self.params]

    def finite_members(self) -> list[int]:
        """The members that did not diverge (all of them when that is not recorded)."""
        div = self.history.diverged
        if div is None:
            return list(range(len(self.seeds)))
        return [int(k) for k in np.where(~np.asarray(div, dtype=bool))[0]]

    def first_finite(self) -> int:
        """The first member that did not diverge (0 when every one did)."""
        ok = self.finite_members()
        return ok[0] if ok else 0


@dataclass
class Run:
    """An experiment's results in memory, and where they were saved (if they were)."""

    spec: ExperimentSpec
    dataset: Dataset
    arms: dict[str, ArmResult]
    metrics: dict = field(default_factory=dict)
    path: Path | None = None
    interrupted: bool = False

    @property
    def name(self) -> str:
        return self.spec.name

    # notebooks (`experiment.notebook`): a one-line repr, an HTML view, pandas DataFrames
    __repr__ = notebook.run_repr
    _repr_html_ = notebook.run_html
    members_frame = notebook.members_frame
    history_frame = notebook.history_frame


def default_run_dir(name: str, root: str | Path = "runs") -> Path:
    """``root/<name>-<YYYYmmdd-HHMMSS>``, with ``-1``, ``-2``... when that exists."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{name}-{stamp}"
    path, i = base, 1
    while path.exists():
        path = base.with_name(f"{base.name}-{i}")
        i += 1
    return path


def _write_history(path: Path, run: Run) -> None:
    """history.npz: columnar, summaries always, per-member rows while small (`history_io`)."""
    write_history(path, run.arms.values())


class RunWriter:
    """A run directory claimed for one run and written stage by stage (see the module).

    Use as a context manager. An exception before `save_trained` removes everything the
    claim wrote (and the folder, when the claim created it) and propagates; after it, the
    run is kept and marked ``failed`` in status.json with the error (KeyboardInterrupt for
    Ctrl-C) and its traceback, and an Exception becomes a `RunFailedError` saying where it is.
    """

    def __init__(self, path: str | Path, spec: ExperimentSpec, label: str = "--out") -> None:
        self._claim = claim_folder(path, label, reclaim=_killed_before_training)
        self.path = self._claim.folder
        self.trained = False
        try:
            atomic_write(self.path / rf.CONFIG, spec.to_toml())
            rf.write_status(self.path, "running", started=rf.now(), stage="training")
            rf.record_digests(self.path, rf.CONFIG)
        except BaseException:
            self._undo()
            raise

    def _undo(self) -> None:
        for p in self.path.iterdir():
            if p.name != ".lock":
                shutil.rmtree(p) if p.is_dir() else p.unlink()
        self._claim.undo()

    def save_trained(self, run: Run) -> None:
        """params.npz and the history: the trained state, on disk before anything that can fail."""
        run.path = self.path
        rf.write_params(self.path, run.arms.values())
        with atomic_path(self.path / rf.HISTORY) as tmp:
            _write_history(tmp, run)
        self.trained = True
        rf.write_status(self.path, "running", stage="measuring")
        rf.record_digests(self.path, rf.PARAMS, rf.HISTORY)

    def save_metrics(self, run: Run) -> None:
        """metrics.json (non-finite numbers null and flagged: `runfiles.flag_nonfinite`)."""
        run.metrics = rf.flag_nonfinite(run.metrics)
        rf.write_json(self.path / rf.METRICS, run.metrics)
        rf.write_status(self.path, "running", stage="report")
        rf.record_digests(self.path, rf.METRICS)

    def staging(self):
        """`staged` for this run: a folder to draw the report in, moved in whole."""
        return staged(self.path)

    def finish(self, run: Run) -> None:
        """status.json ``complete`` (``interrupted`` when Ctrl-C stopped part of it); unlock."""
        state = "interrupted" if run.interrupted else "complete"
        rf.write_status(self.path, state, finished=rf.now(), stage="done")
        self._claim.release()

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, kind, err, trace) -> Literal[False]:
        if kind is None or not self._claim.lock.held:
            self._claim.release()
            return False
        if not self.trained:
            self._undo()
            return False
        try:  # Ctrl-C too: what was not measured yet is rebuilt by `actscope report`
            rf.write_status(self.path, "failed", finished=rf.now(), **rf.failure(err))
        finally:
            self._claim.release()
        if issubclass(kind, Exception) and not isinstance(err, RunFailedError):
            what = f"{kind.__name__}: {err}" if str(err) else kind.__name__
            raise RunFailedError(
                f"{self.path}: the run failed after training ({shorten(what, 200)}); its trained "
                f"state is kept there, marked failed (status.json holds the traceback); "
                f"`actscope report {self.path}` rebuilds what can be rebuilt") from err
        return False


def _killed_before_training(folder: Path) -> bool:
    """Whether ``folder`` (locked by this process) holds only the claim of a run whose process
    died before its arms were trained: config.toml, status.json ``running`` and half-written
    temporary files. Nothing there is worth keeping, so a new run may take the folder."""
    names = {p.name for p in folder.iterdir() if not p.name.endswith(".tmp")} - {".lock"}
    status = rf.read_status(folder, strict=False)
    return names <= {rf.CONFIG, rf.STATUS} and status is not None and status["state"] == "running" \
        and status.get("pid") != os.getpid()


@contextmanager
def staged(run_dir: Path) -> Iterator[Path]:
    """A hidden ``.tmp`` folder beside ``run_dir``, locked by this process, to draw into;
    what it holds is moved into ``run_dir`` when the block ends without error (a folder
    there, such as figures/, replaced whole); it is removed in every case. One killed
    meanwhile is removed by the next run in that folder (`runlock.remove_stale`)."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{run_dir.name}.report-", suffix=".tmp", dir=run_dir.parent))
    lock = try_lock(tmp)
    assert lock is not None  # a folder this process just made
    try:
        yield tmp
        lock.release()
        for p in list(tmp.iterdir()):  # a folder already there (figures/) is replaced whole
            dest = run_dir / p.name
            if dest.is_dir():
                os.replace(dest, tmp / f".old-{p.name}")
            os.replace(p, dest)
    finally:
        if lock is not None:
            lock.release()
        shutil.rmtree(tmp, ignore_errors=True)


def open_run(out: str | Path | None, spec: ExperimentSpec) -> RunWriter:
    """A RunWriter on ``out``, or on a fresh ``runs/<name>-<stamp>`` (the next free one when
    another run took that name meanwhile)."""
    if out is not None:
        return RunWriter(out, spec)
    for _ in range(100):
        path = default_run_dir(spec.name)
        try:
            return RunWriter(path, spec, label="run directory")
        except InputError:
            if not path.is_dir():  # not a race for the name: a real problem (runs/ unwritable)
                raise
    raise InputError(f"run directory = {str(path)!r}: no free name after 100 tries")


def save_run(
    run: Run,
    out: str | Path | None = None,
    extra: Callable[[Run, Path], None] | None = None,
) -> Path:
    """Write a trained and measured ``run`` to ``out`` (default ``runs/<name>-<stamp>``).

    ``extra(run, folder)`` may add files (figures, report): they are drawn in a hidden folder
    and moved in whole. An error in ``extra`` keeps the run, marked failed (`RunWriter`).
    """
    with open_run(out, run.spec) as writer:
        writer.save_trained(run)
        writer.save_metrics(run)
        if extra is not None:
            with writer.staging() as tmp:
                extra(run, tmp)
        writer.finish(run)
    return writer.path


def _read_history(path: Path, arm: str, seeds: list[int], epochs: int) -> History:
    """Arm ``arm``'s History from history.npz, or from the history.csv of an older run."""
    if path.suffix == ".csv":
        return read_csv_history(path, arm, seeds, epochs)
    return read_history(path, arm, seeds)


def _arm_params(arrays: dict[str, np.ndarray], folder: Path, name: str, n_layers: int) -> Params:
    keys = [(f"{name}/W{i}", f"{name}/b{i}") for i in range(1, n_layers + 1)]
    for key in (k for pair in keys for k in pair):
        if key not in arrays:
            raise RunDirError(f"{folder / rf.PARAMS}: corrupt (no array {key!r} for arm {name!r})")
    return [Layer(arrays[w], arrays[b]) for w, b in keys]


def _mlp(folder: Path, name: str, params: Params, activation, n_classes: int, init: str) -> MLPSpec:
    """The architecture of arm ``name`` read from its parameters' shapes, checked."""
    try:
        mlp = MLPSpec(n_inputs=params[0].W.shape[1], hidden=[W.shape[2] for W, _ in params[:-1]],
                      activation=activation, n_classes=n_classes, init=init)
        K = params[0].W.shape[0]
        shapes_ok = all(W.shape == (K, a, b) and B.shape == (K, b)
                        for (W, B), a, b in zip(params, mlp.sizes[:-1], mlp.sizes[1:]))
    except (ValueError, TypeError, IndexError) as err:
        raise RunDirError(f"{folder / rf.PARAMS}: corrupt (arm {name!r}: {shorten(str(err))})") from None
    if not shapes_ok:
        raise RunDirError(f"{folder / rf.PARAMS}: corrupt (arm {name!r}: the layers' shapes do not chain)")
    return mlp


def _history(folder: Path, name: str, seeds: list[int], epochs: int) -> History:
    p = folder / rf.HISTORY
    if not p.is_file() and (folder / LEGACY_CSV).is_file():  # a run written before history.npz
        p = folder / LEGACY_CSV
    if not p.is_file():
        raise RunDirError(f"{p}: missing; the run's training history is gone, so it cannot be read")
    rf.verify(folder, p.name)
    try:
        return _read_history(p, name, seeds, epochs)
    except (KeyError, ValueError, IndexError, TypeError, AttributeError, EOFError, OSError, csv.Error,
            zipfile.BadZipFile) as err:  # a damaged file fails in each of these ways
        raise RunDirError(f"{p}: corrupt ({type(err).__name__}: {shorten(str(err))})") from None


def check_run_dir(folder: Path) -> None:
    """A RunDirError unless ``folder`` is a run directory that no other live process writes."""
    if not folder.is_dir():
        raise RunDirError(f"{folder}: not a run directory (no such folder)")
    if not any((folder / n).exists() for n in (rf.CONFIG, rf.METRICS, rf.PARAMS, rf.STATUS)):
        raise RunDirError(f"{folder}: not a run directory (no config.toml, metrics.json or params.npz)")
    pid = holder(folder)
    if rf.run_state(folder) == "running" and pid != os.getpid():
        raise RunDirError(f"{folder}: a run (pid {pid}) is still writing it")


def load_run(path: str | Path) -> Run:
    """Read a run directory back into a Run (the dataset is regenerated from the spec and
    its formula activations are registered, so that its arms resolve them by name).

    Raises
    ------
    RunDirError
        One line naming the file that is missing or corrupt (config.toml, metrics.json,
        params.npz, the history) or a run still being written.
    """
    path = Path(path)
    check_run_dir(path)
    spec = rf.read_config(path)
    register_custom_activations(spec.activations)
    metrics = rf.read_metrics(path)
    _check_config(path, spec, metrics)
    arrays = rf.read_params(path)
    arms: dict[str, ArmResult] = {}
    epochs = metrics.get("epochs", spec.train.epochs)
    for name, am in metrics["arms"].items():
        params = _arm_params(arrays, path, name, len(am["activation"]) + 1)
        seeds = [m["seed"] for m in am["members"]]
        mlp = _mlp(path, name, params, am["activation"], am.get("n_classes", 2), am.get("init", "auto"))
        if params[0].W.shape[0] != len(seeds):
            raise RunDirError(f"{path / rf.PARAMS}: corrupt (arm {name!r} has {params[0].W.shape[0]} "
                              f"members, metrics.json {len(seeds)})")
        hist = _history(path, name, seeds, epochs if isinstance(epochs, int) else spec.train.epochs)
        hist.diverged = np.array([m["diverged"] for m in am["members"]])
        arms[name] = ArmResult(name, mlp, seeds, params, hist)
    dataset = load_dataset(spec.data)
    return Run(spec=spec, dataset=dataset, arms=arms, metrics=metrics, path=path,
               interrupted=bool(metrics.get("interrupted", False)))


def _check_config(path: Path, spec: ExperimentSpec, metrics: dict) -> None:
    """A RunDirError naming config.toml where it does not describe the run metrics.json
    measured (its arms, seeds and epochs): a damaged file can still be a valid spec."""
    names = {arm.name for arm in spec.arms}
    seeds = spec.seeds.as_list()
    bad = [name for name, am in metrics.get("arms", {}).items()
           if name not in names or [m.get("seed") for m in am.get("members", [])] != seeds]
    if bad or metrics.get("epochs", spec.train.epochs) != spec.train.epochs:
        what = f"arm {bad[0]!r}" if bad else "the epochs"
        raise RunDirError(f"{path / rf.CONFIG}: corrupt (it does not describe {what} of metrics.json)")


def load_trained(path: str | Path) -> Run:
    """The trained state of a run directory without its metrics (config.toml, params.npz and
    the history): what rebuilds metrics.json. Arms absent from params.npz (an interrupted
    run) are left out; a member is diverged where its running loss ends non-finite."""
    path = Path(path)
    check_run_dir(path)
    spec = rf.read_config(path)
    register_custom_activations(spec.activations)
    arrays = rf.read_params(path)
    seeds, arms = spec.seeds.as_list(), {}
    for arm in spec.arms:
        if f"{arm.name}/W1" not in arrays:
            continue
        n_layers = 1 + sum(1 for k in arrays if k.startswith(f"{arm.name}/W"))
        params = _arm_params(arrays, path, arm.name, n_layers - 1)
        mlp = _mlp(path, arm.name, params, arm.activation, spec_classes(params), arm.init or spec.model.init)
        hist = _history(path, arm.name, seeds, spec.train.epochs)
        if "train/running_loss" not in hist or hist.diverged is None:  # the reader sets diverged
            raise RunDirError(f"{path / rf.HISTORY}: corrupt (no train/running_loss of arm {arm.name!r})")
        arms[arm.name] = ArmResult(arm.name, mlp, list(seeds), params, hist)
    if not arms:
        raise RunDirError(f"{path / rf.PARAMS}: corrupt (no arm of config.toml in it)")
    return Run(spec=spec, dataset=load_dataset(spec.data), arms=arms, path=path,
               interrupted=len(arms) < len(spec.arms))


def spec_classes(params: Params) -> int:
    """The number of classes an output layer of this width stands for (one logit: two)."""
    width = params[-1].W.shape[2]
    return 2 if width == 1 else width


def list_runs(root: str | Path = "runs", failed: bool = False) -> list[Path]:
    """Run directories under ``root`` that can be read (complete or interrupted; with
    ``failed``, failed and abandoned ones too), oldest first. Hidden folders (the ``.tmp``
    folders of runs being written, or killed) are never listed."""
    root = Path(root)
    if not root.is_dir():
        return []
    states = rf.READABLE + (("failed", "abandoned") if failed else ())
    runs = [p for p in root.iterdir()
            if not p.name.startswith(".") and p.is_dir() and rf.run_state(p) in states]
    return sorted(runs, key=lambda p: p.stat().st_mtime)
