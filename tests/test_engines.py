"""The NumPy reference engine: shapes, the contract, and gradients by finite differences."""

from __future__ import annotations

import numpy as np
import pytest

import actscope
from actscope.engines import get_engine
from actscope.nn.model import Layer, MLPSpec
from gradcheck import finite_difference_grads

ENGINE = get_engine("numpy")


def _data(rng, n=7, d=2, classes=2):
    X = rng.normal(size=(n, d))
    y = rng.integers(0, classes, size=n)
    y[:classes] = np.arange(classes)
    return X, y


def _fd_grads(spec, params, X, y):
    return finite_difference_grads(ENGINE, spec, params, X, y)


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
@pytest.mark.parametrize("activation", actscope.list_activations())
def test_gradients_match_finite_differences(activation, depth, rng):
    spec = MLPSpec(n_inputs=2, hidden=[3] * depth, activation=activation, init="xavier")
    params = ENGINE.init(spec, seeds=[3, 4])
    # non-zero biases so every term of the gradient is exercised
    params = [Layer(W, b + 0.1 * rng.normal(size=b.shape)) for W, b in params]
    X, y = _data(rng)
    loss, grads = ENGINE.loss_and_grad(spec, params, X, y)
    assert loss.shape == (2,)
    fd = _fd_grads(spec, params, X, y)
    for (gW, gb), (fW, fb) in zip(grads, fd):
        assert gW.shape == fW.shape and gb.shape == fb.shape
        np.testing.assert_allclose(gW, fW, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(gb, fb, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("depth", [1, 3])
def test_multiclass_gradients_match_finite_differences(depth, rng):
    spec = MLPSpec(n_inputs=3, hidden=[4] * depth, activation="tanh", n_classes=3)
    params = ENGINE.init(spec, seeds=[0, 1, 2])
    X, y = _data(rng, n=9, d=3, classes=3)
    _, grads = ENGINE.loss_and_grad(spec, params, X, y)
    for (gW, gb), (fW, fb) in zip(grads, _fd_grads(spec, params, X, y)):
        np.testing.assert_allclose(gW, fW, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(gb, fb, rtol=1e-5, atol=1e-7)


def test_forward_shapes_follow_the_contract(rng):
    spec = MLPSpec(n_inputs=2, hidden=[8, 5], activation=["relu", "tanh"])
    params = ENGINE.init(spec, seeds=[0, 1, 2])
    assert [p.W.shape for p in params] == [(3, 2, 8), (3, 8, 5), (3, 5, 1)]
    assert [p.b.shape for p in params] == [(3, 8), (3, 5), (3, 1)]
    X = rng.normal(size=(11, 2))
    out = ENGINE.forward(spec, params, X, record=True)
    assert out.prob.shape == (3, 11)
    assert [z.shape for z in out.z] == [(3, 11, 8), (3, 11, 5)]
    assert np.all(out.a[0] >= 0) and np.all(np.abs(out.a[1]) <= 1)
    assert np.all((out.prob > 0) & (out.prob < 1))
    multi = MLPSpec(n_inputs=2, hidden=[4], activation="relu", n_classes=4)
    p = ENGINE.forward(multi, ENGINE.init(multi, seeds=[0, 1]), X).prob
    assert p.shape == (2, 11, 4)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0)


def test_members_are_independent_and_seeded(rng):
    spec = MLPSpec(n_inputs=2, hidden=[6], activation="relu")
    a = ENGINE.init(spec, seeds=[5, 6])
    b = ENGINE.init(spec, seeds=[6])
    np.testing.assert_array_equal(a[0].W[1], b[0].W[0])
    assert not np.allclose(a[0].W[0], a[0].W[1])
    X, y = _data(rng)
    la, _ = ENGINE.loss_and_grad(spec, a, X, y)
    lb, _ = ENGINE.loss_and_grad(spec, b, X, y)
    assert la[1] == pytest.approx(lb[0])


def test_per_member_batches_are_accepted(rng):
    spec = MLPSpec(n_inputs=2, hidden=[4], activation="sigmoid")
    params = ENGINE.init(spec, seeds=[0, 1])
    X = rng.normal(size=(2, 5, 2))
    y = rng.integers(0, 2, size=(2, 5))
    loss, _ = ENGINE.loss_and_grad(spec, params, X, y)
    one = [Layer(W[1:], b[1:]) for W, b in params]
    l1, _ = ENGINE.loss_and_grad(spec, one, X[1], y[1])
    assert loss[1] == pytest.approx(l1[0])


def test_loss_is_stable_for_huge_logits():
    spec = MLPSpec(n_inputs=1, hidden=[1], activation="identity")
    params = [Layer(np.array([[[1.0]]]), np.zeros((1, 1))), Layer(np.array([[[1.0]]]), np.zeros((1, 1)))]
    X = np.array([[1000.0], [-1000.0]])
    loss, grads = ENGINE.loss_and_grad(spec, params, X, np.array([0, 1]))
    assert np.isfinite(loss).all() and loss[0] == pytest.approx(1000.0)
    assert all(np.isfinite(g.W).all() for g in grads)


def test_float32_engine_keeps_its_dtype(rng):
    eng = get_engine("numpy", dtype="float32")
    spec = MLPSpec(n_inputs=2, hidden=[4], activation="tanh")
    params = eng.init(spec, seeds=[0])
    assert params[0].W.dtype == np.float32
    _, grads = eng.loss_and_grad(spec, params, rng.normal(size=(5, 2)), np.array([0, 1, 0, 1, 1]))
    assert grads[0].W.dtype == np.float32


def test_unknown_engine_and_activation_are_named():
    with pytest.raises(ValueError, match="unknown engine 'nope'"):
        get_engine("nope")
    with pytest.raises(ValueError, match="known: .*relu"):
        MLPSpec(n_inputs=2, hidden=[4], activation="relux")
