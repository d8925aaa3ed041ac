"""Signal and gradient probes: how large the values are at every stage of the network,
how many units saturate or die, and how large each layer's gradient is."""

from __future__ import annotations

import numpy as np

from actscope.activations import Activation, get_activation
from actscope.nn.model import MLPSpec, Params
from actscope.nn.params import as_numpy, layer_grad_norms

_MAX_DERIVATIVE: dict[str, float] = {}


def hidden_std(engine, spec: MLPSpec, params: Params, X: np.ndarray) -> np.ndarray:
    """Std of each hidden layer's post-activations over all points and units: (K, L)."""
    out = engine.forward(spec, params, X, record=True)
    return np.stack([as_numpy(a).reshape(as_numpy(a).shape[0], -1).std(axis=1) for a in out.a], axis=1)


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
        stages += [np.abs(as_numpy(z)).mean(axis=-1), np.abs(as_numpy(a)).mean(axis=-1)]
    stages.append(np.abs(as_numpy(out.logits)).mean(axis=-1))
    return np.stack(stages, axis=-1)


def max_derivative(act: str | Activation) -> float:
    """The largest |f'(z)| of an activation (numerically, over z in [-20, 20]; cached)."""
    act = get_activation(act)
    if act.name not in _MAX_DERIVATIVE:
        z = np.linspace(-20.0, 20.0, 8001)
        with np.errstate(all="ignore"):
            g = np.abs(np.asarray(act.grad(z), dtype=np.float64))
        g = g[np.isfinite(g)]
        _MAX_DERIVATIVE[act.name] = float(g.max()) if g.size and g.max() > 0 else 1.0
    return _MAX_DERIVATIVE[act.name]


def _low_derivative(act: Activation, z: np.ndarray, threshold: float) -> np.ndarray:
    """Where |f'(z)| is below ``threshold`` x its maximum (a unit that passes no gradient)."""
    with np.errstate(all="ignore"):
        return np.abs(np.asarray(act.grad(z), dtype=np.float64)) < threshold * max_derivative(act)


def dead_units(engine, spec: MLPSpec, params: Params, X: np.ndarray,
               threshold: float = 0.01) -> list[np.ndarray]:
    """Per hidden layer, (K, width) booleans: the units whose derivative is below
    ``threshold`` x its maximum on every point of ``X``, so that no gradient reaches their
    incoming weights from these points. Judge them on the training split: that is where
    gradients flow (a unit silent on a few test points may still be learning). Layers that
    are not piecewise linear are all False (their units saturate, they do not die)."""
    out = engine.forward(spec, params, X, record=True)
    res = []
    for z, act in zip(out.z, spec.activations):
        z = as_numpy(z)
        if act.family != "piecewise-linear":
            res.append(np.zeros((z.shape[0], z.shape[-1]), dtype=bool))
            continue
        res.append(np.asarray(_low_derivative(act, z, threshold).all(axis=1)))
    return res


def signal_stats(engine, spec: MLPSpec, params: Params, X: np.ndarray,
                 threshold: float = 0.01, dead_on: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Signal propagation over the points ``X``; every entry is (K, L).

    ``z_abs_mean``, ``z_abs_std``, ``a_abs_mean``, ``a_abs_std``: mean and std of |z| and
    |a| over points and units. ``saturated`` (when a layer's family is saturating): the
    fraction of (point, unit) pairs whose derivative is below ``threshold`` x its maximum.
    ``dead`` (piecewise-linear): the fraction of units below that on every point of
    ``dead_on`` (the training split, where gradients flow; ``X`` when not given, see
    `dead_units`). Layers of another family get NaN; a key no layer has is left out.
    """
    out = engine.forward(spec, params, X, record=True)
    dead = dead_units(engine, spec, params, X if dead_on is None else dead_on, threshold)
    res: dict[str, list] = {k: [] for k in ("z_abs_mean", "z_abs_std", "a_abs_mean", "a_abs_std",
                                            "saturated", "dead")}
    for z, a, act, d in zip(out.z, out.a, spec.activations, dead):
        z, a = as_numpy(z), as_numpy(a)
        K = z.shape[0]
        az, aa = np.abs(z).reshape(K, -1), np.abs(a).reshape(K, -1)
        res["z_abs_mean"].append(az.mean(1))
        res["z_abs_std"].append(az.std(1))
        res["a_abs_mean"].append(aa.mean(1))
        res["a_abs_std"].append(aa.std(1))
        nan = np.full(K, np.nan)
        saturating = act.family == "saturating"
        res["saturated"].append(_low_derivative(act, z, threshold).reshape(K, -1).mean(1)
                                if saturating else nan)
        res["dead"].append(d.mean(-1) if act.family == "piecewise-linear" else nan)
    families = {act.family for act in spec.activations}
    if "saturating" not in families:
        del res["saturated"]
    if "piecewise-linear" not in families:
        del res["dead"]
    return {k: np.stack(v, axis=1) for k, v in res.items()}


def gradient_norms(engine, spec: MLPSpec, params: Params, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-layer norm of the full-batch loss gradient on (X, y): (K, L + 1), output last."""
    yv = np.asarray(y).astype(np.float64) if spec.n_outputs == 1 else np.asarray(y)
    _, grads = engine.loss_and_grad(spec, params, engine.asarray(X), engine.asarray(yv))
    return layer_grad_norms(grads)
