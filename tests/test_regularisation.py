"""L1 / L2 penalties and dropout: off by default, exact gradients, reproducible masks."""

from __future__ import annotations

import numpy as np
import pytest

from actscope.config import TrainSpec, parse_spec
from actscope.engines import Capabilities, get_engine
from actscope.errors import InputError
from actscope.nn.model import Layer, MLPSpec
from actscope.training.loop import dropout_masks, dropout_rngs, fit
from actscope.training.optimizers import penalty_grads

ENGINE = get_engine("numpy")


def _penalty(params, l1, l2):
    return sum(l1 * np.abs(W).sum() + 0.5 * l2 * (W * W).sum() for W, _ in params)


def test_penalty_gradients_are_the_derivative_of_the_penalty(rng):
    spec = MLPSpec(n_inputs=3, hidden=[4, 2], activation="relu")
    params = ENGINE.init(spec, [0, 1])
    zeros = [Layer(np.zeros_like(W), np.zeros_like(b)) for W, b in params]
    g = penalty_grads(params, zeros, l1=0.3, l2=0.7)
    eps = 1e-6
    for i, (W, _b) in enumerate(params):
        assert np.all(g[i].b == 0)  # biases are not penalised
        for idx in [(0, 0, 0), (1, 1, 0), (1, W.shape[1] - 1, W.shape[2] - 1)]:
            old = W[idx]
            W[idx] = old + eps
            up = _penalty(params, 0.3, 0.7)
            W[idx] = old - eps
            down = _penalty(params, 0.3, 0.7)
            W[idx] = old
            assert g[i].W[idx] == pytest.approx((up - down) / (2 * eps), rel=1e-6)


def test_regularisation_is_off_by_default():
    t = TrainSpec()
    assert t.l1 == 0 and t.l2 == 0 and t.dropout == 0


def _fit(small_moons, **train):
    spec = MLPSpec(n_inputs=2, hidden=[8, 8], activation="tanh")
    tr = TrainSpec(epochs=15, batch_size=16, optimizer="adam", lr=0.02, **train)
    params = ENGINE.init(spec, [0, 1])
    return fit(ENGINE, spec, params, small_moons, tr, [0, 1])


def test_l1_and_l2_shrink_the_weights(small_moons):
    base, _ = _fit(small_moons)
    l2, _ = _fit(small_moons, l2=0.05)
    l1, _ = _fit(small_moons, l1=0.01)
    norm = lambda p: sum(float(np.abs(W).sum()) for W, _ in p)  # noqa: E731
    assert norm(l2) < norm(base) and norm(l1) < norm(base)
    # L1 drives weights to (near) zero more than L2 does
    small = lambda p: sum(int((np.abs(W) < 1e-2).sum()) for W, _ in p)  # noqa: E731
    assert small(l1) > small(base)


def test_dropout_masks_are_per_member_reproducible_and_scaled():
    spec = MLPSpec(n_inputs=2, hidden=[50, 40], activation="relu")
    tr = TrainSpec(dropout=0.25)
    a = dropout_masks(ENGINE, spec, 0.25, dropout_rngs(ENGINE, tr, [0, 1]), 200)
    b = dropout_masks(ENGINE, spec, 0.25, dropout_rngs(ENGINE, tr, [0, 1]), 200)
    assert [m.shape for m in a] == [(2, 200, 50), (2, 200, 40)]
    for ma, mb in zip(a, b):
        np.testing.assert_array_equal(ma, mb)
        assert set(np.unique(ma)) == {0.0, 1 / 0.75}
        assert ma.mean() == pytest.approx(1.0, abs=0.03)
        assert not np.array_equal(ma[0], ma[1])  # members draw their own masks
    assert dropout_rngs(ENGINE, TrainSpec(), [0]) is None


def test_gradients_with_dropout_masks_match_finite_differences(rng):
    spec = MLPSpec(n_inputs=2, hidden=[5, 4], activation=["tanh", "gelu"], n_classes=3)
    params = ENGINE.init(spec, [0, 1])
    X = rng.normal(size=(6, 2))
    y = np.arange(6) % 3
    masks = dropout_masks(ENGINE, spec, 0.4, [np.random.default_rng(s) for s in (5, 6)], 6)
    _, grads = ENGINE.loss_and_grad(spec, params, X, y, masks=masks)
    eps = 1e-6
    for i, (W, _) in enumerate(params):
        for idx in np.ndindex(W.shape):
            old = W[idx]
            W[idx] = old + eps
            up = ENGINE.loss_and_grad(spec, params, X, y, masks=masks)[0].sum()
            W[idx] = old - eps
            down = ENGINE.loss_and_grad(spec, params, X, y, masks=masks)[0].sum()
            W[idx] = old
            assert grads[i].W[idx] == pytest.approx((up - down) / (2 * eps), rel=1e-5, abs=1e-8)


def test_dropout_training_is_reproducible_and_changes_training(small_moons):
    p1, h1 = _fit(small_moons, dropout=0.3)
    p2, h2 = _fit(small_moons, dropout=0.3)
    p0, h0 = _fit(small_moons)
    for (W1, _), (W2, _) in zip(p1, p2):
        np.testing.assert_array_equal(W1, W2)
    assert not np.allclose(p1[0].W, p0[0].W)
    assert np.all(np.isfinite(h1.last("test/accuracy")))


def test_dropout_on_an_engine_without_it_is_refused():
    class NoDropout:
        name = "nodrop"
        capabilities = Capabilities(dropout=False)

    with pytest.raises(InputError, match="train.dropout = 0.5: the nodrop engine has no dropout"):
        dropout_rngs(NoDropout(), TrainSpec(dropout=0.5), [0])


@pytest.mark.parametrize(("train", "pattern"), [
    ({"dropout": 1.0}, r"train.dropout = 1.0"), ({"l1": -0.1}, r"train.l1 = -0.1"),
    ({"l2": "a"}, r"train.l2"),
])
def test_bad_regularisation_values_are_refused(train, pattern):
    with pytest.raises(InputError, match=pattern):
        parse_spec({"train": train, "arms": [{"name": "a", "activation": "relu"}]})


def test_torch_engine_trains_with_the_same_dropout_masks(small_moons):
    pytest.importorskip("torch")
    torch_engine = get_engine("torch", dtype="float64")
    spec = MLPSpec(n_inputs=2, hidden=[6, 5], activation=["relu", "softsign"])
    tr = TrainSpec(epochs=4, batch_size=16, dropout=0.3, l1=0.001, l2=0.01)
    p_np, _ = fit(ENGINE, spec, ENGINE.init(spec, [0, 1]), small_moons, tr, [0, 1])
    p_t, _ = fit(torch_engine, spec, torch_engine.init(spec, [0, 1]), small_moons, tr, [0, 1])
    for (W, b), (tW, tb) in zip(p_np, torch_engine.to_numpy(p_t)):
        np.testing.assert_allclose(tW, W, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(tb, b, rtol=1e-9, atol=1e-12)
