"""One member as a ``torch.nn.Module``: the input standardisation, dense layers and each
hidden layer's activation from the activation's own torch form (``Activation.torch_fn``,
compiled from its scalar expression, formulas included, or the user's torch callable)."""

from __future__ import annotations

from typing import Any

import numpy as np

from actscope.activations import Activation, get_activation
from actscope.engines import MissingExtraError
from actscope.interop.member import Member


def _torch():
    try:
        import torch
    except ImportError:
        raise MissingExtraError("export to torch needs PyTorch: pip install torch==2.13.0 --index-url "
                                "https://download.pytorch.org/whl/cpu, then pip install "
                                "'actscope[torch]'") from None
    return torch


def activation_module(act: Activation):
    """``act`` as a parameter-free ``torch.nn.Module`` (its ``torch_fn`` applied elementwise)."""
    torch = _torch()
    module: Any = torch.nn.Module  # a base class that exists once torch is imported

    class ActivationModule(module):
        def __init__(self) -> None:
            super().__init__()
            self.name = act.name

        def forward(self, z):
            return get_activation(self.name).torch_fn(z)

        def extra_repr(self) -> str:
            return self.name

    return ActivationModule()


def to_torch(m: Member, dtype: str = "float64"):
    """``m`` as a ``torch.nn.Module`` mapping raw features ``(N, n_inputs)`` to class
    probabilities ``(N, n_classes)`` (binary: ``[1 - p, p]``).

    The module holds the scaler as buffers ``mean`` and ``scale`` (identity when the run
    did not standardise), so it takes the data as it comes; ``module.logits(x)`` gives the
    output layer before the sigmoid or softmax. In float64 it reproduces actscope's NumPy
    forward pass to rounding.
    """
    torch = _torch()
    tdtype = {"float32": torch.float32, "float64": torch.float64}[dtype]
    n_in = m.mlp.n_inputs
    mean, scale = m.scaler if m.scaler is not None else (np.zeros(n_in), np.ones(n_in))
    layers: list = []
    for i, (W, b) in enumerate(m.layers):
        lin = torch.nn.Linear(W.shape[0], W.shape[1], dtype=tdtype)
        with torch.no_grad():
            lin.weight.copy_(torch.as_tensor(W.T))
            lin.bias.copy_(torch.as_tensor(b))
        layers.append(lin)
        if i < len(m.mlp.activations):
            layers.append(activation_module(m.mlp.activations[i]))
    return _module_class(torch)(torch.nn.Sequential(*layers), torch.as_tensor(mean, dtype=tdtype),
                                torch.as_tensor(scale, dtype=tdtype), m.mlp.n_outputs == 1)


def _module_class(torch):
    class ActscopeMLP(torch.nn.Module):
        """Standardise, the dense layers, then sigmoid (one logit) or softmax."""

        def __init__(self, net, mean, scale, binary: bool) -> None:
            super().__init__()
            self.net, self.binary = net, binary
            self.register_buffer("mean", mean)
            self.register_buffer("scale", scale)

        def logits(self, x):
            return self.net((x - self.mean) / self.scale)

        def forward(self, x):
            out = self.logits(x)
            if self.binary:
                p = torch.sigmoid(out)
                return torch.cat([1.0 - p, p], dim=1)
            return torch.softmax(out, dim=1)

    return ActscopeMLP


def torch_program(module, n_inputs: int) -> bytes:
    """``module`` as a ``torch.export`` program (the bytes of a ``.pt2`` file, batch size
    dynamic): loaded with ``torch.export.load(path).module()``, without actscope."""
    import io

    torch = _torch()
    x = torch.zeros(2, n_inputs, dtype=module.mean.dtype)
    batch = torch.export.Dim("batch")
    program = torch.export.export(module, (x,), dynamic_shapes=({0: batch},))
    buf = io.BytesIO()
    torch.export.save(program, buf)
    return buf.getvalue()


def load_program(data: bytes):
    """The module of a ``torch.export`` program's bytes."""
    import io

    return _torch().export.load(io.BytesIO(data)).module()


__all__ = ["activation_module", "load_program", "to_torch", "torch_program"]
