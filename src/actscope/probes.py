"""Diagnostics: pure functions of parameters and data. They never train.

Every probe works on an ensemble and returns one value (or array) per member.
"""

from __future__ import annotations

import numpy as np

from .config import PointSpec
from .datasets import Dataset
from .model import MLPSpec, Params


def _np(x) -> np.ndarray:
    return np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x, dtype=np.float64)


def hidden_std(engine, spec: MLPSpec, params: Params, X: np.ndarray) -> np.ndarray:
    """Std of each hidden layer's post-activations over all points and units: (K, L)."""
    out = engine.forward(spec, params, X, record=True)
    return np.stack([_np(a).reshape(_np(a).shape[0], -1).std(axis=1) for a in out.a], axis=1)


def stage_names(spec: MLPSpec) -> list[str]:
    """The stages of a signal trace: z1, a1, ..., zL, aL, z_out."""
    names = []
    for i in range(spec.depth):
        names += [f"z{i + 1}", f"a{i + 1}"]
    return names + ["z_out"]


def signal_trace(engine, spec: MLPSpec, params: Params, x: np.ndarray) -> np.ndarray:
    """Mean |value| at every stage for each point of ``x``: (K, n_points, 2L + 1)."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    out = engine.forward(spec, params, x, record=True)
    stages = []
    for z, a in zip(out.z, out.a):
        stages += [np.abs(_np(z)).mean(axis=-1), np.abs(_np(a)).mean(axis=-1)]
    stages.append(np.abs(_np(out.logits)).mean(axis=-1))
    return np.stack(stages, axis=-1)


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


def input_grid(X: np.ndarray, step: float = 0.025, pad: float = 0.5, max_side: int = 400):
    """A regular grid over the 2-D extent of ``X`` (the article's: step 0.025, pad 0.5)."""
    lo, hi = X.min(axis=0) - pad, X.max(axis=0) + pad
    step = max(step, float((hi - lo).max()) / max_side)
    xs = np.arange(lo[0], hi[0], step)
    ys = np.arange(lo[1], hi[1], step)
    xx, yy = np.meshgrid(xs, ys)
    return xx, yy


def predict_grid(engine, spec: MLPSpec, params: Params, xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    """Predicted probability of class 1 (binary) or the argmax class over a grid: (K, ny, nx)."""
    grid = np.c_[xx.ravel(), yy.ravel()]
    prob = _np(engine.forward(spec, params, grid).prob)
    if prob.ndim == 3:
        prob = prob.argmax(axis=-1).astype(np.float64)
    return prob.reshape(prob.shape[0], *xx.shape)
