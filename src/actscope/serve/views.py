"""What the page draws, computed from a PairedTrainer with the project's probes.

A snapshot is plain JSON: grids travel as base64 bytes (0-255 over a stated range), curves
are thinned to a few hundred points, numbers are rounded. Nothing here trains.
"""

from __future__ import annotations

import base64
import hashlib

import numpy as np

from actscope.analysis import probes
from actscope.nn import init_variances
from actscope.serve.trainer import METRICS, ArmState, PairedTrainer

BOUNDARY_SIDE = 64
NEURON_SIDE = 20
MAX_CURVE_POINTS = 300


def _bytes(values: np.ndarray, lo: float, hi: float) -> str:
    """Values mapped to 0..255 over [lo, hi], as base64 (NaN becomes 0)."""
    span = hi - lo if hi > lo else 1.0
    v = np.nan_to_num((np.asarray(values, dtype=np.float64) - lo) / span, nan=0.0)
    return base64.b64encode(np.clip(np.round(v * 255), 0, 255).astype(np.uint8).tobytes()).decode()


def _r(x, nd: int = 4):
    """Round for JSON; non-finite numbers become None."""
    arr = np.round(np.asarray(x, dtype=np.float64), nd)
    finite = np.isfinite(arr)
    if finite.all():
        return arr.tolist()
    return np.where(finite, arr, None).tolist()  # type: ignore[call-overload]  # stubs refuse None


def _sig(x, digits: int = 4):
    """Round to ``digits`` significant digits for JSON (tiny gradient norms keep their size);
    non-finite numbers become None."""
    arr = np.asarray(x, dtype=np.float64)
    return [[float(f"{v:.{digits}g}") if np.isfinite(v) else None for v in row] for row in arr]


def _grid(X: np.ndarray, side: int):
    xx, yy = probes.input_grid(X, step=1e-9, pad=0.5, max_side=side)
    extent = [float(xx[0, 0]), float(xx[0, -1]), float(yy[0, 0]), float(yy[-1, 0])]
    return xx, yy, extent


def fingerprint(params) -> str:
    """A short hash of parameters: the page shows it so a reset visibly keeps the init."""
    h = hashlib.sha1()
    for W, b in params:
        h.update(np.ascontiguousarray(np.asarray(W, dtype=np.float64)).tobytes())
        h.update(np.ascontiguousarray(np.asarray(b, dtype=np.float64)).tobytes())
    return h.hexdigest()[:8]


def _thin(n: int) -> np.ndarray:
    if n <= MAX_CURVE_POINTS:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, MAX_CURVE_POINTS).round().astype(int))


def _projection(a: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """The points of one hidden layer in 2-D: the units themselves up to width 2, else the
    top two principal components (signs fixed so frames do not flip)."""
    n, w = a.shape
    if w == 1:
        return np.c_[a[:, 0], np.zeros(n)], ["unit 1", ""]
    if w == 2:
        return a, ["unit 1", "unit 2"]
    c = a - a.mean(axis=0)
    if not np.isfinite(c).all() or np.allclose(c, 0):
        return np.zeros((n, 2)), ["PC1", "PC2"]
    _, vecs = np.linalg.eigh(c.T @ c)  # (w, w): cheaper than an SVD of the points
    basis = vecs[:, ::-1][:, :2].copy()
    basis *= np.sign(basis[np.argmax(np.abs(basis), axis=0), [0, 1]])
    return c @ basis, ["PC1", "PC2"]


def arm_view(tr: PairedTrainer, arm: ArmState, layer: int, grids: dict) -> dict:
    """Boundary, curves, signal trace, hidden scatter and neuron heatmaps of one arm."""
    eng, mlp, params, data = tr.engine, arm.mlp, arm.params, tr.data
    xx, yy, extent = grids["boundary"]
    prob = probes.predict_grid(eng, mlp, params, xx, yy)[0]
    X_test = data.X_test
    with np.errstate(all="ignore"):
        trace = probes.signal_trace(eng, mlp, params, X_test)[0].mean(axis=0)
        std = probes.hidden_std(eng, mlp, params, X_test)[0]
        rec = eng.forward(mlp, params, X_test, record=True)
        a_test = np.asarray(rec.a[layer - 1])[0]
        proj, axes = _projection(a_test)
        nx, ny, _ = grids["neurons"]
        maps = probes.unit_heatmaps(eng, mlp, params, nx, ny)[layer - 1][0]  # (width, ny, nx)
        a_grid = maps.reshape(maps.shape[0], -1).T
        health = probes.signal_stats(eng, mlp, params, X_test, dead_on=data.X_train)
    finite = a_grid[np.isfinite(a_grid)]
    # colour range: the 1st to 99th percentile, so a few extreme corners do not wash it out
    lo, hi = (float(v) for v in np.percentile(finite, [1, 99])) if finite.size else (0.0, 1.0)
    h = arm.curves()
    keep = _thin(len(h["test_acc"]))
    last = {"running_loss": h["running_loss"][-1] if len(h["running_loss"]) else None}
    for split in ("train", "test"):  # the current weights, so epoch 0 has numbers too
        loss, acc = eng.loss_and_accuracy(mlp, params, *data.split(split))
        loss, acc = float(np.asarray(loss)[0]), float(np.asarray(acc)[0])
        last[f"{split}_loss"], last[f"{split}_acc"] = (np.nan, np.nan) if arm.diverged else (loss, acc)
    return {
        "name": arm.name, "activation": arm.activation, "diverged": arm.diverged,
        "init": fingerprint(arm.init), "weights": fingerprint(params),
        # the init scheme's sigma_w^2 per weight matrix: what scales the arms' shared raw draws
        "init_sigma_w2": [round(float(v), 3) for v, _ in init_variances(mlp)],
        "last": {k: None if v is None else _r(v) for k, v in last.items()},
        "curves": {"epoch": [int(i) + 1 for i in keep], **{k: _r(h[k][keep]) for k in METRICS}},
        # per layer (rows), its mean gradient norm over each epoch's minibatches (columns)
        "gradients": {"epoch": [int(i) + 1 for i in keep], "layers": _sig(arm.grad_norms()[keep].T)},
        "boundary": {"nx": xx.shape[1], "ny": xx.shape[0], "extent": _r(extent), "lo": 0.0, "hi": 1.0,
                     "data": _bytes(prob, 0.0, 1.0)},
        "signal": {"stages": probes.stage_names(mlp), "values": _r(trace),
                   "saturated": _r(health["saturated"][0]) if "saturated" in health else None,
                   "dead": _r(health["dead"][0]) if "dead" in health else None},
        "hidden_std": _r(std),
        "scatter": {"layer": layer, "axes": axes, "std": _r(std[layer - 1]),
                    "points": _r(proj, 3), "labels": data.y_test.tolist()},
        "neurons": {"layer": layer, "side": nx.shape[1], "rows": nx.shape[0], "lo": _r(lo), "hi": _r(hi),
                    "extent": _r(grids["neurons"][2]),
                    "maps": [_bytes(a_grid[:, j], lo, hi) for j in range(a_grid.shape[1])]},
    }


def make_grids(tr: PairedTrainer) -> dict:
    """The input grids and the data points: computed once per dataset."""
    d = tr.data
    X = np.vstack([d.X_train, d.X_test])
    return {"boundary": _grid(X, BOUNDARY_SIDE), "neurons": _grid(X, NEURON_SIDE),
            "data": {"name": d.name, "n_train": len(d.y_train), "n_test": len(d.y_test),
                     "train": {"x": _r(d.X_train, 3), "y": d.y_train.tolist()},
                     "test": {"x": _r(d.X_test, 3), "y": d.y_test.tolist()}}}


def snapshot(tr: PairedTrainer, layer: int, grids: dict) -> dict:
    """Everything the page shows for both arms at the current epoch."""
    with np.errstate(all="ignore"):  # a diverged arm is reported, not warned about
        return _snapshot(tr, layer, grids)


def _snapshot(tr: PairedTrainer, layer: int, grids: dict) -> dict:
    return {
        "epoch": tr.epoch,
        "data": grids["data"],
        "arms": [arm_view(tr, arm, layer, grids) for arm in tr.arms],
    }
