"""The torch engine against the NumPy reference, torch autograd, and on CUDA when present."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import actscope
from actscope.config import DataSpec, TrainSpec
from actscope.data.generators import Dataset, load_dataset
from actscope.engines import MissingExtraError, get_engine
from actscope.errors import InputError
from actscope.experiment import make_engine
from actscope.nn.model import MLPSpec
from actscope.training.loop import fit

torch = pytest.importorskip("torch", reason="the torch extra is not installed")

SEEDS = [0, 1]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny tensors: threads only add overhead (and the CI machine is shared)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def moons() -> Dataset:
    return load_dataset(DataSpec(n_samples=48, noise=0.2, random_state=3, test_size=0.25))


def _blobs(n_classes: int = 3, n: int = 60, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=2.0, size=(n_classes, 2))
    y = rng.integers(0, n_classes, size=n)
    X = centers[y] + rng.normal(size=(n, 2))
    return Dataset("blobs", X[:40], y[:40], X[40:], y[40:], n_classes=n_classes)


def _histories(spec: MLPSpec, data: Dataset, train: TrainSpec):
    out = {}
    for name in ("numpy", "torch"):
        eng = get_engine(name, dtype="float64")
        params, hist = fit(eng, spec, eng.init(spec, SEEDS), data, train, SEEDS)
        out[name] = (eng.to_numpy(params), hist)
    return out


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a), 1e-300)))


@pytest.mark.parametrize("act", actscope.list_activations())
def test_loss_history_matches_numpy_for_every_activation(act, moons):
    spec = MLPSpec(2, [6, 5], act)
    train = TrainSpec(optimizer="momentum", lr=0.05, epochs=100, batch_size=18, eval_every=25)
    res = _histories(spec, moons, train)
    (p_np, h_np), (p_t, h_t) = res["numpy"], res["torch"]
    L_np, L_t = h_np.values["train/running_loss"], h_t.values["train/running_loss"]
    assert L_np.shape == (100, 2) and np.isfinite(L_np).all()
    assert _rel(L_np, L_t) < 1e-9
    assert np.array_equal(h_np.values["test/accuracy"], h_t.values["test/accuracy"], equal_nan=True)
    for a, b in zip(p_np, p_t):
        np.testing.assert_allclose(b.W, a.W, rtol=1e-9, atol=1e-12)


def test_adam_multiclass_history_matches_numpy():
    spec = MLPSpec(2, [8], "tanh", n_classes=3)
    train = TrainSpec(optimizer="adam", lr=0.01, epochs=100, batch_size=16, weight_decay=1e-3)
    res = _histories(spec, _blobs(), train)
    L_np = res["numpy"][1].values["train/running_loss"]
    L_t = res["torch"][1].values["train/running_loss"]
    assert L_np[-1].max() < L_np[0].min()  # it learned something
    assert _rel(L_np, L_t) < 1e-9
    # epochs the evaluation schedule skips are NaN in both
    assert np.array_equal(res["numpy"][1].values["test/accuracy"], res["torch"][1].values["test/accuracy"],
                          equal_nan=True)


def _autograd_grads(eng, spec, params, X, y):
    leaves = [type(layer)(layer.W.clone().requires_grad_(True), layer.b.clone().requires_grad_(True))
              for layer in params]
    out = eng.forward(spec, leaves, X)
    yK = eng._labels(y, out.logits.shape[0], spec.n_outputs)
    loss = eng._loss_from_logits(spec, out.logits, yK)
    loss.sum().backward()  # members are independent: d(sum)/d(member k) = d(loss_k)
    return loss.detach(), [(layer.W.grad, layer.b.grad) for layer in leaves]


@pytest.mark.parametrize("act", actscope.list_activations())
@pytest.mark.parametrize("n_classes", [2, 4])
def test_hand_written_grads_match_autograd(act, n_classes):
    eng = get_engine("torch", dtype="float64")
    spec = MLPSpec(3, [7, 5], act, n_classes=n_classes)
    params = eng.init(spec, [0, 1, 2])
    rng = np.random.default_rng(1)
    X = rng.normal(size=(3, 11, 3))  # one batch per member
    y = rng.integers(0, n_classes, size=(3, 11))
    y = y.astype(np.float64) if n_classes == 2 else y
    loss, grads = eng.loss_and_grad(spec, params, X, y)
    ref_loss, ref_grads = _autograd_grads(eng, spec, params, X, y)
    torch.testing.assert_close(loss, ref_loss, rtol=1e-12, atol=1e-14)
    for (gW, gb), (rW, rb) in zip(grads, ref_grads):
        assert gW.shape == rW.shape and gb.shape == rb.shape
        # 1e-6, not 1e-9: a few torch kernels differentiate with float32 constants
        # (hardsigmoid's backward is 1/6 + 5e-9); a wrong formula is off by O(1).
        torch.testing.assert_close(gW, rW, rtol=1e-6, atol=1e-10)
        torch.testing.assert_close(gb, rb, rtol=1e-6, atol=1e-10)


def test_forward_record_and_contract_types():
    eng = get_engine("torch")
    spec = MLPSpec(2, [4, 3], "relu")
    params = eng.init(spec, [5, 6])
    X = np.random.default_rng(0).normal(size=(9, 2))
    out = eng.forward(spec, params, X, record=True)
    assert isinstance(out.prob, torch.Tensor) and tuple(out.prob.shape) == (2, 9)
    assert [tuple(z.shape) for z in out.z] == [(2, 9, 4), (2, 9, 3)]
    ref = get_engine("numpy").forward(spec, get_engine("numpy").init(spec, [5, 6]), X, record=True)
    np.testing.assert_allclose(out.prob.numpy(), ref.prob, rtol=1e-13)
    loss, acc = eng.loss_and_accuracy(spec, params, X, (X[:, 0] > 0).astype(int))
    assert isinstance(loss, np.ndarray) and loss.dtype == np.float64 and acc.shape == (2,)
    back = eng.to_numpy(eng.from_numpy(eng.to_numpy(params)))
    assert all(isinstance(W, np.ndarray) and W.dtype == np.float64 for W, _ in back)
    assert eng.asindex(np.arange(3)).dtype == torch.long


def test_float32_runs_close_to_float64(moons):
    spec = MLPSpec(2, [8, 8], "tanh")
    train = TrainSpec(optimizer="sgd", lr=0.1, epochs=20, batch_size=16)
    losses = {}
    for dtype in ("float32", "float64"):
        eng = get_engine("torch", dtype=dtype)
        params, hist = fit(eng, spec, eng.init(spec, SEEDS), moons, train, SEEDS)
        assert params[0].W.dtype == getattr(torch, dtype)
        losses[dtype] = hist.values["train/running_loss"]
        _, acc = eng.loss_and_accuracy(spec, params, moons.X_test, moons.y_test)
        n_right = acc * len(moons.y_test)
        assert acc.dtype == np.float64 and np.array_equal(n_right, np.round(n_right))
    np.testing.assert_allclose(losses["float32"], losses["float64"], rtol=1e-4)


def test_bad_options_are_refused_in_one_line():
    with pytest.raises(ValueError, match="dtype 'float16'"):
        get_engine("torch", dtype="float16")
    with pytest.raises(ValueError, match="device 'tpu'"):
        get_engine("torch", device="tpu")
    with pytest.raises(InputError, match="train.engine = 'torch'.*device 'gpu'"):
        make_engine(TrainSpec(engine="torch", device="gpu"))
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="no CUDA device"):
            make_engine(TrainSpec(engine="torch", device="cuda"))
        assert get_engine("torch", device="auto").device == "cpu"


def test_missing_torch_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    with pytest.raises(MissingExtraError, match=r"pip install 'actscope\[torch\]'"):
        get_engine("torch")
    with pytest.raises(InputError, match=r"pip install 'actscope\[torch\]'") as err:
        make_engine(TrainSpec(engine="torch"))
    assert "\n" not in str(err.value)


def test_import_actscope_does_not_import_torch():
    code = "import sys, actscope, actscope.report; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_activation_without_torch_fn_falls_back_through_numpy(moons):
    from dataclasses import replace

    from actscope.activations import get_activation
    from actscope.engines import torch_engine

    bare = replace(get_activation("tanh"), name="tanh-numpy-only", torch_fn=None, torch_grad=None)
    z = torch.linspace(-2, 2, 7, dtype=torch.float64, requires_grad=True)
    with pytest.warns(UserWarning, match="no torch_fn"):
        out = torch_engine.act_fn(bare, z)
    out.sum().backward()
    torch.testing.assert_close(out.detach(), torch.tanh(z.detach()))
    torch.testing.assert_close(z.grad, 1 - torch.tanh(z.detach()) ** 2)
    torch.testing.assert_close(torch_engine.act_grad(bare, z.detach()), 1 - torch.tanh(z.detach()) ** 2)


@pytest.mark.gpu
def test_cuda_matches_cpu(moons):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine (torch.cuda.is_available() is False)")
    spec = MLPSpec(2, [16, 8], "relu")
    train = TrainSpec(optimizer="adam", lr=0.01, epochs=30, batch_size=16)
    hists = {}
    for device in ("cpu", "cuda"):
        eng = get_engine("torch", dtype="float64", device=device)
        params, hist = fit(eng, spec, eng.init(spec, SEEDS), moons, train, SEEDS)
        assert params[0].W.device.type == device
        hists[device] = hist.values["train/running_loss"]
    assert _rel(hists["cpu"], hists["cuda"]) < 1e-9
    assert get_engine("torch", device="auto").device.startswith("cuda")
