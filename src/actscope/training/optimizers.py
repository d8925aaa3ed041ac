"""Optimisers over an ensemble, written with array operators only so that one
implementation serves every engine (NumPy arrays and torch tensors alike).

Semantics follow torch.optim: SGD with optional (Nesterov) momentum and L2 weight decay
added to the gradient; Adam with bias correction and ``eps`` outside the square root.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from actscope.nn.model import Layer, Params


def _tree(fn, *trees):
    return [Layer(*(fn(*xs) for xs in zip(*layers))) for layers in zip(*trees)]


@dataclass
class Optimizer:
    kind: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    l1: float = 0.0  # penalty l1 * sum |W| (weights only, not biases)
    l2: float = 0.0  # penalty l2 / 2 * sum W^2 (weights only, not biases)
    state: dict = field(default_factory=dict)

    def step(self, params: Params, grads: Params) -> Params:
        """New parameters after one step (the inputs are not modified)."""
        if self.weight_decay:
            wd = self.weight_decay
            grads = _tree(lambda g, p: g + wd * p, grads, params)
        if self.l1 or self.l2:
            grads = penalty_grads(params, grads, self.l1, self.l2)
        t = self.state.get("t", 0) + 1
        self.state["t"] = t
        lr = self.lr
        if self.kind == "sgd":
            return [Layer(W - lr * gW, b - lr * gb) for (W, b), (gW, gb) in zip(params, grads)]
        if self.kind in ("momentum", "nesterov"):
            mu = self.momentum
            buf = self.state.get("buf")
            buf = grads if buf is None else _tree(lambda b, g: mu * b + g, buf, grads)
            self.state["buf"] = buf
            if self.kind == "nesterov":
                upd = _tree(lambda g, b: g + mu * b, grads, buf)
            else:
                upd = buf
            return _tree(lambda p, u: p - lr * u, params, upd)
        if self.kind == "adam":
            b1, b2 = self.betas
            m = self.state.get("m") or _tree(lambda g: 0 * g, grads)
            v = self.state.get("v") or _tree(lambda g: 0 * g, grads)
            m = _tree(lambda m_, g: b1 * m_ + (1 - b1) * g, m, grads)
            v = _tree(lambda v_, g: b2 * v_ + (1 - b2) * g * g, v, grads)
            self.state["m"], self.state["v"] = m, v
            c1, c2 = 1 - b1**t, (1 - b2**t) ** 0.5
            eps = self.eps
            return _tree(lambda p, m_, v_: p - (lr / c1) * m_ / (v_**0.5 / c2 + eps), params, m, v)
        raise ValueError(f"optimizer {self.kind!r} is not one of sgd, momentum, nesterov, adam")

    def mask_state(self, zero_diverged) -> None:
        """Apply ``zero_diverged`` (zeroes the diverged members) to the optimiser state."""
        for key in ("buf", "m", "v"):
            if self.state.get(key) is not None:
                self.state[key] = _tree(zero_diverged, self.state[key])


def _sign(p):
    return p.sign() if hasattr(p, "sign") else np.sign(p)


def penalty_grads(params: Params, grads: Params, l1: float, l2: float) -> Params:
    """Gradients plus those of l1 * sum|W| + l2 / 2 * sum W^2 over the weights (sign(0) = 0)."""
    out = []
    for (W, _b), (gW, gb) in zip(params, grads):
        if l1:
            gW = gW + l1 * _sign(W)
        if l2:
            gW = gW + l2 * W
        out.append(Layer(gW, gb))
    return out


def make_optimizer(train) -> Optimizer:
    """An Optimizer from a TrainSpec."""
    return Optimizer(kind=train.optimizer, lr=train.lr, momentum=train.momentum,
                     betas=tuple(train.betas), eps=train.eps, weight_decay=train.weight_decay,
                     l1=getattr(train, "l1", 0.0), l2=getattr(train, "l2", 0.0))
