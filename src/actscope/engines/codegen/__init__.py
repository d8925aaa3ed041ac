"""Generated kernel sources: the numba kernels of the fast engine and the CUDA kernels of
the gpu engine, both written for one architecture from the activations' scalar forms.

This package builds text only; the engines compile and run it.
"""

from __future__ import annotations

from actscope.nn.model import MLPSpec


def kernel_exprs(spec: MLPSpec):
    """Each hidden layer's ((f, params), (f', params)), or None if one has no ``scalar``."""
    out = []
    for act in spec.activations:
        scalar = act.scalar
        if scalar is None:
            return None
        out.append(((scalar[0], act.params), (scalar[1], act.params)))
    return out


def supports(spec: MLPSpec, max_params: int = 2048) -> bool:
    """Whether generated kernels cover this architecture: a binary output, at most
    ``max_params`` parameters, and activations with ``scalar`` expressions."""
    return spec.n_outputs == 1 and spec.n_params <= max_params and kernel_exprs(spec) is not None


__all__ = ["kernel_exprs", "supports"]
