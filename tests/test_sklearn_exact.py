"""`data.sklearn_exact` gives scikit-learn's arrays byte for byte, and the data path of a
moons or circles run never imports scikit-learn."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from actscope.data import sklearn_exact as ex
from actscope.data.generators import class_curves, load_dataset

datasets = pytest.importorskip("sklearn.datasets")
model_selection = pytest.importorskip("sklearn.model_selection")
preprocessing = pytest.importorskip("sklearn.preprocessing")


def same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal bytes, dtype, shape and memory layout (a reduction's rounding follows it)."""
    return (a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
            and a.flags.c_contiguous == b.flags.c_contiguous
            and a.flags.f_contiguous == b.flags.f_contiguous)


SIZES = [2, 3, 7, 100, 400, 1001]


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("noise", [None, 0.0, 0.18, 1.5])
@pytest.mark.parametrize("seed", [0, 42, 2**31 - 1])
def test_moons_and_circles_are_sklearns(n, noise, seed):
    for shuffle in (True, False):
        kw = dict(n_samples=n, noise=noise, random_state=seed, shuffle=shuffle)
        for ours, theirs in zip(ex.make_moons(**kw), datasets.make_moons(**kw)):
            assert same(ours, theirs)
        for factor in (0.3, 0.8):
            for ours, theirs in zip(ex.make_circles(**kw, factor=factor),
                                    datasets.make_circles(**kw, factor=factor)):
                assert same(ours, theirs)


@pytest.mark.parametrize("layout", ["C", "F"])
@pytest.mark.parametrize("n,test_size", [(4, 0.25), (10, 0.5), (400, 0.25), (401, 0.1), (97, 0.33)])
def test_split_is_sklearns(layout, n, test_size):
    rng = np.random.default_rng(n)
    X = np.asarray(rng.standard_normal((n, 3)), order=layout)
    y = rng.integers(0, 3, n)
    for seed in (0, 42, 7):
        ours = ex.train_test_split(X, y, test_size=test_size, random_state=seed)
        theirs = model_selection.train_test_split(X, y, test_size=test_size, random_state=seed)
        assert all(same(a, b) for a, b in zip(ours, theirs, strict=True))


@pytest.mark.parametrize("layout", ["C", "F"])
@pytest.mark.parametrize("shape,scale,offset", [((400, 2), 1.0, 0.0), ((50, 7), 1e-3, 1e6),
                                                ((3, 1), 10.0, -5.0), ((1000, 30), 1e5, 0.5)])
def test_scaler_is_sklearns(layout, shape, scale, offset):
    rng = np.random.default_rng(shape[0])
    X = np.asarray(offset + scale * rng.standard_normal(shape), order=layout)
    X[:, 0] = 3.25  # a constant feature: scale 1
    fitted = preprocessing.StandardScaler().fit(X)
    mean, sd = ex.standard_scaler(X)
    assert same(mean, fitted.mean_) and same(sd, fitted.scale_)
    assert sd[0] == 1.0
    assert same((X - mean) / sd, fitted.transform(X))


def _reference(spec):
    """`load_dataset` as it was written with scikit-learn (before `sklearn_exact`)."""
    make = {"moons": datasets.make_moons, "circles": datasets.make_circles}[spec.name]
    kw = {"factor": spec.factor} if spec.name == "circles" else {}
    X, y = make(n_samples=spec.n_samples, noise=spec.noise, random_state=spec.random_state, **kw)
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.int64)
    scaler = None
    if spec.standardize == "all":
        scaler = preprocessing.StandardScaler().fit(X)
        X = scaler.transform(X)
    X_tr, X_te, y_tr, y_te = model_selection.train_test_split(
        X, y, test_size=spec.test_size, random_state=spec.split_seed)
    X_va = y_va = None
    if spec.val_size > 0:
        X_tr, X_va, y_tr, y_va = model_selection.train_test_split(
            X_tr, y_tr, test_size=spec.val_size, random_state=spec.split_seed)
    if spec.standardize == "train":
        scaler = preprocessing.StandardScaler().fit(X_tr)
        X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
        X_va = None if X_va is None else scaler.transform(X_va)
    arrays = [X_tr, y_tr, X_te, y_te, X_va, y_va]
    return arrays + ([None, None] if scaler is None else [scaler.mean_, scaler.scale_])


@pytest.mark.parametrize("name", ["moons", "circles"])
@pytest.mark.parametrize("standardize", ["all", "train", "none"])
@pytest.mark.parametrize("n,val_size,seed", [(400, 0.0, 42), (400, 0.2, 42), (123, 0.1, 3), (60, 0.0, 0)])
def test_load_dataset_is_what_sklearn_gave(name, standardize, n, val_size, seed):
    spec = SimpleNamespace(name=name, n_samples=n, noise=0.18, random_state=seed, test_size=0.25,
                           val_size=val_size, split_seed=seed + 1, standardize=standardize, factor=0.5)
    d = load_dataset(spec)
    ours = [d.X_train, d.y_train, d.X_test, d.y_test, d.X_val, d.y_val,
            *(d.scaler if d.scaler is not None else (None, None))]
    for a, b in zip(ours, _reference(spec), strict=True):
        assert (a is None and b is None) or same(a, b)


def test_class_curves_are_sklearns_noiseless_points():
    for name, make, kw in [("moons", datasets.make_moons, {}),
                           ("circles", datasets.make_circles, {"factor": 0.4})]:
        spec = SimpleNamespace(n_samples=301, **kw)
        X, y = make(n_samples=301, noise=None, shuffle=False, **kw)
        ours = class_curves(name, spec)
        assert ours is not None and same(ours[0], X[y == 0]) and same(ours[1], X[y == 1])


def test_a_moons_run_loads_its_data_without_sklearn():
    code = ("import sys\n"
            "from actscope.config import load_spec\n"
            "from actscope.experiment.run import prepare_arms\n"
            "prepare_arms(load_spec('sigmoid-vs-relu'))\n"
            "print(sorted(m for m in ('sklearn', 'pandas', 'scipy.stats') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_scaler_refuses_non_finite_data():
    with pytest.raises(ValueError, match="finite"):
        ex.standard_scaler(np.array([[1.0], [np.nan]]))
