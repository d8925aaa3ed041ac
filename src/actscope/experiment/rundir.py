"""The run directory: save, load, list.

A run is written to a hidden temporary folder and renamed into place when complete
(`actscope._util.atomic.atomic_dir`), so an interrupted save never leaves a half-written
run behind.
"""

from __future__ import annotations

import csv
import json
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from actscope._util.atomic import atomic_dir
from actscope.config import ExperimentSpec, parse_spec, register_custom_activations
from actscope.data.generators import Dataset, load_dataset
from actscope.nn.model import Layer, MLPSpec, Params
from actscope.training.loop import History


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


def default_run_dir(name: str, root: str | Path = "runs") -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{name}-{stamp}"
    path, i = base, 1
    while path.exists():
        path = base.with_name(f"{base.name}-{i}")
        i += 1
    return path


def _write_history(path: Path, run: Run) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["arm", "seed", "epoch", "split", "metric", "value"])
        for arm in run.arms.values():
            for key, arr in arm.history.values.items():
                split, metric = key.split("/", 1)
                for epoch, k in zip(*np.nonzero(np.isfinite(arr))):
                    w.writerow([arm.name, arm.seeds[k], int(epoch) + 1, split, metric,
                                str(arr[epoch, k])])  # the shortest text that reads back exactly


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o))


def to_json(obj) -> str:
    """JSON text of metrics-like data (NumPy scalars and arrays allowed; NaN refused)."""
    return json.dumps(obj, indent=2, default=_json_default, allow_nan=False)


def write_json(path: Path, obj) -> None:
    path.write_text(to_json(obj))


def save_run(
    run: Run,
    out: str | Path | None = None,
    extra: Callable[[Run, Path], None] | None = None,
) -> Path:
    """Write ``run`` to ``out`` (default ``runs/<name>-<stamp>``) atomically.

    ``extra(run, tmpdir)`` may add files (figures, report) before the rename.
    """
    final = Path(out) if out is not None else default_run_dir(run.name)
    if final.exists() and any(final.iterdir()):
        raise FileExistsError(f"run directory {final} exists and is not empty")
    run.path = final
    try:
        with atomic_dir(final) as tmp:
            (tmp / "config.toml").write_text(run.spec.to_toml())
            write_json(tmp / "metrics.json", run.metrics)
            _write_history(tmp / "history.csv", run)
            arrays = {}
            for arm in run.arms.values():
                for i, (W, b) in enumerate(arm.params):
                    arrays[f"{arm.name}/W{i + 1}"] = np.asarray(W)
                    arrays[f"{arm.name}/b{i + 1}"] = np.asarray(b)
            np.savez(tmp / "params.npz", **arrays)
            if extra is not None:
                extra(run, tmp)
    except BaseException:
        run.path = None
        raise
    return final


def _read_history(path: Path, arm: str, seeds: list[int], epochs: int) -> History:
    hist = History(epochs=epochs, seeds=seeds)
    col = {s: i for i, s in enumerate(seeds)}
    with path.open() as fh:
        for row in csv.DictReader(fh):
            if row["arm"] != arm:
                continue
            key = f"{row['split']}/{row['metric']}"
            if key not in hist.values:
                hist.values[key] = np.full((epochs, len(seeds)), np.nan)
            hist.values[key][int(row["epoch"]) - 1, col[int(row["seed"])]] = float(row["value"])
    return hist


def load_run(path: str | Path) -> Run:
    """Read a run directory back into a Run (the dataset is regenerated from the spec and
    its formula activations are registered, so that its arms resolve them by name)."""
    path = Path(path)
    if not (path / "metrics.json").is_file():
        raise FileNotFoundError(f"{path} is not a run directory (no metrics.json)")
    spec = parse_spec(tomllib.loads((path / "config.toml").read_text()), source=str(path))
    register_custom_activations(spec.activations)
    metrics = json.loads((path / "metrics.json").read_text())
    dataset = load_dataset(spec.data)
    arms: dict[str, ArmResult] = {}
    with np.load(path / "params.npz", allow_pickle=False) as npz:
        for name, am in metrics["arms"].items():
            n_layers = len(am["activation"]) + 1
            params = [Layer(npz[f"{name}/W{i}"], npz[f"{name}/b{i}"]) for i in range(1, n_layers + 1)]
            seeds = [m["seed"] for m in am["members"]]
            mlp = MLPSpec(n_inputs=params[0].W.shape[1], hidden=[W.shape[2] for W, _ in params[:-1]],
                          activation=am["activation"], n_classes=am.get("n_classes", 2),
                          init=am.get("init", "auto"))
            hist = _read_history(path / "history.csv", name, seeds, metrics.get("epochs", spec.train.epochs))
            hist.diverged = np.array([m["diverged"] for m in am["members"]])
            arms[name] = ArmResult(name, mlp, seeds, params, hist)
    return Run(spec=spec, dataset=dataset, arms=arms, metrics=metrics, path=path,
               interrupted=bool(metrics.get("interrupted", False)))


def list_runs(root: str | Path = "runs") -> list[Path]:
    """Run directories under ``root``, oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted((p for p in root.iterdir() if (p / "metrics.json").is_file()),
                  key=lambda p: p.stat().st_mtime)
