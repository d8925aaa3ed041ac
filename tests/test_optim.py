"""optim.Optimizer against torch.optim, step for step, on NumPy arrays and on tensors."""

from __future__ import annotations

import numpy as np
import pytest

from actscope.config import TrainSpec
from actscope.nn.model import Layer
from actscope.training.optimizers import Optimizer, make_optimizer

torch = pytest.importorskip("torch", reason="the torch extra is not installed")

STEPS = 25
SHAPES = [((2, 3, 4), (2, 4)), ((2, 4, 1), (2, 1))]


def _start() -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    return [(rng.normal(size=ws), rng.normal(size=bs)) for ws, bs in SHAPES]


def _grad(p: np.ndarray, t: int, i: int):
    """A gradient that depends on the parameters (so state and params interact) and the step."""
    rng = np.random.default_rng(1000 * t + i)
    return 0.5 * p + p**3 / 4 + rng.normal(size=p.shape)


def _torch_optimizer(kind: str, params, lr: float, wd: float):
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=wd)
    if kind == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=wd)
    if kind == "nesterov":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True, weight_decay=wd)
    return torch.optim.Adam(params, lr=lr, weight_decay=wd)  # torch's defaults otherwise


def _run_torch(kind: str, lr: float, wd: float) -> list[list[np.ndarray]]:
    leaves = [torch.tensor(a, requires_grad=True) for layer in _start() for a in layer]
    opt = _torch_optimizer(kind, leaves, lr, wd)
    traj = []
    for t in range(STEPS):
        for i, p in enumerate(leaves):
            p.grad = torch.as_tensor(_grad(p.detach().numpy(), t, i))
        opt.step()
        traj.append([p.detach().numpy().copy() for p in leaves])
    return traj


def _run_ours(kind: str, lr: float, wd: float, as_array) -> list[list[np.ndarray]]:
    opt = Optimizer(kind=kind, lr=lr, weight_decay=wd)
    params = [Layer(as_array(W), as_array(b)) for W, b in _start()]
    traj = []
    for t in range(STEPS):
        flat = [a for layer in params for a in layer]
        g = [as_array(_grad(np.asarray(a), t, i)) for i, a in enumerate(flat)]
        grads = [Layer(g[2 * j], g[2 * j + 1]) for j in range(len(params))]
        params = opt.step(params, grads)
        traj.append([np.asarray(a).copy() for layer in params for a in layer])
    return traj


@pytest.mark.parametrize("kind", ["sgd", "momentum", "nesterov", "adam"])
@pytest.mark.parametrize("wd", [0.0, 0.01])
@pytest.mark.parametrize("array", ["numpy", "torch"])
def test_matches_torch_optim_step_for_step(kind, wd, array):
    lr = 0.01 if kind == "adam" else 0.05
    as_array = np.array if array == "numpy" else (lambda a: torch.tensor(np.asarray(a)))
    ours, ref = _run_ours(kind, lr, wd, as_array), _run_torch(kind, lr, wd)
    moved = max(np.abs(ref[-1][i] - a).max() for i, a in enumerate(a for layer in _start() for a in layer))
    assert moved > 1e-2  # the trajectory is not trivial
    for step, (a, b) in enumerate(zip(ours, ref)):
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-14, err_msg=f"{kind} step {step + 1}")


def test_adam_defaults_are_torchs():
    defaults = torch.optim.Adam([torch.zeros(1, requires_grad=True)]).defaults
    spec = TrainSpec(optimizer="adam")
    opt = make_optimizer(spec)
    assert tuple(opt.betas) == tuple(defaults["betas"])
    assert opt.eps == defaults["eps"]
    assert opt.weight_decay == defaults["weight_decay"] == 0


def test_inputs_are_not_modified_and_unknown_kind_is_refused():
    W = np.ones((1, 2, 2))
    opt = Optimizer(kind="adam", lr=0.1)
    new = opt.step([Layer(W, np.zeros((1, 2)))], [Layer(np.ones_like(W), np.ones((1, 2)))])
    assert np.all(W == 1) and np.allclose(new[0].W, 0.9)  # Adam's first step is lr * sign(g)
    with pytest.raises(ValueError, match="optimizer 'rmsprop'"):
        Optimizer(kind="rmsprop").step([Layer(W, np.zeros((1, 2)))], [Layer(W, np.zeros((1, 2)))])


def test_one_table_of_optimizers_is_what_config_playground_and_kernels_accept():
    from actscope.engines.codegen import cuda_source, numba_source
    from actscope.errors import InputError
    from actscope.training.optimizers import OPTIMIZER_NAMES, OPTIMIZERS

    assert OPTIMIZER_NAMES == tuple(OPTIMIZERS) == ("sgd", "momentum", "nesterov", "adam")
    assert set(numba_source.OPT_KINDS) == set(cuda_source.OPT_KINDS) == set(OPTIMIZERS)
    for name in OPTIMIZERS:
        assert TrainSpec(optimizer=name).optimizer == name
    with pytest.raises((InputError, ValueError)):
        TrainSpec(optimizer="rmsprop")
    schema = pytest.importorskip("actscope.serve.schema")
    assert tuple(schema.OPTIMIZERS) == OPTIMIZER_NAMES


def test_optimizers_are_pure_init_update_pairs():
    from actscope.training.optimizers import apply_updates

    spec = TrainSpec(optimizer="adam", lr=0.01, weight_decay=0.01, l1=0.001, l2=0.002)
    tx = make_optimizer(spec).transform()
    params = [Layer(np.asarray(W), np.asarray(b)) for W, b in _start()]
    grads = [Layer(_grad(W, 0, 0), _grad(b, 0, 1)) for W, b in params]
    state = tx.init(params)
    u1, s1 = tx.update(grads, state, params)
    u2, s2 = tx.update(grads, state, params)  # the same inputs give the same outputs
    for a, b in zip(u1, u2):
        np.testing.assert_array_equal(a.W, b.W)
    assert state == tx.init(params)  # and the state given is not changed
    stateful = make_optimizer(spec)
    for a, b in zip(apply_updates(params, u1), stateful.step(params, grads)):
        np.testing.assert_array_equal(a.W, b.W)
        np.testing.assert_array_equal(a.b, b.b)
