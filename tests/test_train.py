"""The training loop: history, paired arms, divergence, and the run directory."""

from __future__ import annotations

import numpy as np
import pytest

from actscope.config import TrainSpec, parse_spec
from actscope.engines import get_engine
from actscope.experiment import run_experiment
from actscope.experiment.rundir import load_run, save_run
from actscope.nn.model import Layer, MLPSpec
from actscope.training.loop import batch_streams, fit

ENGINE = get_engine("numpy")


def test_history_records_every_split_per_epoch(small_moons):
    spec = MLPSpec(n_inputs=2, hidden=[6], activation="relu")
    train = TrainSpec(epochs=5, batch_size=16, lr=0.1)
    params, hist = fit(ENGINE, spec, ENGINE.init(spec, [0, 1, 2]), small_moons, train, [0, 1, 2])
    for key in ["train/running_loss", "train/running_accuracy", "train/loss", "train/accuracy",
                "test/loss", "test/accuracy"]:
        assert hist.values[key].shape == (5, 3), key
        assert np.isfinite(hist.values[key]).all(), key
    assert not hist.diverged.any()
    # the end-of-epoch test metrics are those of the returned parameters
    loss, acc = ENGINE.loss_and_accuracy(spec, params, small_moons.X_test, small_moons.y_test)
    np.testing.assert_allclose(hist.values["test/accuracy"][-1], acc)
    np.testing.assert_allclose(hist.values["test/loss"][-1], loss)


def test_training_reduces_the_loss(small_moons):
    spec = MLPSpec(n_inputs=2, hidden=[8, 8], activation="relu")
    _, hist = fit(ENGINE, spec, ENGINE.init(spec, [0, 1]), small_moons,
                  TrainSpec(epochs=60, batch_size=16, lr=0.1), [0, 1])
    L = hist.values["train/running_loss"]
    assert (L[-1] < 0.6 * L[0]).all()


def test_an_ensemble_equals_its_members_trained_alone(small_moons):
    spec = MLPSpec(n_inputs=2, hidden=[5], activation="tanh")
    train = TrainSpec(epochs=4, batch_size=10, lr=0.2, optimizer="adam")
    together, _ = fit(ENGINE, spec, ENGINE.init(spec, [3, 4]), small_moons, train, [3, 4])
    alone, _ = fit(ENGINE, spec, ENGINE.init(spec, [4]), small_moons, train, [4])
    for t, a in zip(together, alone):
        np.testing.assert_allclose(t.W[1], a.W[0], rtol=1e-12)


def test_arms_share_the_batch_order_of_a_seed():
    relu = MLPSpec(n_inputs=2, hidden=[8, 8], activation="relu")
    sig = MLPSpec(n_inputs=2, hidden=[8, 8], activation="sigmoid")
    for rng in ("default", "article"):
        a = batch_streams(relu, [7, 8], rng)
        b = batch_streams(sig, [7, 8], rng)
        np.testing.assert_array_equal(a[0].permutation(50), b[0].permutation(50))
        assert not np.array_equal(a[1].permutation(50), b[0].permutation(50))


def test_a_diverging_member_is_marked_and_the_others_go_on(small_moons):
    spec = MLPSpec(n_inputs=2, hidden=[4], activation="relu")
    params = ENGINE.init(spec, [0, 1, 2])
    # member 1 starts with enormous weights: its loss overflows to inf/nan
    params = [Layer(W.copy(), b.copy()) for W, b in params]
    with np.errstate(over="ignore"):  # some of them to inf, on purpose
        params[0].W[1] *= 1e308
    train = TrainSpec(epochs=6, batch_size=16, lr=0.1)
    out, hist = fit(ENGINE, spec, params, small_moons, train, [0, 1, 2])
    assert hist.diverged.tolist() == [False, True, False]
    assert hist.diverged_epoch[1] == 0
    assert np.isfinite(hist.values["test/accuracy"][:, [0, 2]]).all()
    assert np.isnan(hist.values["test/accuracy"][:, 1]).all()
    ref, _ = fit(ENGINE, spec, ENGINE.init(spec, [0, 2]), small_moons, train, [0, 2])
    np.testing.assert_allclose(out[0].W[[0, 2]], ref[0].W, rtol=1e-12)


SPEC = {
    "name": "roundtrip",
    "data": {"n_samples": 60},
    "model": {"hidden": [3, 3]},
    "train": {"epochs": 3, "batch_size": 8},
    "arms": [{"name": "relu", "activation": "relu"}, {"name": "mixed", "activation": ["tanh", "relu"]}],
    "seeds": {"count": 2},
    "probes": {"points": [{"name": "origin", "x": [0.0, 0.0]}]},
}


def test_run_directory_round_trips(tmp_path):
    run = run_experiment(parse_spec(SPEC))
    path = save_run(run, tmp_path / "r")
    assert sorted(p.name for p in path.iterdir()) == ["config.toml", "history.npz", "metrics.json",
                                                       "params.npz", "status.json"]
    again = load_run(path)
    assert again.spec == run.spec
    assert again.metrics == run.metrics
    for name in run.arms:
        for a, b in zip(run.arms[name].params, again.arms[name].params):
            np.testing.assert_array_equal(a.W, b.W)
        history = run.arms[name].history.values
        # every key comes back, those that never apply to an arm (saturation of ReLU) as NaN
        assert set(again.arms[name].history.values) == set(history)
        for key in history:
            np.testing.assert_array_equal(history[key], again.arms[name].history.values[key])
            np.testing.assert_array_equal(run.arms[name].history.summary(key),
                                          again.arms[name].history.summary(key))
    assert again.arms["mixed"].mlp.activation == ("tanh", "relu")
    m = run.metrics["arms"]["mixed"]["members"][0]
    assert len(m["hidden_std"]) == 2 and len(m["signal_trace"]["origin"]) == 5


def test_a_failed_report_keeps_the_trained_run_marked_failed(tmp_path):
    """More faults after training: tests/test_rundir_faults.py."""
    import json

    from actscope.errors import RunFailedError

    run = run_experiment(parse_spec(SPEC))

    def boom(r, tmp):
        (tmp / "figures").mkdir()
        raise RuntimeError("disk full")

    with pytest.raises(RunFailedError, match="disk full"):
        save_run(run, tmp_path / "r", extra=boom)
    assert [p.name for p in tmp_path.iterdir()] == ["r"]  # no hidden drawing folder left
    assert not (tmp_path / "r" / "figures").exists()
    assert json.loads((tmp_path / "r" / "status.json").read_text())["state"] == "failed"
    assert load_run(tmp_path / "r").metrics == run.metrics


def test_an_interrupted_experiment_keeps_its_finished_arms(monkeypatch):
    """Arms trained one after the other (forked arms: tests/test_parallel.py)."""
    import actscope.experiment.run as ex  # where run_experiment looks fit up

    monkeypatch.setenv("ACTSCOPE_ARM_WORKERS", "1")
    real_fit = ex.fit
    calls = []

    def fit_then_interrupt(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(ex, "fit", fit_then_interrupt)
    run = ex.run_experiment(parse_spec(SPEC))
    assert run.interrupted and list(run.arms) == ["relu"]
    assert run.metrics["interrupted"] is True and list(run.metrics["arms"]) == ["relu"]


def test_an_arm_that_diverges_is_reported_and_the_experiment_completes(tmp_path):
    """Every probe copes with diverged members (huge but finite, or NaN, activations)."""
    spec = parse_spec({**SPEC, "arms": [{"name": "wild", "activation": "relu", "lr": 1e200},
                                        {"name": "calm", "activation": "sigmoid"}],
                       "seeds": {"count": 3}})
    run = run_experiment(spec)
    wild, calm = run.metrics["arms"]["wild"], run.metrics["arms"]["calm"]
    assert wild["n_diverged"] == 3 and calm["n_diverged"] == 0
    assert all(m["test_accuracy"] is None for m in wild["members"])
    assert all(0 <= m["test_accuracy"] <= 1 for m in calm["members"])
    path = save_run(run, tmp_path / "r")  # metrics.json is strict JSON: no NaN anywhere
    import json

    assert json.loads((path / "metrics.json").read_text())["arms"]["wild"]["n_diverged"] == 3


def test_history_is_kept_in_the_training_precision(small_moons, tmp_path):
    """float32 training keeps float32 history: half the memory of a big ensemble's history."""
    spec = MLPSpec(n_inputs=2, hidden=[4], activation="tanh")
    seeds = [0, 1]
    for dtype, itemsize in (("float32", 4), ("float64", 8)):
        engine = get_engine("numpy", dtype=dtype)
        train = TrainSpec(epochs=4, batch_size=16, dtype=dtype)
        _, hist = fit(engine, spec, engine.init(spec, seeds), small_moons, train, seeds)
        assert {v.dtype.itemsize for v in hist.values.values()} == {itemsize}, dtype
        assert all(v.shape == (4, 2) for v in hist.values.values())
    run = run_experiment(parse_spec({**SPEC, "train": {**SPEC["train"], "dtype": "float32"}}))
    save_run(run, tmp_path / "r")
    back = load_run(tmp_path / "r")
    for name, arm in run.arms.items():  # float32 values are written in full and read back exactly
        recorded = arm.history.values
        assert "train/running_loss" in recorded and set(back.arms[name].history.values) == set(recorded)
        for key, v in recorded.items():
            assert back.arms[name].history.values[key].dtype == np.float32
            np.testing.assert_array_equal(back.arms[name].history.values[key], v)
