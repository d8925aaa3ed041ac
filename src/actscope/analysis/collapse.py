"""The collapse of a network without activations into one affine map.

With affine hidden activations (the ``linear`` family: ``identity`` and the like) every
layer is affine, so the whole network is one affine map of its input:
``logits = x @ W_eff + b_eff``, whatever its depth and widths (the argument the second
reference article makes in words). Pure NumPy functions of parameters; they never train.
"""

from __future__ import annotations

import numpy as np

from actscope.activations import Activation
from actscope.nn.model import MLPSpec, Params

_PROBE = np.array([-3.0, -1.0, -0.25, 0.0, 0.5, 2.0, 7.0])


def affine_coefficients(act: Activation) -> tuple[float, float] | None:
    """``(slope, offset)`` if ``act(z) == slope * z + offset`` (checked), else None."""
    if act.family != "linear":
        return None
    f = np.asarray(act.fn(_PROBE.copy()), dtype=np.float64)
    offset = float(act.fn(np.zeros(1))[0])
    slope = float(act.fn(np.ones(1))[0]) - offset
    if not np.allclose(f, slope * _PROBE + offset, rtol=1e-12, atol=1e-12):
        return None
    return slope, offset


def is_collapsible(spec: MLPSpec) -> bool:
    """Whether every hidden activation of ``spec`` is affine."""
    return all(affine_coefficients(a) is not None for a in spec.activations)


def collapse(spec: MLPSpec, params: Params) -> tuple[np.ndarray, np.ndarray]:
    """The single affine map of an ensemble without nonlinearities.

    Returns ``W_eff`` (K, n_inputs, n_outputs) and ``b_eff`` (K, n_outputs) such that the
    network's logits are ``x @ W_eff[k] + b_eff[k]``. Raises ValueError if a hidden
    activation is not affine.
    """
    W_eff = np.asarray(params[0].W, dtype=np.float64)
    b_eff = np.asarray(params[0].b, dtype=np.float64)
    for act, (W, b) in zip(spec.activations, params[1:]):
        coef = affine_coefficients(act)
        if coef is None:
            raise ValueError(f"activation {act.name!r} is not affine: the network does not collapse")
        slope, offset = coef
        W = np.asarray(W, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
        # a = slope * (x @ W_eff + b_eff) + offset, then z = a @ W + b
        W_eff = slope * W_eff @ W
        b_eff = np.einsum("kh,kho->ko", slope * b_eff + offset, W) + b
    return W_eff, b_eff


def affine_logits(W_eff: np.ndarray, b_eff: np.ndarray, X: np.ndarray) -> np.ndarray:
    """The logits of the collapsed map on ``X`` (N, d): (K, N, n_outputs)."""
    return np.asarray(X, dtype=np.float64)[None] @ W_eff + b_eff[:, None, :]


def affine_predict(W_eff: np.ndarray, b_eff: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Predicted classes of the collapsed map: (K, N)."""
    logits = affine_logits(W_eff, b_eff, X)
    if logits.shape[-1] == 1:
        return (logits[..., 0] >= 0).astype(np.int64)
    return logits.argmax(axis=-1)


def boundary_line(W_eff: np.ndarray, b_eff: np.ndarray, xs: np.ndarray, k: int = 0) -> np.ndarray:
    """For a binary 2-D map, the x2 of the line ``w1 x1 + w2 x2 + b = 0`` at each x1 in ``xs``.

    NaN where the line is vertical (w2 == 0); use :func:`boundary_segment` to draw it.
    """
    w1, w2 = W_eff[k, :, 0]
    b = b_eff[k, 0]
    if w2 == 0:
        return np.full_like(np.asarray(xs, dtype=np.float64), np.nan)
    return -(w1 * np.asarray(xs, dtype=np.float64) + b) / w2


def boundary_segment(W_eff: np.ndarray, b_eff: np.ndarray, xlim, ylim, k: int = 0):
    """Two points of the binary 2-D map's boundary line spanning the box ``xlim`` x ``ylim``."""
    w1, w2 = W_eff[k, :, 0]
    b = b_eff[k, 0]
    if abs(w2) >= abs(w1):
        xs = np.asarray(xlim, dtype=np.float64)
        return xs, -(w1 * xs + b) / w2
    ys = np.asarray(ylim, dtype=np.float64)
    return -(w2 * ys + b) / w1, ys
