"""The datasets: 2-D generators, scikit-learn's built-ins, and their validation."""

from __future__ import annotations

import numpy as np
import pytest

from actscope.config import DataSpec, make_dataset, parse_spec
from actscope.data.generators import GENERATORS
from actscope.errors import InputError

GENERATED = ["moons", "circles", "xor", "spiral", "blobs", "checkerboard"]


@pytest.mark.parametrize("name", GENERATED)
def test_generators_are_2d_seeded_and_sized(name):
    a = make_dataset(name=name, n_samples=120, noise=0.1, random_state=3)
    b = make_dataset(name=name, n_samples=120, noise=0.1, random_state=3)
    c = make_dataset(name=name, n_samples=120, noise=0.1, random_state=4)
    assert a.is_2d and len(a.y_train) + len(a.y_test) == 120
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert not np.array_equal(a.X_train, c.X_train)
    assert set(np.unique(np.r_[a.y_train, a.y_test])) == set(range(a.n_classes))
    assert len(a.class_names) == a.n_classes


def _raw(name, **kw):
    spec = DataSpec(name=name, **kw)
    X, y, _, _ = GENERATORS[name](spec)
    return np.asarray(X), np.asarray(y)


def test_xor_labels_follow_the_quadrants_without_noise():
    X, y = _raw("xor", n_samples=200, noise=0.0)
    np.testing.assert_array_equal(y, (X[:, 0] * X[:, 1] > 0).astype(int))


def test_checkerboard_cells_and_labels():
    X, y = _raw("checkerboard", n_samples=300, noise=0.0, cells=3)
    assert X.min() >= 0 and X.max() < 3
    np.testing.assert_array_equal(y, (np.floor(X[:, 0]) + np.floor(X[:, 1])).astype(int) % 2)


def test_spiral_arms_wind_as_many_turns_as_asked():
    for turns in (0.5, 2.0):
        X, y = _raw("spiral", n_samples=400, noise=0.0, turns=turns)
        r = np.hypot(X[:, 0], X[:, 1])
        assert r.max() <= 1.0 + 1e-12
        # arm c is the curve angle = 2 pi turns r + pi c: a point's angle follows its radius
        expected = 2 * np.pi * turns * r + np.pi * y
        diff = np.angle(np.exp(1j * (np.arctan2(X[:, 1], X[:, 0]) - expected)))
        np.testing.assert_allclose(diff, 0, atol=1e-9)
        assert (y == 1).sum() == 200 and r.max() > 0.9


def test_blobs_has_as_many_classes_as_centers():
    d = make_dataset(name="blobs", centers=5, n_samples=200)
    assert d.n_classes == 5


def test_circles_factor_separates_the_rings():
    X, y = _raw("circles", n_samples=200, noise=0.0, factor=0.3)
    r = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(r[y == 1], 0.3, atol=1e-9)
    np.testing.assert_allclose(r[y == 0], 1.0, atol=1e-9)


@pytest.mark.parametrize(("name", "features", "classes", "rows"), [
    ("breast_cancer", 30, 2, 569), ("iris", 4, 3, 150), ("wine", 13, 3, 178), ("digits", 64, 10, 1797),
])
def test_sklearn_builtins(name, features, classes, rows):
    d = make_dataset(name=name)
    assert d.n_features == features and d.n_classes == classes
    assert len(d.y_train) + len(d.y_test) == rows
    assert len(d.feature_names) == features and len(d.class_names) == classes
    assert not d.is_2d
    np.testing.assert_allclose(d.X_train.mean(axis=0), 0, atol=1e-9)


@pytest.mark.parametrize(("data", "pattern"), [
    ({"name": "moons", "turns": 2}, r"turns applies only to name = 'spiral'"),
    ({"name": "spiral", "cells": 3}, r"cells applies only to name = 'checkerboard'"),
    ({"name": "csv"}, r"needs path"),
    ({"name": "blobs", "centers": 1}, r"data.centers"),
    ({"name": "spiral", "turns": -1}, r"data.turns"),
    ({"name": "mnist"}, r"data.name = 'mnist'"),
])
def test_bad_data_sections_are_refused(data, pattern):
    with pytest.raises(InputError, match=pattern):
        parse_spec({"data": data, "arms": [{"name": "a", "activation": "relu"}]})


def test_defaults_of_the_chosen_dataset_are_explicit_in_the_resolved_spec():
    spec = parse_spec({"data": {"name": "spiral"}, "arms": [{"name": "a", "activation": "relu"}]})
    assert spec.data.turns == 1.5 and spec.data.cells is None
    text = spec.to_toml()
    assert "turns = 1.5" in text and "cells" not in text
    moons = parse_spec({"arms": [{"name": "a", "activation": "relu"}]}).to_toml()
    assert "turns" not in moons and "path" not in moons


def test_too_few_rows_to_split():
    with pytest.raises(InputError, match="too few"):
        make_dataset(name="xor", n_samples=2, test_size=0.5)


@pytest.mark.parametrize(("preset", "data"), [("spiral-activations", "spiral"),
                                              ("digits-activations", "digits")])
def test_activation_comparison_presets_validate_and_train(preset, data):
    from actscope.config import load_spec, with_overrides
    from actscope.experiment import run_experiment

    spec = load_spec(preset)
    assert len(spec.arms) == 8 and spec.data.name == data
    assert len({str(a.activation) for a in spec.arms}) == 8
    run = run_experiment(with_overrides(spec, seeds=1, epochs=1))
    assert set(run.metrics["arms"]) == {a.name for a in spec.arms}
    for arm in run.metrics["arms"].values():
        assert arm["members"][0]["test_accuracy"] is not None
