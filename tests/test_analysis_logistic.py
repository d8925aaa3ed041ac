"""The probes' logistic regression and ranks without scikit-learn or scipy.stats: the same
fits and ranks as theirs (issue 19: a run's probes load neither)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.stats import rankdata

from actscope.analysis.probes import probe_accuracy
from actscope.analysis.probes.logistic import fit_logistic
from actscope.analysis.stats import average_ranks, spearman

sklearn_lm = pytest.importorskip("sklearn.linear_model")
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

COEF_TOL = 1e-6  # the same optimiser on the same objective: far below what moves a prediction


def _problem(seed: int):
    """A random problem: 2-4 classes, 1-20 features, scales from 0.1 to 5, separable or not."""
    rng = np.random.default_rng(seed)
    k, n, d = int(rng.integers(2, 5)), int(rng.integers(30, 300)), int(rng.integers(1, 20))
    X = rng.standard_normal((n, d)) * rng.uniform(0.1, 5)
    if seed % 2:  # labels a linear model can read
        y = np.digitize(X[:, 0] + 0.3 * rng.standard_normal(n), np.linspace(-1, 1, k - 1))
    else:  # noise
        y = rng.integers(0, k, n)
    y[:2] = [0, 1]  # two classes at least
    labels = np.array([3, 7, 11, 20])[:k]  # not 0..k-1: the classes come back as given
    return X, labels[y], rng.standard_normal((200, d)) * 2, float([10.0, 1.0, 0.1][seed % 3])


def _sklearn(X, y, C):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return sklearn_lm.LogisticRegression(C=C, max_iter=1000).fit(X, y)


@pytest.mark.parametrize("seed", range(40))
def test_the_fit_is_scikit_learns_to_1e_6_and_predicts_the_same_classes(seed):
    X, y, X_new, C = _problem(seed)
    sk, ours = _sklearn(X, y, C), fit_logistic(X, y, C=C, max_iter=1000)
    assert list(ours.classes) == list(sk.classes_)
    assert ours.coef.shape == sk.coef_.shape  # (1, d) for two classes, (k, d) for more
    assert np.abs(ours.coef - sk.coef_).max() < COEF_TOL
    assert np.abs(ours.intercept - sk.intercept_).max() < COEF_TOL
    assert (ours.predict(X) == sk.predict(X)).all() and (ours.predict(X_new) == sk.predict(X_new)).all()


def test_probe_accuracy_equals_scikit_learns_pipeline_on_hidden_like_features(rng):
    H = np.tanh(rng.standard_normal((3, 160, 8)) @ rng.standard_normal((8, 8)))
    y = (H[..., 0] + 0.5 * H[..., 1] > 0).astype(int)[0]
    got = probe_accuracy(H[:, :120], y[:120], H[:, 120:], y[120:])
    for k in range(3):
        sc = StandardScaler().fit(H[k, :120])
        clf = _sklearn(sc.transform(H[k, :120]), y[:120], 10.0)
        assert got[k] == clf.score(sc.transform(H[k, 120:]), y[120:])


def test_one_class_is_refused():
    with pytest.raises(ValueError, match="two classes"):
        fit_logistic(np.ones((5, 2)), np.zeros(5))


@pytest.mark.parametrize("seed", range(30))
def test_average_ranks_are_scipys_rankdata_ties_included(seed):
    rng = np.random.default_rng(seed)
    shape = tuple(int(s) for s in rng.integers(1, 7, size=int(rng.integers(1, 4))))
    a = rng.integers(0, 4, shape).astype(float) if seed % 2 else rng.standard_normal(shape)
    axis = int(rng.integers(-len(shape), len(shape)))
    assert np.array_equal(average_ranks(a, axis=axis), rankdata(a, axis=axis))


def test_spearman_is_one_for_a_monotone_map_and_nan_for_a_constant(rng):
    x = rng.standard_normal((4, 50))
    assert np.allclose(spearman(x, np.exp(x)), 1.0)
    assert np.allclose(spearman(x, -x ** 3), -1.0)
    assert np.isnan(spearman(x[0], np.zeros(50)))
