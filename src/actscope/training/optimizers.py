"""Optimisers as pairs of pure functions over an ensemble, written with array operators
only so that one implementation serves every engine (NumPy arrays and torch tensors alike).

A `GradientTransform` is ``init(params) -> state`` and ``update(grads, state, params) ->
(updates, state)``. Transforms compose with `chain`: weight decay and the L1 / L2
penalties are transforms that add to the gradient, an optimiser turns the gradient into
the step, and `apply_updates` takes it (``params - updates``). `OPTIMIZERS` is the one
table of optimisers by name: config validation, the playground and the kernels' codes
(``engines.codegen``) all consult it.

Semantics follow torch.optim: SGD with optional (Nesterov) momentum and L2 weight decay
added to the gradient; Adam with bias correction and ``eps`` outside the square root.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from actscope.nn.model import Layer, Params


class GradientTransform(NamedTuple):
    """A pair of pure functions: ``init(params) -> state`` and
    ``update(grads, state, params) -> (updates, state)``."""

    init: Callable[[Params], Any]
    update: Callable[[Params, Any, Params], tuple[Params, Any]]


def tree_map(fn: Callable, *trees: Params) -> Params:
    """``fn`` applied array by array over parameter-shaped trees."""
    if len(trees) == 1:  # the common case, every step: no zip of one tree
        return [Layer(fn(W), fn(b)) for W, b in trees[0]]
    return [Layer(fn(*[t.W for t in layers]), fn(*[t.b for t in layers])) for layers in zip(*trees)]


def map_members(fn: Callable, state: Any) -> Any:
    """``fn`` applied to every array of an optimiser state (parameter trees nested in
    tuples); step counts and unset entries (None) are left as they are. The training loop
    uses it to zero the state of diverged members."""
    if isinstance(state, Layer):
        return Layer(fn(state.W), fn(state.b))
    if isinstance(state, (list, tuple)):
        return type(state)(map_members(fn, s) for s in state)
    return state


def apply_updates(params: Params, updates: Params) -> Params:
    """New parameters, ``params - updates`` (the inputs are not modified)."""
    return tree_map(lambda p, u: p - u, params, updates)


def chain(*transforms: GradientTransform) -> GradientTransform:
    """The transforms applied one after the other; the state is the tuple of theirs."""

    def init(params: Params) -> tuple:
        return tuple(t.init(params) for t in transforms)

    def update(grads: Params, state: tuple, params: Params) -> tuple[Params, tuple]:
        new = []
        for t, s in zip(transforms, state):
            grads, s = t.update(grads, s, params)
            new.append(s)
        return grads, tuple(new)

    return GradientTransform(init, update)


def _stateless(fn: Callable[[Params, Params], Params]) -> GradientTransform:
    return GradientTransform(lambda params: (), lambda grads, state, params: (fn(grads, params), state))


def add_decayed_weights(weight_decay: float) -> GradientTransform:
    """torch.optim's ``weight_decay``: ``grads + weight_decay * params`` (biases too)."""
    if not weight_decay:
        return _stateless(lambda grads, params: grads)
    return _stateless(lambda grads, params: tree_map(lambda g, p: g + weight_decay * p, grads, params))


def _sign(W):
    """sign(W) in W's array type and dtype (0 at 0), from comparisons and arithmetic only."""
    one = abs(W) ** 0
    return one * (W > 0) - one * (W < 0)


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


def add_penalties(l1: float, l2: float) -> GradientTransform:
    """The gradient of the penalties l1 * sum|W| + l2 / 2 * sum W^2 (weights, not biases)."""
    if not (l1 or l2):
        return _stateless(lambda grads, params: grads)
    return _stateless(lambda grads, params: penalty_grads(params, grads, l1, l2))


def sgd(lr: float) -> GradientTransform:
    """Plain SGD: the step is ``lr * grads``."""
    return _stateless(lambda grads, params: tree_map(lambda g: lr * g, grads))


def momentum(lr: float, mu: float, nesterov: bool = False) -> GradientTransform:
    """SGD with (Nesterov) momentum as torch.optim.SGD: the buffer starts as the first
    gradient, then ``mu * buf + g``; Nesterov steps along ``g + mu * buf``."""

    def update(grads: Params, state: tuple, params: Params) -> tuple[Params, tuple]:
        (buf,) = state
        buf = grads if buf is None else tree_map(lambda b, g: mu * b + g, buf, grads)
        direction = tree_map(lambda g, b: g + mu * b, grads, buf) if nesterov else buf
        return tree_map(lambda u: lr * u, direction), (buf,)

    return GradientTransform(lambda params: (None,), update)


def adam(lr: float, b1: float, b2: float, eps: float) -> GradientTransform:
    """Adam as torch.optim.Adam: bias-corrected moments, ``eps`` outside the square root."""

    def update(grads: Params, state: tuple, params: Params) -> tuple[Params, tuple]:
        t, m, v = state
        t += 1
        m = tree_map(lambda g: 0 * g, grads) if m is None else m
        v = tree_map(lambda g: 0 * g, grads) if v is None else v
        m = tree_map(lambda m_, g: b1 * m_ + (1 - b1) * g, m, grads)
        v = tree_map(lambda v_, g: b2 * v_ + (1 - b2) * g * g, v, grads)
        c1, c2 = 1 - b1**t, (1 - b2**t) ** 0.5
        step = tree_map(lambda m_, v_: (lr / c1) * m_ / (v_**0.5 / c2 + eps), m, v)
        return step, (t, m, v)

    return GradientTransform(lambda params: (0, None, None), update)


# The optimisers by name, each built from a TrainSpec-like object of hyperparameters.
OPTIMIZERS: dict[str, Callable[[Any], GradientTransform]] = {
    "sgd": lambda h: sgd(h.lr),
    "momentum": lambda h: momentum(h.lr, h.momentum),
    "nesterov": lambda h: momentum(h.lr, h.momentum, nesterov=True),
    "adam": lambda h: adam(h.lr, h.betas[0], h.betas[1], h.eps),
}
OPTIMIZER_NAMES: tuple[str, ...] = tuple(OPTIMIZERS)


@dataclass
class Optimizer:
    """An optimiser's hyperparameters, with a stateful ``step`` for code that wants one.

    ``transform()`` is the pure form the training loop uses: weight decay, then the
    penalties, then the optimiser named by ``kind`` (a key of `OPTIMIZERS`).
    """

    kind: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    l1: float = 0.0  # penalty l1 * sum |W| (weights only, not biases)
    l2: float = 0.0  # penalty l2 / 2 * sum W^2 (weights only, not biases)
    state: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in OPTIMIZERS:
            raise ValueError(f"optimizer {self.kind!r} is not one of {', '.join(OPTIMIZER_NAMES)}")

    def transform(self) -> GradientTransform:
        """The optimiser as one GradientTransform (the gradient transforms that are off are
        left out of the chain)."""
        parts = [OPTIMIZERS[self.kind](self)]
        if self.l1 or self.l2:
            parts.insert(0, add_penalties(self.l1, self.l2))
        if self.weight_decay:
            parts.insert(0, add_decayed_weights(self.weight_decay))
        return parts[0] if len(parts) == 1 else chain(*parts)

    def step(self, params: Params, grads: Params) -> Params:
        """New parameters after one step (the inputs are not modified)."""
        tx = self.transform()
        state = tx.init(params) if self.state is None else self.state
        updates, self.state = tx.update(grads, state, params)
        return apply_updates(params, updates)


def make_optimizer(train) -> Optimizer:
    """An Optimizer from a TrainSpec."""
    return Optimizer(kind=train.optimizer, lr=train.lr, momentum=train.momentum,
                     betas=tuple(train.betas), eps=train.eps, weight_decay=train.weight_decay,
                     l1=train.l1, l2=train.l2)
