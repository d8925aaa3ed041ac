"""The GPU engine: agreement with the NumPy reference (on CUDA when there is one; its
device-resident training loop is also exercised on the CPU), and a clear refusal without."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the gpu engine needs PyTorch (extra 'torch')")

from actscope.config import TrainSpec  # noqa: E402
from actscope.engines import NumpyEngine, get_engine  # noqa: E402
from actscope.engines.gpu_engine import make_gpu_engine  # noqa: E402
from actscope.model import MLPSpec  # noqa: E402
from actscope.train import fit  # noqa: E402

CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="no CUDA device (torch.cuda.is_available() is False)")
SEEDS = list(range(11))


def _agree(engine, data, train, spec, rtol, atol):
    ref = NumpyEngine(train.dtype)
    pg, hg = fit(engine, spec, engine.init(spec, SEEDS, train.rng), data, train, SEEDS)
    pn, hn = fit(ref, spec, ref.init(spec, SEEDS, train.rng), data, train, SEEDS)
    for key in hn.values:
        np.testing.assert_allclose(hg.values[key], hn.values[key], rtol=rtol, atol=atol, err_msg=key)
    for (W, b), (V, c) in zip(engine.to_numpy(pg), pn):
        np.testing.assert_allclose(W, V, rtol=rtol, atol=atol)
        np.testing.assert_allclose(b, c, rtol=rtol, atol=atol)
    np.testing.assert_array_equal(hg.diverged_epoch, hn.diverged_epoch)
    return hn


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_device_loop_agrees_on_cpu(small_moons, optimizer):
    engine = make_gpu_engine(dtype="float64", device="cpu", _allow_cpu=True)
    train = TrainSpec(epochs=4, optimizer=optimizer, lr=0.05 if optimizer == "sgd" else 0.01)
    _agree(engine, small_moons, train, MLPSpec(2, [8, 8], "relu"), 1e-9, 1e-11)


def test_device_loop_marks_divergence_like_the_torch_loop(small_moons):
    # at overflow the torch contract and NumPy may round differently; the device loop must
    # give exactly what the generic loop gives on the same (torch) contract
    engine = make_gpu_engine(dtype="float64", device="cpu", _allow_cpu=True)
    plain = get_engine("torch", dtype="float64")
    spec, train = MLPSpec(2, [4, 4], "relu"), TrainSpec(epochs=3, lr=1e300)
    _, hg = fit(engine, spec, engine.init(spec, SEEDS), small_moons, train, SEEDS)
    _, ht = fit(plain, spec, plain.init(spec, SEEDS), small_moons, train, SEEDS)
    assert ht.diverged.any()
    np.testing.assert_array_equal(hg.diverged_epoch, ht.diverged_epoch)
    for key in ht.values:
        np.testing.assert_array_equal(np.isnan(hg.values[key]), np.isnan(ht.values[key]), err_msg=key)


@pytest.mark.skipif(CUDA, reason="a CUDA device is present")
def test_refuses_without_cuda():
    with pytest.raises(ValueError, match="CUDA"):
        get_engine("gpu")


@needs_cuda
@pytest.mark.gpu
@pytest.mark.parametrize("dtype, rtol, atol", [("float64", 1e-9, 1e-11), ("float32", 2e-4, 2e-5)])
def test_cuda_agrees_with_numpy(small_moons, dtype, rtol, atol):
    engine = get_engine("gpu", dtype=dtype)
    assert engine.device.startswith("cuda")
    _agree(engine, small_moons, TrainSpec(epochs=4, dtype=dtype), MLPSpec(2, [8, 8], "sigmoid"), rtol, atol)


@needs_cuda
@pytest.mark.gpu
def test_auto_picks_gpu_for_cuda():
    assert get_engine("auto", device="auto").name == "gpu"
