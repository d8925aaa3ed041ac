"""Export (issue 17, item 3): one member of one arm as a torch module, a torch.export
program and an ONNX file, each giving actscope's own probabilities from raw features."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from actscope.errors import InputError
from actscope.interop import pick_member, reference_proba, to_onnx, to_torch

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

BINARY = """
name = "tiny"
[activations.gelu2]
formula = "x * sigmoid(1.702 * x)"
[data]
name = "moons"
n_samples = 120
[model]
hidden = [5, 4]
[train]
epochs = 12
batch_size = 16
[[arms]]
name = "relu"
activation = "relu"
[[arms]]
name = "formula"
activation = ["gelu2", "mish"]
[[arms]]
name = "elu+"
activation = ["elu", "softplus"]
[seeds]
count = 3
[probes]
include = []
[report]
enabled = false
"""
MULTI = """
name = "iris"
[data]
name = "iris"
standardize = "none"
[model]
hidden = [6]
[train]
epochs = 10
batch_size = 16
[[arms]]
name = "tanh"
activation = "tanh"
[seeds]
count = 2
[probes]
include = []
[report]
enabled = false
"""


def _run(root: Path, text: str) -> Path:
    from actscope.pipeline import run_experiment

    cfg = root / f"{len(text)}.toml"
    cfg.write_text(text)
    return run_experiment(cfg, out=root / cfg.stem).path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return _run(root, BINARY), _run(root, MULTI)


def _raw_test(run_dir: Path):
    """The run's test split, standardised as it was trained on, and mapped back to raw
    features with the scaler fitted again here (independent of the exporter's)."""
    from sklearn.preprocessing import StandardScaler

    from actscope.data import GENERATORS
    from actscope.experiment import load_run

    run = load_run(run_dir)
    X_all, *_ = GENERATORS[run.spec.data.name](run.spec.data)
    X_std = run.dataset.X_test
    if run.spec.data.standardize == "none":
        return run, X_std, X_std
    from sklearn.model_selection import train_test_split

    X_tr, _ = train_test_split(np.asarray(X_all, float), test_size=run.spec.data.test_size,
                               random_state=run.spec.data.split_seed)
    sc = StandardScaler().fit(X_tr)
    return run, X_std, sc.inverse_transform(X_std)


def _actscope_proba(run, arm: str, k: int, X_std: np.ndarray) -> np.ndarray:
    """actscope's probabilities of member k on standardised inputs, from the whole ensemble."""
    from actscope.engines import get_engine

    a = run.arms[arm]
    prob = np.asarray(get_engine("numpy").forward(a.mlp, a.params, X_std).prob)[k]
    return np.stack([1 - prob, prob], 1) if prob.ndim == 1 else prob


def _onnx_run(model, X, dtype="float32"):
    s = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return s.run(["probabilities", "logits"], {"x": X.astype(dtype)})


@pytest.mark.parametrize("arm", ["relu", "formula", "elu+"])
def test_onnx_matches_actscope_from_raw_features(runs, arm):
    run, X_std, X_raw = _raw_test(runs[0])
    want = _actscope_proba(run, arm, 1, X_std)
    assert not np.allclose(X_raw, X_std)  # the scaler is really inside the graph
    prob, logits = _onnx_run(to_onnx(pick_member(run, arm, 1)), X_raw)
    np.testing.assert_allclose(prob, want, atol=2e-6)
    assert logits.shape == (len(X_raw), 1)
    # another member is another network
    other = _actscope_proba(run, arm, 0, X_std)
    assert np.abs(other - want).max() > 1e-3


def test_onnx_float64_to_rounding(runs):
    run, X_std, X_raw = _raw_test(runs[0])
    prob, _ = _onnx_run(to_onnx(pick_member(run, "elu+", 2), "float64"), X_raw, "float64")
    np.testing.assert_allclose(prob, _actscope_proba(run, "elu+", 2, X_std), atol=1e-12)


@pytest.mark.parametrize("arm", ["relu", "formula"])
def test_torch_module_matches_actscope(runs, arm):
    torch = pytest.importorskip("torch")
    run, X_std, X_raw = _raw_test(runs[0])
    module = to_torch(pick_member(run, arm, 2))
    assert isinstance(module, torch.nn.Module)
    with torch.no_grad():
        got = module(torch.as_tensor(X_raw)).numpy()
    np.testing.assert_allclose(got, _actscope_proba(run, arm, 2, X_std), atol=1e-12)
    m32 = to_torch(pick_member(run, arm, 2), "float32")
    with torch.no_grad():
        got32 = m32(torch.as_tensor(X_raw, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(got32, got, atol=2e-6)


def test_multiclass_without_scaler(runs):
    torch = pytest.importorskip("torch")
    run, X_std, X_raw = _raw_test(runs[1])
    m = pick_member(run, "tanh", 1)
    assert m.scaler is None
    want = _actscope_proba(run, "tanh", 1, X_std)
    assert want.shape == (len(X_std), 3)
    prob, logits = _onnx_run(to_onnx(m), X_raw)
    np.testing.assert_allclose(prob, want, atol=2e-6)
    assert logits.shape == (len(X_raw), 3)
    with torch.no_grad():
        np.testing.assert_allclose(to_torch(m)(torch.as_tensor(X_raw)).numpy(), want, atol=1e-12)


ACTIVATIONS = ["identity", "sigmoid", "tanh", "relu", "leaky_relu(0.1)", "elu", "selu", "gelu",
               "gelu_tanh", "silu", "softplus", "mish", "softsign", "hard_sigmoid", "hard_tanh",
               "sine", "gaussian", "f(x) = x * tanh(log(1 + exp(x)))",
               "f(x) = max(0.1 * x, x) + sign(x) * atan(x) ** 2 - erfc(x) / cosh(x / 4)"]


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_every_activation_has_its_onnx_form(name):
    """A 1-1-1 network with unit weights: the ONNX logits are f(x) itself."""
    from actscope.interop import Member
    from actscope.nn import MLPSpec

    mlp = MLPSpec(n_inputs=1, hidden=[1], activation=name)
    one = (np.ones((1, 1)), np.zeros(1))
    m = Member("a", 0, 0, mlp, [one, one], None, ["x"], ["0", "1"])
    x = np.linspace(-6, 6, 241)[:, None] + 1e-3
    _, logits = _onnx_run(to_onnx(m), x)
    want = mlp.activations[0].fn(x[:, 0])
    np.testing.assert_allclose(logits[:, 0], want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(reference_proba(m, x)[:, 1], 1 / (1 + np.exp(-want)), atol=1e-12)


def _cli(args, cwd):
    import os

    from actscope.cli import main

    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(main, args)
    finally:
        os.chdir(old)


def test_cli_exports_onnx_and_torch(runs, tmp_path):
    torch = pytest.importorskip("torch")
    run_dir = runs[0]
    res = _cli(["export", str(run_dir), "--arm", "formula", "--member", "1", "--format", "onnx"], tmp_path)
    assert res.exit_code == 0, res.output
    path = Path(res.stdout.strip().splitlines()[-1])
    assert path == run_dir / "exports" / "formula-member1.onnx" and path.is_file()
    run, X_std, X_raw = _raw_test(run_dir)
    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(s.run(["probabilities"], {"x": X_raw.astype("float32")})[0],
                               _actscope_proba(run, "formula", 1, X_std), atol=2e-6)
    out = tmp_path / "m.pt2"
    res = _cli(["export", str(run_dir), "--arm", "elu+", "--format", "torch", "--out", str(out)], tmp_path)
    assert res.exit_code == 0, res.output
    loaded = torch.export.load(str(out)).module()
    with torch.no_grad():
        got = loaded(torch.as_tensor(X_raw[:7])).numpy()  # another batch size than traced
    np.testing.assert_allclose(got, _actscope_proba(run, "elu+", 0, X_std)[:7], atol=1e-12)


@pytest.mark.parametrize("args, message", [
    (["--arm", "tanh"], r"^error: --arm = 'tanh': the run has no such arm; known: relu, formula, elu\+$"),
    (["--arm", "relu", "--member", "3"], r"^error: --member = 3: arm 'relu' has members 0 to 2$"),
    ([], r"^error: --arm is missing: the run has 3 arms; choose one of relu, formula, elu\+$"),
    (["--arm", "relu", "--format", "keras"], r"^error: --format = 'keras': "),
    (["--arm", "relu", "--out", "."], r"^error: --out = '.': File '.' is a directory$"),
    (["--arm", "relu", "--out", "{run}/config.toml/m.onnx"],
     r"^error: --out = '.*m.onnx': .*config.toml is a file"),
])
def test_cli_bad_request_is_one_line_and_writes_nothing(runs, tmp_path, args, message):
    import re

    before = sorted(p.name for p in runs[0].iterdir())
    res = _cli(["export", str(runs[0]), *(a.format(run=runs[0]) for a in args)], tmp_path)
    assert res.exit_code == 2
    assert re.search(message, res.stderr.strip()), res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in runs[0].iterdir()) == before and list(tmp_path.iterdir()) == []


def test_a_diverged_member_is_refused(runs):
    from actscope.experiment import load_run

    run = load_run(runs[0])
    run.arms["relu"].params[0].W[1, 0, 0] = np.nan
    message = r"^--member = 1: member 1 of arm 'relu' diverged .*finite members: 0, 2$"
    with pytest.raises(InputError, match=message):
        pick_member(run, "relu", 1)
    assert pick_member(run, "relu", 2).index == 2


def test_python_callable_has_no_onnx_form_but_a_torch_one():
    torch = pytest.importorskip("torch")
    from actscope.activations import register_activation
    from actscope.interop import Member
    from actscope.nn import MLPSpec

    register_activation("np_cube_export", lambda z: z**3 / 3 + z, lambda z: z**2 + 1, overwrite=True)
    register_activation("torch_hswish_export", torch.nn.functional.hardswish, overwrite=True)
    rng = np.random.default_rng(0)
    layers = [(rng.standard_normal((2, 3)), rng.standard_normal(3)),
              (rng.standard_normal((3, 1)), rng.standard_normal(1))]
    X = rng.standard_normal((9, 2))
    np_member = Member("a", 0, 0, MLPSpec(2, [3], "np_cube_export"), layers, None, [], [])
    with pytest.raises(InputError, match="np_cube_export.*no ONNX form"):
        to_onnx(np_member)
    t_member = Member("a", 0, 0, MLPSpec(2, [3], "torch_hswish_export"), layers, None, [], [])
    with torch.no_grad():
        got = to_torch(t_member)(torch.as_tensor(X)).numpy()
    np.testing.assert_allclose(got, reference_proba(t_member, X), atol=1e-12)
