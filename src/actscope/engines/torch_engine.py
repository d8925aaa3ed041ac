"""The engine contract on torch tensors, for CPU and CUDA, float32 or float64.

A line-by-line mirror of the NumPy reference engine: the same shapes, the same stable
loss and the same hand-written backward pass (no autograd), so that in float64 the two
engines agree to rounding. Activations come from the registry (``torch_fn`` and
``torch_grad``); one without them runs through its NumPy functions, with a warning.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from actscope.activations import Activation
from actscope.engines.base import Capabilities, EpochPlan, Forward
from actscope.nn.model import Layer, MLPSpec, Params, init_params

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def resolve_device(device: str) -> torch.device:
    """``"cpu"``, ``"cuda"`` (or ``"cuda:N"``) or ``"auto"`` (CUDA when there is one)."""
    name = str(device).strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r}: no CUDA device is available here; "
                             "use 'cpu' or 'auto'")
        return torch.device(name)
    raise ValueError(f"device {device!r} is not one of cpu, cuda, cuda:N, auto")


class _NumpyActivation(torch.autograd.Function):
    """An activation without torch equivalents, evaluated through NumPy (slow, but exact)."""

    @staticmethod
    def forward(ctx, z, act):
        ctx.save_for_backward(z)
        ctx.act = act
        return _from_np(act.fn(_to_np(z)), z)

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved_tensors
        return g * _from_np(ctx.act.grad(_to_np(z)), z), None


def _to_np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def _from_np(x: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x), dtype=like.dtype, device=like.device)


_warned: set[str] = set()


def _warn_fallback(act: Activation) -> None:
    if act.name not in _warned:
        _warned.add(act.name)
        warnings.warn(f"activation {act.name!r} has no torch_fn/torch_grad: the torch engine "
                      "evaluates it through NumPy (correct, but slow and host-bound)", stacklevel=3)


def act_fn(act: Activation, z: torch.Tensor) -> torch.Tensor:
    """The activation on a tensor: its ``torch_fn``, else its NumPy function."""
    if act.torch_fn is not None:
        return act.torch_fn(z)
    _warn_fallback(act)
    return _NumpyActivation.apply(z, act)


def act_grad(act: Activation, z: torch.Tensor) -> torch.Tensor:
    """The derivative on a tensor: its ``torch_grad``, else its NumPy derivative."""
    if act.torch_grad is not None:
        return act.torch_grad(z)
    _warn_fallback(act)
    return _from_np(act.grad(_to_np(z)), z)


class TorchEngine:
    """The engine contract on torch tensors (see docs/design.md)."""

    name = "torch"
    # dropout: forward / loss_and_grad take ``masks`` (see NumpyEngine.forward); torch's own
    # thread pool does not survive a fork
    capabilities = Capabilities(dropout=True, multiclass=True, fused_epochs=False, fork_safe=False)

    def __init__(self, dtype: str = "float64", device: str = "cpu") -> None:
        if str(dtype) not in _DTYPES:
            raise ValueError(f"dtype {dtype!r} is not one of float32, float64")
        self.dtype = _DTYPES[str(dtype)]
        self.torch_device = resolve_device(device)
        self.device = str(self.torch_device)

    # conversion ---------------------------------------------------------------------------
    def asarray(self, x) -> torch.Tensor:
        """A tensor on the engine's device; floats take the engine's dtype."""
        if not isinstance(x, torch.Tensor):
            x = torch.as_tensor(np.asarray(x))
        if x.is_floating_point():
            return x.to(device=self.torch_device, dtype=self.dtype)
        return x.to(device=self.torch_device)

    def asindex(self, x) -> torch.Tensor:
        if isinstance(x, torch.Tensor):
            return x.to(device=self.torch_device, dtype=torch.long)
        return torch.as_tensor(np.asarray(x, dtype=np.int64), device=self.torch_device)

    def where(self, cond, a, b):
        return torch.where(self.asarray(cond).bool(), a, b)

    def zeros(self, n: int) -> torch.Tensor:
        return torch.zeros(n, dtype=torch.float64, device=self.torch_device)

    def to_host(self, x) -> np.ndarray:
        return _to_np(x) if isinstance(x, torch.Tensor) else np.asarray(x)

    def to_numpy(self, params: Params) -> Params:
        return [Layer(_to_np(W).astype(np.float64), _to_np(b).astype(np.float64)) for W, b in params]

    def from_numpy(self, params: Params) -> Params:
        return [Layer(self.asarray(W).clone(), self.asarray(b).clone()) for W, b in params]

    # contract -----------------------------------------------------------------------------
    def init(self, spec: MLPSpec, seeds, rng: str = "default") -> Params:
        return self.from_numpy(init_params(spec, seeds, rng))

    def forward(self, spec: MLPSpec, params: Params, X, record: bool = False, masks=None) -> Forward:
        K = params[0].W.shape[0]
        X = self.asarray(X)
        a = X[None] if X.dim() == 2 else X
        zs, as_ = [], []
        for i, ((W, b), act) in enumerate(zip(params[:-1], spec.activations)):
            z = a @ W + b[:, None, :]
            a = act_fn(act, z)
            if masks is not None:  # dropout while training: (K, N, width), 0 or 1 / (1 - p)
                a = a * self.asarray(masks[i])
            if record:
                zs.append(z)
                as_.append(a)
        W, b = params[-1]
        logits = a @ W + b[:, None, :]
        if logits.shape[0] != K:
            logits = logits.expand(K, *logits.shape[1:])
        prob = torch.sigmoid(logits[..., 0]) if spec.n_outputs == 1 else torch.softmax(logits, dim=-1)
        return Forward(prob=prob, logits=logits, z=zs, a=as_)

    def epoch_runner(self, spec: MLPSpec, params: Params, X, y, plan: EpochPlan):
        """None: the training loop steps this engine's minibatches itself (on its device)."""
        return None

    def decision(self) -> dict | None:
        """None: this engine makes no choice of its own."""
        return None

    def _labels(self, y, K: int, n_outputs: int) -> torch.Tensor:
        y = self.asarray(y)
        y = y.to(self.dtype) if n_outputs == 1 else y.long()
        return (y[None] if y.dim() == 1 else y).expand(K, y.shape[-1])

    @staticmethod
    def _loss_from_logits(spec: MLPSpec, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy per member, computed stably from the logits."""
        if spec.n_outputs == 1:
            s = logits[..., 0]
            per = torch.clamp(s, min=0.0) - s * y + torch.log1p(torch.exp(-s.abs()))
        else:
            logp = torch.log_softmax(logits, dim=-1)
            per = -torch.gather(logp, -1, y[..., None])[..., 0]
        return per.mean(dim=-1)

    def _correct(self, spec: MLPSpec, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if spec.n_outputs == 1:
            pred = (logits[..., 0] >= 0).to(y.dtype)
        else:
            pred = logits.argmax(dim=-1)
        return (pred == y).to(torch.float64).mean(dim=-1)  # exact fractions, even in float32

    def loss_and_accuracy(self, spec: MLPSpec, params: Params, X, y):
        """Mean loss and accuracy per member, as float64 NumPy arrays (K,)."""
        with torch.no_grad():
            out = self.forward(spec, params, X)
            yK = self._labels(y, out.logits.shape[0], spec.n_outputs)
            loss = self._loss_from_logits(spec, out.logits, yK)
            acc = self._correct(spec, out.logits, yK)
        return _to_np(loss).astype(np.float64), _to_np(acc).astype(np.float64)

    def loss_and_grad(self, spec: MLPSpec, params: Params, X, y, with_accuracy: bool = False,
                      masks=None):
        """Mean loss per member (K,) and its gradients, by hand-written backprop."""
        with torch.no_grad():
            return self._loss_and_grad(spec, params, X, y, with_accuracy, masks)

    def _loss_and_grad(self, spec, params, X, y, with_accuracy, masks=None):
        out = self.forward(spec, params, X, record=True, masks=masks)
        K, N = out.logits.shape[:2]
        yK = self._labels(y, K, spec.n_outputs)
        loss = self._loss_from_logits(spec, out.logits, yK)
        if spec.n_outputs == 1:
            delta = (out.prob - yK)[..., None] / N
        else:
            onehot = torch.zeros_like(out.prob).scatter_(-1, yK[..., None], 1.0)
            delta = (out.prob - onehot) / N
        X = self.asarray(X)
        Xe = (X[None] if X.dim() == 2 else X).expand(K, N, spec.n_inputs)
        inputs = [Xe, *out.a]
        grads = [None] * len(params)  # every slot is filled, last layer first
        acts = spec.activations
        for i in range(len(params) - 1, -1, -1):
            a_prev = inputs[i]
            grads[i] = Layer(a_prev.transpose(1, 2) @ delta, delta.sum(dim=1))
            if i > 0:
                delta = (delta @ params[i].W.transpose(1, 2)) * act_grad(acts[i - 1], out.z[i - 1])
                if masks is not None:
                    delta = delta * self.asarray(masks[i - 1])
        if with_accuracy:
            return loss, grads, self._correct(spec, out.logits, yK)
        return loss, grads
