"""Probes on cases with known answers (probes.py, boundaries.py)."""

from __future__ import annotations

import numpy as np
import pytest

from actscope.analysis import probes
from actscope.config import DataSpec, ProbesSpec, parse_spec
from actscope.data.boundaries import arcs_bayes_score, boundary_points, grid_distance, grid_over, true_score
from actscope.engines import Capabilities, NumpyEngine
from actscope.errors import InputError
from actscope.nn.model import Layer, MLPSpec

ENGINE = NumpyEngine()
X_PLANE = np.random.default_rng(0).uniform(-2, 2, size=(200, 2))
XX, YY = grid_over(X_PLANE, 60)


def _params(*layers):
    """One member from plain (W, b) matrices."""
    return [Layer(np.asarray(W, float)[None], np.asarray(b, float)[None]) for W, b in layers]


# linear regions -----------------------------------------------------------------------------

def test_identity_network_has_exactly_one_linear_region():
    spec = MLPSpec(2, [5, 4], "identity")
    params = ENGINE.init(spec, [0, 1, 2])
    assert list(probes.linear_regions(ENGINE, spec, params, XX, YY)) == [1, 1, 1]


def test_relu_network_with_one_hidden_unit_has_at_most_two_regions():
    spec = MLPSpec(2, [1], "relu")
    counts = probes.linear_regions(ENGINE, spec, ENGINE.init(spec, list(range(8))), XX, YY)
    assert counts.max() <= 2 and counts.min() >= 1
    crossing = _params(([[1.0], [0.5]], [0.1]), ([[2.0]], [0.0]))  # its kink x1 + x2/2 = -0.1 cuts the plane
    assert probes.linear_regions(ENGINE, spec, crossing, XX, YY)[0] == 2


def test_two_relu_units_cut_the_plane_into_four_regions():
    spec = MLPSpec(2, [2], "relu")
    params = _params(([[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]), ([[1.0], [1.0]], [0.0]))
    ids = probes.activation_regions(ENGINE, spec, params, XX, YY)[0]
    assert ids.max() + 1 == 4
    q = ids[(XX > 0.2) & (YY > 0.2)]  # one quadrant is one region
    assert np.unique(q).size == 1


def test_regions_are_refused_for_smooth_networks():
    spec = MLPSpec(2, [3], "sigmoid")
    assert not probes.regions_defined(spec)
    with pytest.raises(ValueError, match="piecewise-linear"):
        probes.activation_regions(ENGINE, spec, ENGINE.init(spec, [0]), XX, YY)


# signal propagation -------------------------------------------------------------------------

def test_a_saturated_sigmoid_layer_is_reported_saturated():
    spec = MLPSpec(2, [6], "sigmoid")
    params = ENGINE.init(spec, [0, 1])
    big = [Layer(params[0].W * 200.0, params[0].b), params[1]]
    small = [Layer(params[0].W * 1e-3, params[0].b), params[1]]
    assert probes.signal_stats(ENGINE, spec, big, X_PLANE)["saturated"].min() > 0.95
    assert probes.signal_stats(ENGINE, spec, small, X_PLANE)["saturated"].max() == 0.0


def test_dead_relu_units_are_counted_and_families_get_their_own_keys():
    spec = MLPSpec(2, [4], "relu")
    W = np.eye(2, 4)
    params = _params((W, [0.0, 0.0, -100.0, -100.0]), (np.ones((4, 1)), [0.0]))
    s = probes.signal_stats(ENGINE, spec, params, X_PLANE)
    assert s["dead"][0, 0] == pytest.approx(0.5)  # two of four units never active
    assert "saturated" not in s
    assert "dead" not in probes.signal_stats(ENGINE, MLPSpec(2, [4], "tanh"),
                                             ENGINE.init(MLPSpec(2, [4], "tanh"), [0]), X_PLANE)


def test_signal_stats_measure_absolute_values_per_layer():
    spec = MLPSpec(2, [2, 3], "identity")
    params = ENGINE.init(spec, [0, 1, 2])
    s = probes.signal_stats(ENGINE, spec, params, X_PLANE)
    out = ENGINE.forward(spec, params, X_PLANE, record=True)
    assert s["z_abs_mean"].shape == (3, 2)
    assert s["a_abs_mean"][:, 1] == pytest.approx(np.abs(out.a[1]).mean(axis=(1, 2)))


def test_layer_gradient_norms_match_the_gradients():
    spec = MLPSpec(2, [4, 3], "tanh")
    params = ENGINE.init(spec, [0, 1])
    y = (X_PLANE[:, 0] > 0).astype(float)
    _, grads = ENGINE.loss_and_grad(spec, params, X_PLANE, y)
    g = probes.gradient_norms(ENGINE, spec, params, X_PLANE, y)
    assert g.shape == (2, 3)
    want = np.sqrt((grads[1].W[1] ** 2).sum() + (grads[1].b[1] ** 2).sum())
    assert g[1, 1] == pytest.approx(want)


# geometric context --------------------------------------------------------------------------

LINEAR = MLPSpec(2, [1], "identity")
X1 = _params(([[1.0], [0.0]], [0.0]), ([[1.0]], [0.0]))  # logit = x1: the boundary is x1 = 0


def test_distance_to_a_straight_learned_boundary():
    d = probes.decision_distance(ENGINE, LINEAR, X1, X_PLANE, XX, YY)
    assert d.shape == (1, len(X_PLANE))
    step = YY[1, 0] - YY[0, 0]  # the boundary is sampled 8 times per grid cell
    np.testing.assert_allclose(d[0], np.abs(X_PLANE[:, 0]), atol=step / 14 + 1e-12)
    assert d[0].min() >= 0 and (d[0] >= np.abs(X_PLANE[:, 0]) - 1e-12).all()


def test_linearised_distance_agrees_for_a_linear_network():
    d = probes.linearised_distance(ENGINE, LINEAR, X1, X_PLANE)
    np.testing.assert_allclose(d[0], np.abs(X_PLANE[:, 0]), rtol=1e-6)


def test_logit_magnitude_of_a_linear_network_ranks_distance_perfectly():
    d = np.abs(X_PLANE[:, 0])
    c = probes.context_correlations(ENGINE, LINEAR, X1, X_PLANE, d)
    assert c["rho_logit"][0] == pytest.approx(1.0)
    assert c["rho_norm"][0, 0] == pytest.approx(1.0)  # ||h|| = |x1| too


def test_boundary_points_of_a_circle_lie_on_it():
    xx, yy = grid_over(X_PLANE, 120)
    P = boundary_points(xx, yy, xx**2 + yy**2 - 1.0)
    np.testing.assert_allclose(np.hypot(P[:, 0], P[:, 1]), 1.0, atol=2e-3)
    assert np.isinf(grid_distance(xx, yy, np.ones_like(xx), X_PLANE)).all()


def test_true_moons_boundary_classifies_like_the_bayes_rule(small_moons):
    spec = DataSpec(n_samples=120, noise=0.15, random_state=0, test_size=0.25, split_seed=0)
    score = true_score(spec, small_moons)
    assert score is not None
    acc = ((score(small_moons.X_test) >= 0) == small_moons.y_test).mean()
    assert acc >= 0.9
    other = DataSpec(n_samples=100, noise=0.15, random_state=0)  # not these data: no answer
    assert true_score(other, small_moons) is None


def test_noiseless_arcs_split_at_equal_distance():
    score = arcs_bayes_score([np.array([[0.0, 0.0]]), np.array([[2.0, 0.0]])], [0.5, 0.5], noise=0.0)
    assert np.sign(score(np.array([[0.5, 0.0], [1.5, 0.0]]))).tolist() == [-1.0, 1.0]


# representation geometry --------------------------------------------------------------------

def test_participation_ratio_of_isotropic_gaussian_is_its_dimension():
    H = np.random.default_rng(1).normal(size=(20000, 6))
    assert probes.participation_ratio(H) == pytest.approx(6.0, rel=0.03)
    line = np.outer(np.arange(50.0), [1.0, 2.0, 3.0])
    assert probes.participation_ratio(line) == pytest.approx(1.0)
    assert probes.participation_ratio(np.ones((10, 3))) == 0.0


def test_logistic_probe_separates_linearly_separable_data_perfectly():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(400, 5))
    w = rng.normal(size=5)
    keep = np.abs(X @ w) > 0.3  # a margin around the separating hyperplane
    X, y = X[keep], (X[keep] @ w > 0).astype(int)
    assert probes.probe_accuracy(X[:200], y[:200], X[200:], y[200:]) == 1.0
    noise = rng.normal(size=X.shape)
    assert probes.probe_accuracy(noise[:200], y[:200], noise[200:], y[200:]) < 0.8


def test_unit_heatmaps_have_one_map_per_unit():
    spec = MLPSpec(2, [3, 5], "relu")
    maps = probes.unit_heatmaps(ENGINE, spec, ENGINE.init(spec, [0, 1]), XX, YY)
    assert [m.shape for m in maps] == [(2, 3, *XX.shape), (2, 5, *XX.shape)]


# running the probes of a spec ---------------------------------------------------------------

def test_measure_returns_one_value_per_member_for_every_probe(small_moons):
    setup = probes.setup_probes(small_moons, ProbesSpec(grid=60),
                                DataSpec(n_samples=120, noise=0.15, random_state=0, test_size=0.25,
                                         split_seed=0))
    spec = MLPSpec(2, [6, 6], "relu")
    vals = probes.measure(ENGINE, spec, ENGINE.init(spec, [0, 1, 2]), setup)
    for key in ("train/signal.dead.L2", "train/grad_norm.L3", "test/context.rho_norm.L1",
                "test/context.rho_norm_true.L2", "test/repr.pr.L1", "test/repr.probe_acc.L2",
                "grid/regions.count"):
        assert vals[key].shape == (3,), key
    assert "test/signal.saturated.L1" not in vals
    assert "test/signal.dead.L2" not in vals  # dead units are judged on the training split only
    assert setup.baseline["repr.pr.L0"] == pytest.approx(probes.participation_ratio(small_moons.X_test))


def test_probes_agree_across_engines(small_moons):
    pytest.importorskip("torch")
    from actscope.engines import get_engine

    try:
        torch_engine = get_engine("torch", dtype="float64")
    except Exception as err:  # noqa: BLE001 - an engine that cannot start here
        pytest.skip(f"torch engine unavailable: {err}")
    setup = probes.setup_probes(small_moons, ProbesSpec(grid=40, include=["signal", "gradients",
                                                                          "representation"]))
    spec = MLPSpec(2, [5, 5], "tanh")
    params = ENGINE.init(spec, [0, 1])
    a = probes.measure(ENGINE, spec, params, setup)
    b = probes.measure(torch_engine, spec, torch_engine.from_numpy(params), setup)
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-6, atol=1e-9, err_msg=key)


def test_probe_settings_are_validated_in_one_line():
    base = {"arms": [{"name": "a", "activation": "relu"}], "train": {"epochs": 10}}
    with pytest.raises(InputError, match=r"probes.include\[0\] = 'sig'"):
        parse_spec({**base, "probes": {"include": ["sig"]}})
    with pytest.raises(InputError, match="probes.epochs = \\[20\\]: epochs are 1 to train.epochs = 10"):
        parse_spec({**base, "probes": {"epochs": [20]}})
    assert ProbesSpec(epochs=[1, 5], every=4).record_epochs(10) == [0, 3, 4, 7]


def test_minibatch_gradient_norms_step_aside_for_fused_engines():
    class Fused:
        capabilities = Capabilities(fused_epochs=True)

    assert probes.wants_batch_gradients(ProbesSpec(), ENGINE)
    assert not probes.wants_batch_gradients(ProbesSpec(), Fused())
    assert probes.wants_batch_gradients(ProbesSpec(batch_gradients="on"), Fused())
    assert not probes.wants_batch_gradients(ProbesSpec(include=["signal"]), ENGINE)


@pytest.mark.parametrize("kw", [{"name": "circles", "noise": 0.1}, {"name": "xor", "noise": 0.05},
                                {"name": "spiral", "noise": 0.05}])
def test_true_boundaries_of_other_generators_classify_their_data(kw):
    from actscope.data.generators import load_dataset

    spec = DataSpec(n_samples=300, **kw)
    data = load_dataset(spec)
    score = true_score(spec, data)
    assert ((score(data.X_test) >= 0) == data.y_test).mean() >= 0.9


# dead units: judged where gradients flow ---------------------------------------------------

def test_a_unit_silent_on_the_test_points_but_active_in_training_is_not_dead():
    spec = MLPSpec(2, [2], "relu")
    # unit 1 fires only where x1 > 1.5; unit 2 never fires on the plane
    params = _params(([[1.0, 0.0], [0.0, 0.0]], [-1.5, -100.0]), ([[1.0], [1.0]], [0.0]))
    X_test = np.random.default_rng(3).uniform(-1, 1, size=(100, 2))  # x1 < 1.5 everywhere
    X_train = np.vstack([X_test, [[2.0, 0.0], [1.8, 0.3]]])  # two training points where it fires
    on_test = probes.signal_stats(ENGINE, spec, params, X_test)["dead"][0, 0]
    on_train = probes.signal_stats(ENGINE, spec, params, X_test, dead_on=X_train)["dead"][0, 0]
    assert on_test == pytest.approx(1.0) and on_train == pytest.approx(0.5)
    assert probes.dead_units(ENGINE, spec, params, X_train)[0][0].tolist() == [False, True]


def test_measure_judges_dead_units_on_the_whole_training_split_and_labels_the_split():
    from actscope.data.generators import Dataset

    rng = np.random.default_rng(4)
    X_tr, X_te = rng.uniform(-1, 1, size=(60, 2)), rng.uniform(-1, 1, size=(40, 2))
    X_tr[0] = [2.0, 0.0]
    data = Dataset("plane", X_tr, (X_tr[:, 1] > 0).astype(np.int64), X_te, (X_te[:, 1] > 0).astype(np.int64))
    setup = probes.setup_probes(data, ProbesSpec(include=["signal"], max_points=10))
    spec = MLPSpec(2, [2], "relu")
    params = _params(([[1.0, 0.0], [0.0, 0.0]], [-1.5, -100.0]), ([[1.0], [1.0]], [0.0]))
    vals = probes.measure(ENGINE, spec, params, setup)
    assert vals["train/signal.dead.L1"][0] == pytest.approx(0.5)  # the one training point counts
    assert "train split" in probes.label("signal.dead.L1")


# true boundaries from the generator's own points -------------------------------------------

def _sklearn_moons_arcs(n):
    """make_moons' noiseless arcs as its documentation states them, written out here."""
    n0, n1 = n // 2, n - n // 2
    t0, t1 = np.linspace(0, np.pi, n0), np.linspace(0, np.pi, n1)
    return [np.c_[np.cos(t0), np.sin(t0)], np.c_[1 - np.cos(t1), 1 - np.sin(t1) - 0.5]]


@pytest.mark.parametrize("n", [100, 101, 400])
def test_the_true_moons_boundary_is_built_on_the_generators_own_arc_points(n):
    from actscope.data.generators import class_curves, load_dataset

    spec = DataSpec(n_samples=n, noise=0.15, random_state=0, standardize="none")
    arcs = class_curves("moons", spec)
    want = _sklearn_moons_arcs(n)
    assert [len(a) for a in arcs] == [n // 2, n - n // 2]
    for a, w in zip(arcs, want):
        np.testing.assert_allclose(a, w, atol=1e-12)
    data = load_dataset(spec)
    xx, yy = grid_over(np.vstack([data.X_train, data.X_test]), 100)
    P = np.c_[xx.ravel(), yy.ravel()]
    ref = arcs_bayes_score(want, [(n // 2) / n, 1 - (n // 2) / n], 0.15)
    np.testing.assert_allclose(true_score(spec, data)(P), ref(P), atol=1e-9)
    d_ours = grid_distance(xx, yy, true_score(spec, data)(P).reshape(xx.shape), data.X_test)
    d_ref = grid_distance(xx, yy, ref(P).reshape(xx.shape), data.X_test)
    np.testing.assert_allclose(d_ours, d_ref, atol=1e-9)


def test_the_spiral_generator_and_its_true_boundary_share_one_arm_curve():
    from actscope.data.generators import GENERATORS, spiral_arm

    spec = DataSpec(name="spiral", n_samples=200, noise=0.0, turns=1.5)
    X, y, _, _ = GENERATORS["spiral"](spec)
    for c in (0, 1):
        r = np.hypot(X[y == c, 0], X[y == c, 1])  # the radius is the curve's parameter t
        np.testing.assert_allclose(spiral_arm(r, 1.5, c), X[y == c], atol=1e-12)
