"""MLPSpec, init schemes and the random-number protocols."""

from __future__ import annotations

import numpy as np
import pytest

from actscope.nn.model import MLPSpec, init_params


def test_article_protocol_draws_like_np_random_seed():
    spec = MLPSpec(n_inputs=2, hidden=[8, 8], activation="relu", init="he")
    params = init_params(spec, [42], rng="article")
    np.random.seed(42)  # the article's own calls, in the article's order
    W1 = np.random.randn(2, 8) * np.sqrt(2 / 2)
    W2 = np.random.randn(8, 8) * np.sqrt(2 / 8)
    W3 = np.random.randn(8, 1) * np.sqrt(2 / 8)
    for got, want in zip(params, [W1, W2, W3]):
        np.testing.assert_array_equal(got.W[0], want)
        assert not got.b.any()


def test_auto_init_is_he_for_relu_and_xavier_otherwise():
    wide = dict(n_inputs=400, hidden=[400])
    relu = init_params(MLPSpec(activation="relu", **wide), [0])[0].W
    sig = init_params(MLPSpec(activation="sigmoid", **wide), [0])[0].W
    assert relu.std() == pytest.approx(np.sqrt(2 / 400), rel=0.02)
    assert sig.std() == pytest.approx(np.sqrt(1 / 400), rel=0.02)
    # the same raw draws, only scaled: the paired design of the arms
    np.testing.assert_allclose(relu / sig, np.sqrt(2))


def test_default_protocol_differs_from_article_and_is_reproducible():
    spec = MLPSpec(n_inputs=2, hidden=[4], activation="tanh")
    a = init_params(spec, [1, 2])
    b = init_params(spec, [1, 2])
    c = init_params(spec, [1, 2], rng="article")
    np.testing.assert_array_equal(a[0].W, b[0].W)
    assert not np.allclose(a[0].W, c[0].W)


def test_sizes_and_counts():
    spec = MLPSpec(n_inputs=2, hidden=[8, 8], activation="relu")
    assert spec.sizes == (2, 8, 8, 1)
    assert spec.n_params == (2 * 8 + 8) + (8 * 8 + 8) + (8 + 1)
    assert spec.flops_per_prediction(activation_flops=0) == 2 * (16 + 64 + 8) + 17
    assert MLPSpec(n_inputs=4, hidden=[3], n_classes=5).sizes == (4, 3, 5)


@pytest.mark.parametrize("bad, match", [
    (dict(hidden=[0]), r"hidden\[0\] = 0"),
    (dict(hidden=[4, 4], activation=["relu"]), "1 given for 2 hidden layers"),
    (dict(hidden=[4], init="nope"), "init 'nope'"),
    (dict(hidden=[4], n_classes=1), "n_classes = 1"),
])
def test_bad_specs_are_refused_with_the_field(bad, match):
    with pytest.raises(ValueError, match=match):
        MLPSpec(n_inputs=2, **bad)
