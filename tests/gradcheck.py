"""Central finite differences of an ensemble's summed member losses (shared by the tests)."""

from __future__ import annotations

import numpy as np

from actscope.nn.model import Layer


def finite_difference_grads(engine, spec, params, X, y, eps: float = 1e-6) -> list[Layer]:
    """d(sum of member losses)/d(every parameter), one entry at a time (members are
    independent, so each member's block is the gradient of its own loss)."""
    out = []
    for W, b in params:
        grads = []
        for arr in (W, b):
            g = np.zeros_like(arr)
            for idx in np.ndindex(arr.shape):
                old = arr[idx]
                arr[idx] = old + eps
                lp = engine.loss_and_grad(spec, params, X, y)[0].sum()
                arr[idx] = old - eps
                lm = engine.loss_and_grad(spec, params, X, y)[0].sum()
                arr[idx] = old
                g[idx] = (lp - lm) / (2 * eps)
            grads.append(g)
        out.append(Layer(*grads))
    return out
