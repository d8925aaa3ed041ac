"""The reference engine: NumPy, float64 by default, written to be read.

Every other engine is tested against this one. Shapes follow docs/design.md: W is
(K, fan_in, fan_out), b is (K, fan_out), activations are (K, N, width).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, log_softmax, softmax

from actscope.engines.base import Capabilities, EpochPlan, Forward
from actscope.nn.model import Layer, MLPSpec, Params, init_params


def _as_ensemble_input(X: np.ndarray, K: int) -> np.ndarray:
    """(N, d) is shared by every member; (K, N, d) is one batch per member."""
    return X[None] if X.ndim == 2 else X


def _ensemble_labels(y: np.ndarray, K: int) -> np.ndarray:
    """(N,) labels shared by every member become (1, N); (K, N) stay as they are."""
    return y[None] if y.ndim == 1 else y


class NumpyEngine:
    """The engine contract on NumPy arrays."""

    name = "numpy"
    # no thread pool of its own: arms may train in forked processes
    capabilities = Capabilities(dropout=True, multiclass=True, fused_epochs=False, fork_safe=True)

    def __init__(self, dtype: str = "float64", device: str = "cpu") -> None:
        if device not in ("cpu", "auto"):
            raise ValueError(f"device {device!r}: the numpy engine runs on 'cpu' only")
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype {dtype!r} is not one of float32, float64")
        self.device = "cpu"

    # conversion ---------------------------------------------------------------------------
    def asarray(self, x) -> np.ndarray:
        if type(x) is np.ndarray and x.dtype == self.dtype:  # the common case, every step
            return x
        x = np.asarray(x)
        return x.astype(self.dtype, copy=False) if x.dtype.kind == "f" else x

    def asindex(self, x) -> np.ndarray:
        return np.asarray(x, dtype=np.intp)

    def where(self, cond, a, b):
        return np.where(np.asarray(cond), a, b)

    def zeros(self, n: int) -> np.ndarray:
        return np.zeros(n)

    def to_host(self, x) -> np.ndarray:
        return np.asarray(x)

    def to_numpy(self, params: Params) -> Params:
        return [Layer(np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64))
                for W, b in params]

    def from_numpy(self, params: Params) -> Params:
        return [Layer(self.asarray(W).copy(), self.asarray(b).copy()) for W, b in params]

    # contract -----------------------------------------------------------------------------
    def init(self, spec: MLPSpec, seeds, rng: str = "default") -> Params:
        return self.from_numpy(init_params(spec, seeds, rng))

    def forward(self, spec: MLPSpec, params: Params, X, record: bool = False, masks=None) -> Forward:
        """``masks`` (training with dropout): one (K, N, width) array per hidden layer that
        multiplies its post-activations (0 or 1 / (1 - p), drawn by ``training.stepper.dropout_masks``)."""
        K = params[0].W.shape[0]
        a = _as_ensemble_input(self.asarray(X), K)
        zs, as_ = [], []
        for i, ((W, b), act) in enumerate(zip(params[:-1], spec.activations)):
            z = a @ W + b[:, None, :]
            a = act.fn(z)
            if masks is not None:
                a = a * self.asarray(masks[i])
            if record:
                zs.append(z)
                as_.append(a)
        W, b = params[-1]
        logits = a @ W + b[:, None, :]
        if logits.shape[0] != K:
            logits = np.broadcast_to(logits, (K, *logits.shape[1:]))
        prob = expit(logits[..., 0]) if spec.n_outputs == 1 else softmax(logits, axis=-1)
        return Forward(prob=prob, logits=logits, z=zs, a=as_)

    def epoch_runner(self, spec: MLPSpec, params: Params, X, y, plan: EpochPlan):
        """None: the training loop steps this engine's minibatches itself."""
        return None

    def decision(self) -> dict | None:
        """None: this engine makes no choice of its own."""
        return None

    @staticmethod
    def _loss_from_logits(spec: MLPSpec, logits: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Mean cross-entropy per member, computed stably from the logits."""
        if spec.n_outputs == 1:
            s = logits[..., 0]
            per = np.logaddexp(0.0, s) - s * y  # softplus(s) - s y, max(s, 0) + log1p(e^-|s|)
        else:
            logp = log_softmax(logits, axis=-1)
            idx = np.broadcast_to(y[..., None].astype(np.intp), (*logits.shape[:-1], 1))
            per = -np.take_along_axis(logp, idx, axis=-1)[..., 0]
        return per.sum(axis=-1) / per.shape[-1]  # the mean, without np.mean's Python overhead

    @staticmethod
    def _correct(spec: MLPSpec, logits: np.ndarray, y: np.ndarray) -> np.ndarray:
        if spec.n_outputs == 1:
            pred = logits[..., 0] >= 0
        else:
            pred = logits.argmax(axis=-1)
        return (pred == y).sum(axis=-1) / pred.shape[-1]

    def loss_and_accuracy(self, spec: MLPSpec, params: Params, X, y):
        out = self.forward(spec, params, X)
        yK = _ensemble_labels(np.asarray(y), out.logits.shape[0])
        return (np.asarray(self._loss_from_logits(spec, out.logits, yK), dtype=np.float64),
                np.asarray(self._correct(spec, out.logits, yK), dtype=np.float64))

    def loss_and_grad(self, spec: MLPSpec, params: Params, X, y, with_accuracy: bool = False,
                      masks=None):
        """Mean loss per member (K,) and its gradients, by hand-written backprop
        (with dropout ``masks`` as in ``forward``)."""
        out = self.forward(spec, params, X, record=True, masks=masks)
        K, N = out.logits.shape[:2]
        yK = _ensemble_labels(np.asarray(y), K)
        loss = self._loss_from_logits(spec, out.logits, yK)
        if spec.n_outputs == 1:
            delta = (out.prob - yK.astype(out.prob.dtype, copy=False))[..., None] / N
        else:
            onehot = np.zeros_like(out.prob)
            idx = np.broadcast_to(yK[..., None].astype(np.intp), (*out.prob.shape[:-1], 1))
            np.put_along_axis(onehot, idx, 1.0, axis=-1)
            delta = (out.prob - onehot) / N
        # a shared (1, N, d) input broadcasts against (K, N, o) in the matmul below
        inputs = [_as_ensemble_input(self.asarray(X), K), *out.a]
        grads: list[Layer] = [None] * len(params)  # type: ignore[list-item]
        acts = spec.activations
        for i in range(len(params) - 1, -1, -1):
            a_prev = inputs[i]
            grads[i] = Layer(a_prev.transpose(0, 2, 1) @ delta, delta.sum(axis=1))
            if i > 0:
                delta = (delta @ params[i].W.transpose(0, 2, 1)) * acts[i - 1].grad(out.z[i - 1])
                if masks is not None:
                    delta = delta * self.asarray(masks[i - 1])
        if with_accuracy:
            return loss, grads, self._correct(spec, out.logits, yK)
        return loss, grads
