"""The numba engine agrees with the NumPy reference: contract, fused training, batches."""

from __future__ import annotations

import sys

import numpy as np
import pytest

pytest.importorskip("numba", reason="the fast engine needs numba (extra 'fast')")

from actscope.activations import get_activation, list_activations  # noqa: E402
from actscope.config import TrainSpec  # noqa: E402
from actscope.engines import MissingExtraError, NumpyEngine, get_engine  # noqa: E402
from actscope.engines.codegen import supports  # noqa: E402
from actscope.engines.fast_engine import BatchOrders, FastEngine  # noqa: E402
from actscope.nn.model import MLPSpec  # noqa: E402
from actscope.training.loop import batch_streams, fit  # noqa: E402

COMPILED = [n for n in list_activations() if get_activation(n).scalar is not None]
# every compiled activation, six to a network (one kernel per group keeps compiling short)
GROUPS = [COMPILED[i:i + 6] for i in range(0, len(COMPILED), 6)]
GROUPS[-1] = (GROUPS[-1] + COMPILED)[:6]
SEEDS = list(range(19))  # more than one block of lanes, and a partial one


def _group_spec(acts) -> MLPSpec:
    return MLPSpec(2, [3] * len(acts), list(acts))


def _fit_both(spec, data, train, seeds=SEEDS):
    fast, ref = FastEngine(train.dtype, kernel="specialised"), NumpyEngine(train.dtype)  # generic: own file
    pf, hf = fit(fast, spec, fast.init(spec, seeds, train.rng), data, train, seeds)
    pn, hn = fit(ref, spec, ref.init(spec, seeds, train.rng), data, train, seeds)
    return (pf, hf), (pn, hn)


def _assert_same(a, b, rtol, atol):
    (pf, hf), (pn, hn) = a, b
    assert set(hf.values) == set(hn.values)
    for key in hn.values:
        np.testing.assert_allclose(hf.values[key], hn.values[key], rtol=rtol, atol=atol, err_msg=key)
    for (W, c), (V, d) in zip(pf, pn):
        assert W.shape == V.shape and c.shape == d.shape
        np.testing.assert_allclose(W, V, rtol=rtol, atol=atol)
        np.testing.assert_allclose(c, d, rtol=rtol, atol=atol)
    np.testing.assert_array_equal(hf.diverged, hn.diverged)
    np.testing.assert_array_equal(hf.diverged_epoch, hn.diverged_epoch)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("acts", GROUPS, ids="/".join)
def test_fused_fit_agrees_with_numpy(small_moons, acts, optimizer):
    spec = _group_spec(acts)
    assert supports(spec)
    train = TrainSpec(epochs=4, optimizer=optimizer, lr=0.05 if optimizer == "sgd" else 0.01)
    _assert_same(*_fit_both(spec, small_moons, train), rtol=1e-9, atol=1e-11)


def test_float32_article_network_agrees(small_moons):
    spec = MLPSpec(2, [8, 8], "relu")
    train = TrainSpec(epochs=5, dtype="float32", optimizer="momentum")
    _assert_same(*_fit_both(spec, small_moons, train), rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("rng, shuffle", [("article", True), ("default", False)])
def test_other_batch_orders_agree(small_moons, rng, shuffle):
    spec = _group_spec(GROUPS[0])
    train = TrainSpec(epochs=3, rng=rng, shuffle=shuffle, optimizer="nesterov", weight_decay=1e-3)
    _assert_same(*_fit_both(spec, small_moons, train, seeds=[3, 7, 42]), rtol=1e-9, atol=1e-11)


def test_divergence_is_marked_like_numpy(small_moons):
    spec = _group_spec(GROUPS[0])
    train = TrainSpec(epochs=3, lr=1e300)  # overflows within a few steps
    (pf, hf), (pn, hn) = _fit_both(spec, small_moons, train)
    assert hn.diverged.any()  # the case exercises divergence
    np.testing.assert_array_equal(hf.diverged, hn.diverged)
    np.testing.assert_array_equal(hf.diverged_epoch, hn.diverged_epoch)
    for key in hn.values:
        np.testing.assert_array_equal(np.isnan(hf.values[key]), np.isnan(hn.values[key]), err_msg=key)


def test_batch_orders_are_numpy_permutations():
    spec = MLPSpec(2, [4, 3], "relu")
    mine, theirs = batch_streams(spec, SEEDS, "default"), batch_streams(spec, SEEDS, "default")
    orders = BatchOrders(mine, 300)
    for _ in range(3):
        np.testing.assert_array_equal(orders.next(), np.stack([st.permutation(300) for st in theirs]))


def test_contract_views_and_evaluation(small_moons):
    spec = _group_spec(GROUPS[1 % len(GROUPS)])
    fast, ref = FastEngine(), NumpyEngine()
    pf, pn = fast.init(spec, SEEDS), ref.init(spec, SEEDS)
    for (W, b), (V, c) in zip(pf, pn):
        assert W.shape == V.shape and b.shape == c.shape
        np.testing.assert_array_equal(W, V)
    X, y = small_moons.split("test")
    for got, want in zip(fast.loss_and_accuracy(spec, pf, X, y), ref.loss_and_accuracy(spec, pn, X, y)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    loss_f, grads_f = fast.loss_and_grad(spec, pf, X, y)
    loss_n, grads_n = ref.loss_and_grad(spec, pn, X, y)
    np.testing.assert_allclose(loss_f, loss_n, rtol=1e-12)
    np.testing.assert_allclose(grads_f[0].W, grads_n[0].W, rtol=1e-10, atol=1e-12)
    back = fast.to_numpy(fast.from_numpy(pn))
    assert all(np.array_equal(a.W, b.W) and a.W.flags.c_contiguous for a, b in zip(back, pn))


def test_unsupported_specs_use_the_numpy_path(small_moons):
    spec = MLPSpec(2, [4, 3], "relu", n_classes=3)
    assert not supports(spec) and FastEngine().kernels(spec) is None
    plain = [n for n in list_activations() if get_activation(n).scalar is None]
    if plain:
        spec2 = MLPSpec(2, [3], plain[0])
        assert FastEngine().kernels(spec2) is None
        _assert_same(*_fit_both(spec2, small_moons, TrainSpec(epochs=2), seeds=[0, 1]), 1e-12, 1e-12)


def test_missing_numba_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "numba", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'actscope\[fast\]'"):
        get_engine("fast")
