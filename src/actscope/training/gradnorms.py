"""Per-layer minibatch gradient norms, summed over an epoch on the engine's device.

The training loop adds each batch's norms to float64 engine arrays (no host round trip
per batch); ``nn.params.layer_grad_norms`` is the same quantity as NumPy, for one batch.
"""

from __future__ import annotations

from actscope.nn.model import Params


def layer_sq_norms(grads: Params) -> list:
    """Each layer's squared gradient norm (weights and bias together), (K,) engine arrays,
    the output layer last."""
    return [(W * W).sum((-2, -1)) + (b * b).sum(-1) for W, b in grads]


def add_layer_norms(sums: list, grads: Params, zero) -> list:
    """``sums`` plus each layer's gradient norm, the square root taken in float64 as
    ``nn.params.layer_grad_norms`` takes it (``zero``: a float64 zero vector of the engine)."""
    return [s + (zero + sq) ** 0.5 for s, sq in zip(sums, layer_sq_norms(grads))]
