"""ActscopeClassifier: scikit-learn's own estimator checks, its place in Pipeline,
GridSearchCV and cross_val_score, and that its networks are actscope's networks."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris, make_moons
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from actscope.estimators import ActscopeClassifier

# small enough that the whole check suite runs in seconds, large enough to pass its
# accuracy thresholds (check_classifiers_train asks for 0.83 on blobs)
SMALL = ActscopeClassifier(hidden=(8,), n_members=2, epochs=30, lr=0.05, random_state=0)
MISH = "x * tanh(log(1 + exp(x)))"


@parametrize_with_checks([SMALL])
def test_sklearn_estimator_checks(estimator, check):
    if "check_array_api_input" in repr(check) and os.environ.get("SCIPY_ARRAY_API") != "1":
        pytest.skip("needs SCIPY_ARRAY_API=1 before SciPy loads: run in a subprocess by "
                    "test_array_api_dispatch_leaves_results_unchanged")
    check(estimator)


def test_array_api_dispatch_leaves_results_unchanged():
    """The one check scikit-learn skips in-process (SciPy must load with SCIPY_ARRAY_API=1):
    with array API dispatch on, NumPy inputs give the same results."""
    code = ("from sklearn.utils.estimator_checks import check_array_api_input\n"
            "from actscope.estimators import ActscopeClassifier\n"
            "check_array_api_input('ActscopeClassifier', ActscopeClassifier(hidden=(8,), n_members=2, "
            "epochs=30, lr=0.05, random_state=0), array_namespace='numpy', expect_only_array_outputs=False)\n"
            "print('passed')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "SCIPY_ARRAY_API": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("passed")


@pytest.fixture(scope="module")
def moons():
    return make_moons(n_samples=240, noise=0.2, random_state=0)


def test_members_are_the_networks_of_their_seeds(moons):
    """Member k of an ensemble seeded s is the one-member fit seeded s + k (members are
    independent, seed by seed), and predict_proba is the mean of the members'."""
    X, y = moons
    ens = ActscopeClassifier(n_members=3, epochs=20, random_state=7).fit(X, y)
    singles = [ActscopeClassifier(n_members=1, epochs=20, random_state=7 + k).fit(X, y) for k in range(3)]
    assert ens.seeds_ == [7, 8, 9]
    for k, one in enumerate(singles):
        np.testing.assert_allclose(ens.params_[0].W[k], one.params_[0].W[0], rtol=1e-12, atol=1e-14)
    mean = np.mean([one.predict_proba(X) for one in singles], axis=0)
    np.testing.assert_allclose(ens.predict_proba(X), mean, rtol=1e-10, atol=1e-12)
    assert not np.allclose(singles[0].predict_proba(X), singles[1].predict_proba(X))


def test_grid_search_over_activations_in_a_pipeline(moons):
    X, y = moons
    pipe = make_pipeline(StandardScaler(), ActscopeClassifier(n_members=2, epochs=40, random_state=0))
    grid = {"actscopeclassifier__activation": ["relu", "tanh", MISH]}
    search = GridSearchCV(pipe, grid, cv=3).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert list(search.cv_results_["param_actscopeclassifier__activation"]) == grid[
        "actscopeclassifier__activation"]
    assert np.all(scores > 0.8), scores  # moons at noise 0.2: every nonlinearity learns them
    assert search.best_params_["actscopeclassifier__activation"] == grid[
        "actscopeclassifier__activation"][int(np.argmax(scores))]
    assert search.best_estimator_[-1].network_.activation == (search.best_params_[
        "actscopeclassifier__activation"] if "x" not in search.best_params_[
        "actscopeclassifier__activation"] else f"f(x) = {MISH}",) * 2


def test_cross_val_score_beats_a_straight_line(moons):
    """On moons a linear model scores about 0.86; a ReLU ensemble does better, and the network
    without activations (identity) does not."""
    X, y = moons
    relu = cross_val_score(make_pipeline(StandardScaler(), ActscopeClassifier(random_state=0, epochs=60)),
                           X, y, cv=4)
    linear = cross_val_score(make_pipeline(StandardScaler(), ActscopeClassifier(
        activation="identity", random_state=0, epochs=60)), X, y, cv=4)
    assert relu.shape == (4,) and np.all(np.isfinite(relu))
    assert relu.mean() > 0.93 and linear.mean() < 0.9, (relu, linear)


def test_multiclass_string_labels():
    X, y = load_iris(return_X_y=True)
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = make_pipeline(StandardScaler(), ActscopeClassifier(epochs=60, random_state=0)).fit(X, labels)
    proba = clf.predict_proba(X)
    assert proba.shape == (150, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert list(clf[-1].classes_) == ["setosa", "versicolor", "virginica"]
    assert clf.score(X, labels) > 0.9


def test_fitted_attributes(moons):
    X, y = moons
    clf = ActscopeClassifier(hidden=[6, 5, 4], activation=["tanh", "relu", "leaky_relu(0.1)"],
                             epochs=25, n_members=4, random_state=3).fit(X, y)
    assert clf.network_.sizes == (2, 6, 5, 4, 1)
    assert clf.network_.activation == ("tanh", "relu", "leaky_relu(0.1)")
    assert [layer.W.shape for layer in clf.params_] == [(4, 2, 6), (4, 6, 5), (4, 5, 4), (4, 4, 1)]
    assert clf.loss_curve_.shape == (25,) and clf.n_iter_ == 25
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert not clf.diverged_.any() and clf.n_features_in_ == 2


def test_feature_names_from_a_dataframe(moons):
    pd = pytest.importorskip("pandas")
    X, y = moons
    frame = pd.DataFrame(X, columns=["width", "height"])
    clf = ActscopeClassifier(epochs=5, random_state=0).fit(frame, y)
    assert list(clf.feature_names_in_) == ["width", "height"]
    with pytest.warns(UserWarning, match="feature names"):
        clf.predict(X)


@pytest.mark.parametrize("params, message", [
    ({"activation": "tanhh"}, "ActscopeClassifier: activation = 'tanhh': not a registered activation "
                              "and not a formula in x; known: elu, "),
    ({"engine": "nump"}, "ActscopeClassifier: engine = 'nump': unknown engine; known: "),
    ({"optimizer": "adm"}, "ActscopeClassifier: optimizer = 'adm': unknown optimizer; known: sgd, "),
    ({"hidden": [4, 0]}, "ActscopeClassifier: hidden = [4, 0]: hidden layer widths are one or more"),
    ({"activation": ["relu"], "hidden": (4, 4)}, "ActscopeClassifier: activation = ['relu']: one "
                                                 "activation, or one per hidden layer (2 here)"),
    ({"init": "hee"}, "ActscopeClassifier: init = 'hee': unknown init scheme; known: "),
])
def test_bad_parameters_are_one_line_at_fit(moons, params, message):
    X, y = moons
    clf = ActscopeClassifier(**params)  # accepted as given: scikit-learn validates in fit
    assert clf.get_params()[next(iter(params))] == next(iter(params.values()))
    with pytest.raises(ValueError) as err:
        clf.fit(X, y)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_one_class_is_refused(moons):
    X, y = moons
    with pytest.raises(ValueError, match="y has 1 class"):
        ActscopeClassifier().fit(X, np.zeros_like(y))


def test_every_member_diverged_is_refused(moons):
    X, y = moons
    with pytest.raises(ValueError, match="every member diverged"):
        ActscopeClassifier(activation="x * exp(x)", optimizer="sgd", lr=1e6, epochs=5).fit(X * 100, y)


def test_torch_engine_trains_the_same_networks(moons):
    pytest.importorskip("torch")
    X, y = moons
    a = ActscopeClassifier(epochs=15, n_members=2, random_state=0).fit(X, y)
    b = clone(a).set_params(engine="torch").fit(X, y)
    np.testing.assert_allclose(b.predict_proba(X), a.predict_proba(X), rtol=1e-9, atol=1e-12)
