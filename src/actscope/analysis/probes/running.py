"""Running the probes a ProbesSpec names: setup once per run, measure per ensemble, record
into the history, attach to the members of metrics.json.

``measure`` returns flat metrics keyed "split/probe.quantity.L<i>", which is how they land
in history.csv (split, metric) and in metrics.json.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from actscope.analysis.probes.geometry import (
    context_correlations,
    decision_distance,
    linear_regions,
    linearised_distance,
    regions_defined,
)
from actscope.analysis.probes.representation import participation_ratio, probe_accuracy
from actscope.analysis.probes.signal import gradient_norms, signal_stats
from actscope.config import PROBE_NAMES, PointSpec, ProbesSpec
from actscope.data.boundaries import grid_distance, grid_over, true_score
from actscope.data.generators import Dataset
from actscope.errors import InputError
from actscope.nn.model import MLPSpec, Params
from actscope.nn.params import as_numpy

TRUE_GRID = 100  # grid side for the true boundary (a smooth curve; 200 changes distances < 0.003)


def resolve_point(point: PointSpec, data: Dataset) -> np.ndarray:
    """The input vector a PointSpec names: given, or the point of its class (in its split)
    farthest from ``farthest_from``, as the first reference article picks its far points."""
    if point.x is not None:
        return np.asarray(point.x, dtype=np.float64)
    X, y = data.split(point.split)
    if point.label is not None:
        X = X[y == point.label]
    ref = np.asarray(point.farthest_from, dtype=np.float64)
    return X[np.argmax(np.linalg.norm(X - ref, axis=1))]


def resolve_points(points: list[PointSpec], data: Dataset) -> dict[str, np.ndarray]:
    return {p.name: resolve_point(p, data) for p in points}


@dataclass
class ProbeSetup:
    """What every probe of a run shares: the points, the grid, the true boundary."""

    split: str
    X: np.ndarray
    y: np.ndarray
    X_fit: np.ndarray
    y_fit: np.ndarray
    include: tuple[str, ...] = PROBE_NAMES
    threshold: float = 0.01
    X_dead: np.ndarray | None = None  # every training point: dead units are judged there
    xx: np.ndarray | None = None
    yy: np.ndarray | None = None
    true_dist: np.ndarray | None = None
    seconds: float = 0.0  # time spent in the probes so far
    _baseline: dict[str, np.ndarray | float] | None = None

    @property
    def baseline(self) -> dict[str, np.ndarray | float]:
        """The representation probes of the raw inputs (layer 0), computed on first use (after
        training): their logistic probe loads SciPy's optimiser, which training does not need."""
        if self._baseline is None:
            t0 = time.perf_counter()
            with threadpool_limits(1):
                self._baseline = {} if "representation" not in self.include else {
                    "repr.pr.L0": participation_ratio(self.X),
                    "repr.probe_acc.L0": probe_accuracy(self.X_fit, self.y_fit, self.X, self.y)}
            self.seconds += time.perf_counter() - t0
        return self._baseline


def _cap(X: np.ndarray, y: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    if len(X) <= n:
        return X, y
    idx = np.sort(np.random.default_rng(0).choice(len(X), n, replace=False))
    return X[idx], y[idx]


def setup_probes(data: Dataset, spec: ProbesSpec | None = None, data_spec=None) -> ProbeSetup:
    """Prepare the probes of ``spec`` on ``data`` (and the true boundary of ``data_spec``).

    At most ``spec.max_points`` points of the probe split (and of the training split, for
    the logistic probes and gradients) are used: a fixed subsample when there are more.
    """
    t0 = time.perf_counter()
    with threadpool_limits(1):
        setup = _setup(data, spec, data_spec)
    setup.seconds = time.perf_counter() - t0
    return setup


def _setup(data: Dataset, spec: ProbesSpec | None, data_spec) -> ProbeSetup:
    spec = spec or ProbesSpec()
    if spec.split not in data.splits:
        raise InputError(f"probes.split = {spec.split!r}: this dataset has the splits "
                         f"{', '.join(data.splits)}")
    X, y = _cap(*data.split(spec.split), spec.max_points)
    Xf, yf = _cap(data.X_train, data.y_train, spec.max_points)
    setup = ProbeSetup(split=spec.split, X=X, y=y, X_fit=Xf, y_fit=yf,
                       include=tuple(spec.include), threshold=spec.saturation, X_dead=data.X_train)
    if data.is_2d and {"context", "regions"} & set(spec.include):
        X_all = np.vstack([data.split(s)[0] for s in data.splits])
        setup.xx, setup.yy = grid_over(X_all, spec.grid)
    if "context" in spec.include and spec.true_boundary and setup.xx is not None:
        score = true_score(data_spec, data)
        if score is not None:  # a smooth boundary: a coarser grid reads it as well
            xx, yy = grid_over(X_all, min(spec.grid, TRUE_GRID))
            S = score(np.c_[xx.ravel(), yy.ravel()]).reshape(xx.shape)
            setup.true_dist = grid_distance(xx, yy, S, X)
    if "representation" in spec.include and (spec.epochs or spec.every):
        _ = setup.baseline  # probes while training: the optimiser loads once, before the arms fork
    return setup


def measure(engine, spec: MLPSpec, params: Params, setup: ProbeSetup) -> dict[str, np.ndarray]:
    """Run the probes of ``setup`` on an ensemble: ``{"split/metric": (K,) array}``.

    Layers are numbered from 1 (the first hidden layer); gradient norms go to L + 1, the
    output layer. Pure: it reads ``params`` and the data, it never trains. BLAS runs on one
    thread meanwhile: its arrays are small, and threads only contend (8x slower fits).
    """
    with threadpool_limits(1):
        return _measure(engine, spec, params, setup)


def _measure(engine, spec: MLPSpec, params: Params, setup: ProbeSetup) -> dict[str, np.ndarray]:
    inc, s, out = setup.include, setup.split, {}
    L = spec.depth
    if "signal" in inc:
        stats = signal_stats(engine, spec, params, setup.X, setup.threshold, dead_on=setup.X_dead)
        for q, arr in stats.items():
            split = "train" if q == "dead" else s  # dead: on the training split, where gradients flow
            for i in range(L):
                out[f"{split}/signal.{q}.L{i + 1}"] = arr[:, i]
    if "gradients" in inc:
        g = gradient_norms(engine, spec, params, setup.X_fit, setup.y_fit)
        for i in range(L + 1):
            out[f"train/grad_norm.L{i + 1}"] = g[:, i]
    if "context" in inc:
        if setup.xx is not None and setup.yy is not None:  # set together
            dist = decision_distance(engine, spec, params, setup.X, setup.xx, setup.yy)
        else:
            dist = linearised_distance(engine, spec, params, setup.X)
        for suffix, d in (("", dist), ("_true", setup.true_dist)):
            if d is None:
                continue
            c = context_correlations(engine, spec, params, setup.X, d)
            for i in range(L):
                out[f"{s}/context.rho_norm{suffix}.L{i + 1}"] = c["rho_norm"][:, i]
            out[f"{s}/context.rho_logit{suffix}"] = c["rho_logit"]
    if "representation" in inc:
        ev = engine.forward(spec, params, setup.X, record=True)
        fit = engine.forward(spec, params, setup.X_fit, record=True)
        for i in range(L):
            H = as_numpy(ev.a[i])
            out[f"{s}/repr.pr.L{i + 1}"] = np.asarray(participation_ratio(H), dtype=np.float64)
            out[f"{s}/repr.probe_acc.L{i + 1}"] = np.asarray(
                probe_accuracy(as_numpy(fit.a[i]), setup.y_fit, H, setup.y))
    if "regions" in inc and setup.xx is not None and setup.yy is not None and regions_defined(spec):
        out["grid/regions.count"] = linear_regions(engine, spec, params, setup.xx, setup.yy)
    return out


_QUANTITY = {
    "signal.z_abs_mean": "mean |z|", "signal.z_abs_std": "std |z|", "signal.a_abs_mean": "mean |a|",
    "signal.a_abs_std": "std |a|", "signal.saturated": "saturated fraction",
    "signal.dead": "dead units (train split)", "grad_norm": "gradient norm",
    "batch_grad_norm": "minibatch gradient norm",
    "context.rho_norm": "ρ(distance to boundary, ‖h‖)",
    "context.rho_norm_true": "ρ(distance to true boundary, ‖h‖)",
    "context.rho_logit": "ρ(distance to boundary, |logit|)",
    "context.rho_logit_true": "ρ(distance to true boundary, |logit|)",
    "repr.pr": "participation ratio", "repr.probe_acc": "linear probe accuracy",
    "regions.count": "linear regions", "test_accuracy": "test accuracy", "test_loss": "test loss",
    "final_train_loss": "final train loss", "val_accuracy": "validation accuracy",
}


def label(key: str) -> str:
    """A readable name for a metric key: 'repr.pr.L2' -> 'participation ratio, layer 2'."""
    key = key.split("/", 1)[-1]
    base, _, layer = key.rpartition(".L")
    if base and layer.isdigit():
        name = _QUANTITY.get(base, base)
        return f"{name}, layer {layer}" if int(layer) > 0 else f"{name}, input"
    return _QUANTITY.get(key, key.replace("_", " "))


def wants_batch_gradients(spec: ProbesSpec, engine) -> bool:
    """Whether training records minibatch gradient norms: ``batch_gradients = "on"``, or
    "auto" unless the engine fuses whole epochs (``capabilities.fused_epochs``: recording
    them would undo that)."""
    if "gradients" not in spec.include or spec.batch_gradients == "off":
        return False
    return spec.batch_gradients == "on" or not engine.capabilities.fused_epochs


def final_probes(engine, spec: MLPSpec, params: Params, hist, setup: ProbeSetup) -> dict[str, np.ndarray]:
    """The probes on the final parameters, recorded into ``hist`` at its last epoch, with
    the last epoch's minibatch gradient norms: ``{metric: (K,)}`` (metric without split)."""
    t0 = time.perf_counter()
    vals = measure(engine, spec, params, setup)
    last = hist.epochs - 1
    for key, v in vals.items():
        hist.record(key, last, v)
    out = {key.split("/", 1)[1]: v for key, v in vals.items()}
    for key in hist.keys():
        if key.startswith("train/batch_grad_norm."):
            out[key.split("/", 1)[1]] = hist.last(key)
    setup.seconds += time.perf_counter() - t0
    return out


def record_probes(engine, spec: MLPSpec, hist, epoch: int, setup: ProbeSetup) -> None:
    """Run the probes on ``hist.params`` (the parameters after ``epoch``) into ``hist``."""
    t0 = time.perf_counter()
    for key, v in measure(engine, spec, hist.params, setup).items():
        hist.record(key, epoch, v)
    setup.seconds += time.perf_counter() - t0


def attach_to_members(members: list[dict], values: dict[str, np.ndarray]) -> None:
    """Put each member's probe values into its metrics.json entry (``"probes"``): None
    for a diverged member or a value that is not finite."""
    for k, m in enumerate(members):
        m["probes"] = {key: (None if m.get("diverged") or not np.isfinite(v[k]) else float(v[k]))
                       for key, v in values.items()}
