"""The GPU engine: the torch engine on CUDA, with whole epochs run on the device.

The contract (init, forward, loss_and_grad, ...) is the torch engine's. What this adds is
``epoch_trainer`` for ``train.fit``: an epoch's minibatches run back to back on the device
without a host round trip per batch (divergence is tracked on the device with masks, so
the history is the generic loop's), and the per-member batch orders come from the fast
engine's parallel PCG64 permutations when numba is installed.

Untested on a real GPU so far: the code is plain torch, exercised on the CPU by the tests.
"""

from __future__ import annotations

import numpy as np

from ..model import Layer, MLPSpec, Params
from ..optim import make_optimizer


def _torch():
    try:
        import torch
    except ImportError:
        from .base import MissingExtraError

        raise MissingExtraError("the gpu engine needs PyTorch: pip install 'actscope[torch]'") from None
    return torch


def cuda_available() -> bool:
    try:
        return bool(_torch().cuda.is_available())
    except ImportError:
        return False


def make_gpu_engine(dtype: str = "float64", device: str = "cuda", _allow_cpu: bool = False):
    """A GpuEngine; refuses, with the reason, when there is no CUDA device."""
    torch = _torch()
    if not _allow_cpu:
        if not torch.cuda.is_available():
            raise ValueError("the gpu engine needs a CUDA device and torch.cuda.is_available() is False "
                             "here; use engine = \"fast\" or \"auto\"")
        if device in ("auto", "cpu"):
            device = "cuda"
    from .torch_engine import TorchEngine

    class GpuEngine(TorchEngine):
        name = "gpu"

        def epoch_trainer(self, spec: MLPSpec, params: Params, X, y, train, streams):
            return DeviceTrainer(self, spec, params, X, y, train, streams)

    return GpuEngine(dtype=dtype, device=device)


def _batch_orders(streams, n: int):
    """The fast engine's BatchOrders when numba is installed, else a plain Python one."""
    try:
        from .fast_engine import BatchOrders

        return BatchOrders(streams, n)
    except ImportError:
        return _PythonOrders(streams, n)


class _PythonOrders:
    def __init__(self, streams, n: int):
        self.streams, self.n = streams, n

    def next(self) -> np.ndarray:
        return np.stack([st.permutation(self.n) for st in self.streams])


class DeviceTrainer:
    """Runs one epoch's minibatches on the engine's device; same batches, same history."""

    def __init__(self, engine, spec: MLPSpec, params: Params, X, y, train, streams):
        self.torch = _torch()
        self.engine, self.spec, self.train, self.streams = engine, spec, train, streams
        self.params = [Layer(W.clone(), b.clone()) for W, b in params]
        self.X, self.y = engine.asarray(X), engine.asarray(y)
        self.opt = make_optimizer(train)
        self.n = int(self.X.shape[0])
        self.B = min(train.batch_size, self.n)
        self.orders = _batch_orders(streams, self.n) if train.shuffle else None

    def run_epoch(self, keep: np.ndarray):
        torch, eng, K, n = self.torch, self.engine, len(keep), self.n
        if self.train.shuffle:
            perms = eng.asindex(self.orders.next())
        else:
            perms = torch.arange(n, device=eng.torch_device).expand(K, n)
        kept = torch.as_tensor(np.asarray(keep), device=eng.torch_device)
        loss_sum = torch.zeros(K, dtype=torch.float64, device=eng.torch_device)
        correct = torch.zeros(K, dtype=torch.float64, device=eng.torch_device)
        nan = torch.tensor(float("nan"), dtype=torch.float64, device=eng.torch_device)
        n_batches = 0
        with torch.no_grad():
            for start in range(0, n, self.B):
                idx = perms[:, start:start + self.B]
                loss, grads, acc = eng._loss_and_grad(self.spec, self.params, self.X[idx], self.y[idx],
                                                      True)
                loss = loss.to(torch.float64)
                kept = kept & torch.isfinite(loss)
                self.opt.mask_state(lambda s, m=kept: _zero_rows(torch, m, s))
                grads = [Layer(_zero_rows(torch, kept, W), _zero_rows(torch, kept, b)) for W, b in grads]
                self.params = self.opt.step(self.params, grads)
                loss_sum += torch.where(kept, loss, nan)
                correct += acc.to(torch.float64) * idx.shape[1]
                n_batches += 1
        return ((loss_sum / n_batches).cpu().numpy(), correct.cpu().numpy(),
                kept.cpu().numpy().astype(bool))


def _zero_rows(torch, keep, x):
    """x with the members (first axis) where keep is False set to zero."""
    return torch.where(keep.reshape((-1,) + (1,) * (x.dim() - 1)), x, torch.zeros((), dtype=x.dtype,
                                                                                  device=x.device))
