"""The trained weights of both arms as JSON, for learners to take away.

Per arm: its activation, each dense layer's shape, ``W`` (fan_in x fan_out) and ``b``, in
full float64 precision (Python's shortest round-trip form, so the file holds exactly the
server's numbers), and the standardisation the inputs pass first. The forward pass is
``a = act(a @ W + b)`` for the hidden layers and ``sigmoid(a @ W + b)`` at the output.
"""

from __future__ import annotations

import numpy as np

from actscope.serve.trainer import PairedTrainer

FORWARD = ("x_std = (x - scaler.mean) / scaler.scale; a = x_std; for each hidden layer: "
           "a = activation(a @ W + b); p(class 1) = sigmoid(a @ W_out + b_out)")


def _finite(x: np.ndarray) -> list:
    """Nested lists of ``x``, a non-finite number (a diverged arm) as None."""
    if np.isfinite(x).all():
        return x.tolist()
    # numpy's stubs refuse None here; np.where takes it (an object array)
    return np.where(np.isfinite(x), x, None).tolist()  # type: ignore[call-overload]


def arm_weights(tr: PairedTrainer, index: int) -> dict:
    """One arm's member 0: activation, per-layer shapes, W and b as nested lists."""
    arm = tr.arms[index]
    layers = []
    for W, b in tr.engine.to_numpy(arm.params):
        W0, b0 = np.asarray(W[0], dtype=np.float64), np.asarray(b[0], dtype=np.float64)
        layers.append({"shape": list(W0.shape), "W": _finite(W0), "b": _finite(b0)})
    return {"name": arm.name, "activation": arm.activation, "diverged": arm.diverged, "layers": layers}


def weights_document(tr: PairedTrainer) -> dict:
    """Both arms' current weights, the epoch, the seed and the input scaling (None: none)."""
    scaler = tr.data.scaler
    return {
        "format": "actscope-playground-weights/1",
        "epoch": tr.epoch,
        "seed": tr.seeds[0],
        "data": tr.data.name,
        "forward": FORWARD,
        "scaler": None if scaler is None else {"mean": scaler[0].tolist(), "scale": scaler[1].tolist()},
        "arms": [arm_weights(tr, i) for i in range(len(tr.arms))],
    }
