"""The second reference article: preset, validation split, torch-default init, the affine
collapse of a network without activations, and run directories of both engines."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from actscope.activations import Activation, get_activation
from actscope.analysis import collapse
from actscope.cli import main
from actscope.config import DataSpec, TrainSpec, load_spec, resolve_config_path
from actscope.data.generators import load_dataset
from actscope.engines import get_engine
from actscope.experiment.rundir import load_run
from actscope.nn.model import MLPSpec, init_params
from actscope.training.loop import fit

PRESET = "with-vs-without"


def _cli(args: list[str]):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny tensors: threads only add overhead (and the CI machine is shared)."""
    try:
        import torch
    except ImportError:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def preset_run(tmp_path_factory) -> Path:
    """`actscope reproduce with-vs-without` as shipped: 5 seeds, numpy engine, full report."""
    out = tmp_path_factory.mktemp("wvw") / "run"
    result = _cli(["reproduce", PRESET, "--out", str(out), "--quiet"])
    assert result.stdout.strip().splitlines()[-1] == str(out)
    return out


# the preset -----------------------------------------------------------------------------

def test_preset_is_the_article_protocol():
    spec = load_spec(PRESET)
    d, m, t = spec.data, spec.model, spec.train
    assert (d.n_samples, d.noise, d.random_state, d.test_size, d.val_size, d.standardize) == (
        1000, 0.1, 0, 0.2, 0.2, "train")
    assert m.hidden == [16, 8] and m.init == "torch-default"
    assert (t.optimizer, t.lr, t.batch_size, t.epochs, tuple(t.betas), t.eps) == (
        "adam", 0.01, 32, 50, (0.9, 0.999), 1e-8)
    assert [(a.name, a.activation) for a in spec.arms] == [("identity", "identity"), ("relu", "relu")]
    assert len(spec.seeds.as_list()) >= 5


def test_relu_separates_the_moons_and_identity_stays_linear(preset_run):
    metrics = json.loads((preset_run / "metrics.json").read_text())
    relu = [m["test_accuracy"] for m in metrics["arms"]["relu"]["members"]]
    ident = [m["test_accuracy"] for m in metrics["arms"]["identity"]["members"]]
    assert len(relu) == len(ident) >= 5
    assert min(relu) >= 0.99, relu
    assert all(0.84 <= a <= 0.90 for a in ident), ident
    assert abs(np.mean(ident) - 0.87) < 0.015
    # a straight line is all the identity arm can draw: no better than the best linear model
    data = load_dataset(load_spec(PRESET).data)
    linear = LogisticRegression(C=1e6).fit(data.X_train, data.y_train).score(data.X_test, data.y_test)
    assert max(ident) <= linear + 0.01
    assert all(not m["diverged"] for arm in metrics["arms"].values() for m in arm["members"])
    assert all(0.9 <= m["val_accuracy"] <= 1.0 for m in metrics["arms"]["relu"]["members"])


def test_report_has_the_articles_figure_and_the_collapse(preset_run):
    figs = {p.name for p in (preset_run / "figures").glob("*.png")}
    assert {"activation_function_comparison.png", "collapse.png", "decision_boundaries.png"} <= figs
    page = (preset_run / "report.html").read_text()
    assert "Collapse into one affine map" in page
    assert "<th>W_eff</th>" in page  # the section's table is HTML, not escaped text
    with np.load(preset_run / "history.npz") as z:
        keys = {(arm, *str(k).split("/")) for arm in ("identity", "relu") for k in z[f"{arm}/keys"]}
    for arm in ("identity", "relu"):
        assert {(arm, "train", "running_accuracy"), (arm, "val", "accuracy"), (arm, "val", "loss")} <= keys


# the affine collapse --------------------------------------------------------------------

def test_trained_identity_network_is_its_single_affine_map(preset_run):
    run = load_run(preset_run)
    arm = run.arms["identity"]
    W_eff, b_eff = collapse.collapse(arm.mlp, arm.params)
    assert W_eff.shape == (len(arm.seeds), 2, 1) and b_eff.shape == (len(arm.seeds), 1)
    eng = get_engine("numpy")
    X = np.vstack([run.dataset.X_test, np.random.default_rng(0).uniform(-4, 4, size=(2000, 2))])
    out = eng.forward(arm.mlp, arm.params, X)
    affine = collapse.affine_logits(W_eff, b_eff, X)
    assert np.max(np.abs(out.prob - expit(affine[..., 0]))) < 1e-6
    assert np.max(np.abs(out.logits - affine)) < 1e-6
    assert np.array_equal((out.logits[..., 0] >= 0).astype(int), collapse.affine_predict(W_eff, b_eff, X))
    # points on the drawn line are on the network's boundary (probability 1/2)
    xs = np.linspace(-2, 2, 9)
    line = np.c_[xs, collapse.boundary_line(W_eff, b_eff, xs, k=0)]
    p0 = eng.forward(arm.mlp, [type(la)(la.W[:1], la.b[:1]) for la in arm.params], line).prob
    np.testing.assert_allclose(p0, 0.5, atol=1e-9)


def test_collapse_of_deep_multiclass_and_refusal_of_relu():
    spec = MLPSpec(3, [7, 5, 4], "identity", n_classes=4, init="torch-default")
    params = init_params(spec, [0, 1, 2])
    W_eff, b_eff = collapse.collapse(spec, params)
    X = np.random.default_rng(2).normal(size=(50, 3))
    logits = get_engine("numpy").forward(spec, params, X).logits
    np.testing.assert_allclose(collapse.affine_logits(W_eff, b_eff, X), logits, rtol=1e-10, atol=1e-12)
    assert collapse.is_collapsible(spec)
    relu = MLPSpec(3, [7, 5], "relu")
    assert not collapse.is_collapsible(relu)
    with pytest.raises(ValueError, match="'relu' is not affine"):
        collapse.collapse(relu, init_params(relu, [0]))
    base = get_activation("identity")
    scaled = Activation("affine-test", lambda z: 2.0 * z + 0.5, lambda z: np.full_like(z, 2.0), "linear")
    assert collapse.affine_coefficients(base) == (1.0, 0.0)
    assert collapse.affine_coefficients(scaled) == (2.0, 0.5)
    fake = Activation("not-affine", np.tanh, np.tanh, "linear")
    assert collapse.affine_coefficients(fake) is None


# validation split and running accuracy --------------------------------------------------

def test_validation_split_and_standardisation():
    d = load_dataset(DataSpec(n_samples=1000, noise=0.1, random_state=0, test_size=0.2,
                              val_size=0.2, split_seed=0, standardize="train"))
    assert (len(d.y_train), len(d.y_val), len(d.y_test)) == (640, 160, 200)
    assert d.splits == ["train", "val", "test"]
    np.testing.assert_allclose(d.X_train.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(d.X_train.std(axis=0), 1.0, atol=1e-12)
    assert np.abs(d.X_val.mean(axis=0)).max() > 1e-6  # scaled with the training fit only


@pytest.mark.parametrize("engine", ["numpy", "torch"])
def test_history_has_val_metrics_and_the_articles_running_accuracy(engine):
    if engine == "torch":
        pytest.importorskip("torch", reason="the torch extra is not installed")
    data = load_dataset(DataSpec(n_samples=200, noise=0.1, random_state=0, test_size=0.2, val_size=0.25))
    spec = MLPSpec(2, [16, 8], "relu", init="torch-default")
    eng = get_engine(engine)
    seeds = [0, 1]
    # one full batch, one epoch: the running accuracy is that of the initial parameters
    p0 = eng.init(spec, seeds)
    _, acc0 = eng.loss_and_accuracy(spec, p0, data.X_train, data.y_train)
    one = TrainSpec(optimizer="adam", lr=0.01, epochs=1, batch_size=len(data.y_train))
    _, hist = fit(eng, spec, eng.init(spec, seeds), data, one, seeds)
    np.testing.assert_allclose(hist.values["train/running_accuracy"][0], acc0, atol=1e-12)
    # several epochs: val loss and accuracy every epoch, equal to evaluating the final params
    train = TrainSpec(optimizer="adam", lr=0.01, epochs=6, batch_size=32)
    params, hist = fit(eng, spec, eng.init(spec, seeds), data, train, seeds)
    for key in ("val/loss", "val/accuracy", "train/running_accuracy", "train/running_loss"):
        assert hist.values[key].shape == (6, 2) and np.isfinite(hist.values[key]).all(), key
    ra = hist.values["train/running_accuracy"]
    assert ((ra >= 0) & (ra <= 1)).all()
    np.testing.assert_allclose(ra * len(data.y_train), np.round(ra * len(data.y_train)), atol=1e-9)
    vl, va = eng.loss_and_accuracy(spec, params, data.X_val, data.y_val)
    np.testing.assert_allclose(hist.values["val/loss"][-1], vl, rtol=1e-12)
    np.testing.assert_allclose(hist.values["val/accuracy"][-1], va)


# torch-default init ---------------------------------------------------------------------

def test_torch_default_init_is_uniform_within_nn_linear_bounds():
    torch = pytest.importorskip("torch", reason="the torch extra is not installed")
    spec = MLPSpec(64, [64, 32], "relu", init="torch-default")
    params = init_params(spec, [0, 1])
    for (W, b), (fan_in, fan_out) in zip(params, spec.weight_shapes):
        ref = torch.nn.Linear(fan_in, fan_out)
        bound = 1.0 / np.sqrt(fan_in)
        with torch.no_grad():
            assert float(ref.weight.abs().max()) <= bound and float(ref.bias.abs().max()) <= bound
        assert np.abs(W).max() <= bound and np.abs(b).max() <= bound
        assert np.abs(W).max() > 0.9 * bound  # uniform over the whole interval, not a normal
        assert np.abs(b).max() > 0
        if W.size >= 1000:
            np.testing.assert_allclose(W.var(), bound**2 / 3, rtol=0.1)
    assert not np.allclose(params[0].W[0], params[0].W[1])  # members differ
    t = get_engine("torch").init(spec, [0, 1])
    np.testing.assert_array_equal(t[1].b.numpy(), params[1].b)  # same network on every engine


# the engines write the same run directory ------------------------------------------------

def _tree(obj):
    """The key structure of a JSON object (values dropped, lists by their first item)."""
    if isinstance(obj, dict):
        return {k: _tree(v) for k, v in obj.items() if k != "elapsed_s"}
    if isinstance(obj, list):
        return [_tree(obj[0])] if obj else []
    return type(obj).__name__ if obj is not None else None


def test_both_engines_write_the_same_run_directory(tmp_path):
    pytest.importorskip("torch", reason="the torch extra is not installed")
    text = resolve_config_path(PRESET).read_text()
    text = text.replace("epochs = 50", "epochs = 4").replace("count = 5", "count = 2")
    np_toml = tmp_path / "np.toml"
    np_toml.write_text(text)
    t_toml = tmp_path / "torch.toml"
    t_toml.write_text(text.replace("[train]\n", '[train]\nengine = "torch"\n'))
    # reports are drawn from the NumPy params whatever the engine (the preset's run has one)
    _cli(["run", str(np_toml), "--out", str(tmp_path / "np"), "--quiet", "--no-report"])
    _cli(["run", str(t_toml), "--out", str(tmp_path / "t"), "--quiet", "--no-report"])
    _cli(["run", str(np_toml), "--engine", "torch", "--out", str(tmp_path / "opt"), "--quiet", "--no-report"])
    a, b, c = tmp_path / "np", tmp_path / "t", tmp_path / "opt"

    def files(p):
        return sorted(str(f.relative_to(p)) for f in p.rglob("*") if f.is_file())

    assert files(a) == files(b)
    assert set(files(c)) == {"config.toml", "metrics.json", "history.npz", "params.npz", "status.json"}
    ma, mb, mc = (json.loads((p / "metrics.json").read_text()) for p in (a, b, c))
    assert _tree(ma) == _tree(mb)
    assert (ma["engine"]["name"], mb["engine"]["name"], mc["engine"]["name"]) == ("numpy", "torch", "torch")
    for arm in ma["arms"]:
        for x, y in zip(ma["arms"][arm]["members"], mb["arms"][arm]["members"]):
            assert x["test_accuracy"] == y["test_accuracy"]
            assert x["final_train_loss"] == pytest.approx(y["final_train_loss"], rel=1e-9)
    ca, cb = (tomllib.loads((p / "config.toml").read_text()) for p in (a, b))
    assert ca["train"].pop("engine") == "numpy" and cb["train"].pop("engine") == "torch"
    assert ca == cb
    assert tomllib.loads((c / "config.toml").read_text())["train"]["engine"] == "torch"
    with np.load(a / "params.npz") as pa, np.load(b / "params.npz") as pb:
        assert sorted(pa.files) == sorted(pb.files)
        for k in pa.files:
            assert pa[k].dtype == pb[k].dtype == np.float64
            np.testing.assert_allclose(pb[k], pa[k], rtol=1e-9, atol=1e-12)
    with np.load(a / "history.npz") as ha, np.load(b / "history.npz") as hb:
        assert sorted(ha.files) == sorted(hb.files)
        for k in (k for k in ha.files if "/members/" in k):  # the same cells evaluated
            np.testing.assert_array_equal(np.isfinite(ha[k]), np.isfinite(hb[k]), err_msg=k)
