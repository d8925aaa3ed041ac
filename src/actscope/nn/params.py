"""Operations on an ensemble's parameters (a list of Layer(W, b), members stacked first),
whatever array library holds them."""

from __future__ import annotations

import numpy as np

from actscope.nn.model import Layer, Params


def as_numpy(x) -> np.ndarray:
    """A float64 NumPy copy or view of an engine array (a torch tensor is detached first)."""
    return np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x, dtype=np.float64)


def member_slice(params: Params, sl: slice) -> Params:
    """The members ``sl`` of an ensemble, as an ensemble."""
    return [Layer(W[sl], b[sl]) for W, b in params]


def finite_members(params: Params) -> np.ndarray:
    """(K,) True where every parameter of the member is finite."""
    ok = None
    for W, b in params:
        W, b = as_numpy(W), as_numpy(b)
        f = np.isfinite(W.reshape(W.shape[0], -1)).all(1) & np.isfinite(b).all(1)
        ok = f if ok is None else ok & f
    assert ok is not None  # a network has one layer or more
    return ok


def layer_grad_norms(grads: Params) -> np.ndarray:
    """Euclidean norm of each layer's gradient (weights and bias together): (K, L + 1)."""
    sq = [as_numpy((W * W).sum((-2, -1)) + (b * b).sum(-1)) for W, b in grads]
    return np.sqrt(np.array(sq, dtype=np.float64).T)
