"""The GPU engine: its fused CUDA kernels and its torch device loop agree with the NumPy
reference. Without a GPU the kernels' text is compiled for the host (tests/cuda_host.py)
and the same training runs on the CPU; on a CUDA machine the gpu-marked tests run the
kernels on the device."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the gpu engine needs PyTorch (extra 'torch')")

from actscope.activations import get_activation, list_activations  # noqa: E402
from actscope.config import TrainSpec  # noqa: E402
from actscope.engines import EpochPlan, NumpyEngine, get_engine, gpu_engine  # noqa: E402
from actscope.engines.codegen.cuda_source import UnsupportedActivation, c_expr, model_source  # noqa: E402
from actscope.engines.gpu_engine import GpuEngine  # noqa: E402
from actscope.nn.model import MLPSpec  # noqa: E402
from actscope.training.loop import fit  # noqa: E402
from cuda_host import CXX, HostLauncher  # noqa: E402

CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="no CUDA device (torch.cuda.is_available() is False)")
needs_cxx = pytest.mark.skipif(CXX is None, reason="no C++ compiler to build the kernels for the host")
SEEDS = list(range(11))
COMPILED = [a for a in list_activations() if getattr(get_activation(a), "scalar", None)]


def host_engine(dtype="float64"):
    return GpuEngine(dtype=dtype, device="cpu", allow_cpu=True, launcher=HostLauncher())


def _agree(engine, data, train, spec, rtol, atol, seeds=SEEDS):
    ref = NumpyEngine("float64")
    pg, hg = fit(engine, spec, engine.init(spec, seeds, train.rng), data, train, seeds)
    pn, hn = fit(ref, spec, ref.init(spec, seeds, train.rng), data, train, seeds)
    for key in hn.values:
        np.testing.assert_allclose(hg.values[key], hn.values[key], rtol=rtol, atol=atol, err_msg=key)
    for (W, b), (V, c) in zip(engine.to_numpy(pg), pn):
        np.testing.assert_allclose(W, V, rtol=rtol, atol=atol)
        np.testing.assert_allclose(b, c, rtol=rtol, atol=atol)
    np.testing.assert_array_equal(hg.diverged_epoch, hn.diverged_epoch)
    return hn


# the kernels' source ---------------------------------------------------------------------
def test_scalar_expressions_become_c():
    assert c_expr("z if z > 0.0 else slope * z", {"slope": 0.1}, "float", "z0") == \
        "((z0 > 0.0f) ? z0 : (0.1f * z0))"
    assert c_expr("1.0 if z > -1.0 and z < 1.0 else 0.0", {}, "double", "q") == \
        "(((q > (-1.0)) && (q < 1.0)) ? 1.0 : 0.0)"
    assert c_expr("math.erf(z) * a ** 2", {}, "float", "z", "a") == "(erff(z) * ((a) * (a)))"
    assert c_expr("-2 < z <= 3", {}, "double", "z") == "(((-2.0) < z) && (z <= 3.0))"
    for bad in ("z.real", "foo(z)", "'x'", "z % 2", "unknown_name"):
        with pytest.raises(UnsupportedActivation):
            c_expr(bad, {}, "float", "z")


def test_only_binary_outputs_and_known_optimizers_are_generated():
    relu = get_activation("relu").scalar
    acts = [((relu[0], {}), (relu[1], {}))]
    assert "train_epoch_shared" in model_source((2, 4, 1), acts, "float32", "adam")
    with pytest.raises(UnsupportedActivation):
        model_source((2, 4, 3), acts, "float32", "sgd")
    with pytest.raises(UnsupportedActivation):
        model_source((2, 4, 1), acts, "float32", "lbfgs")


def test_unsupported_specs_fall_back_to_the_device_loop(small_moons):
    engine = host_engine()
    assert engine.kernels(MLPSpec(2, [4], "relu", n_classes=3)) is None  # softmax output
    assert engine.kernels(MLPSpec(2, [64, 64], "relu")) is None  # too many parameters
    spec = MLPSpec(2, [4], "relu", n_classes=3)
    plan = EpochPlan("sgd", 0.05, 0.9, (0.9, 0.999), 1e-8, 0.0, 64, True, [None])
    runner = engine.epoch_runner(spec, engine.init(spec, [0]), small_moons.X_train, small_moons.y_train, plan)
    assert runner is None  # the training loop steps the minibatches on the device


# the fused kernels, compiled for the host ------------------------------------------------
@needs_cxx
@pytest.mark.parametrize("act", COMPILED)
def test_fused_kernels_agree_for_every_activation(small_moons, act):
    engine = host_engine()
    spec = MLPSpec(2, [5, 4], act)
    assert engine.kernels(spec) is not None
    _agree(engine, small_moons, TrainSpec(epochs=3, lr=0.05), spec, 1e-9, 1e-11)


@needs_cxx
@pytest.mark.parametrize("optimizer, lr, extra", [
    ("adam", 0.01, {}), ("momentum", 0.05, {"momentum": 0.9}), ("nesterov", 0.05, {"momentum": 0.8}),
    ("sgd", 0.05, {"weight_decay": 0.01}), ("adam", 0.01, {"weight_decay": 0.001}),
])
def test_fused_kernels_agree_for_every_optimizer(small_moons, optimizer, lr, extra):
    train = TrainSpec(epochs=4, optimizer=optimizer, lr=lr, **extra)
    _agree(host_engine(), small_moons, train, MLPSpec(2, [8, 8], "tanh"), 1e-9, 1e-11)


@needs_cxx
@pytest.mark.parametrize("rng, shuffle, batch", [("article", True, 16), ("default", False, 32),
                                                 ("default", True, 1000)])
def test_fused_kernels_follow_every_batch_order(small_moons, rng, shuffle, batch):
    train = TrainSpec(epochs=3, rng=rng, shuffle=shuffle, batch_size=batch)
    _agree(host_engine(), small_moons, train, MLPSpec(2, [6, 6, 3], "sigmoid"), 1e-9, 1e-11)


@needs_cxx
def test_fused_kernels_in_float32(small_moons):
    train = TrainSpec(epochs=4, dtype="float32")
    _agree(host_engine("float32"), small_moons, train, MLPSpec(2, [8, 8], "relu"), 2e-4, 2e-5)


def _poisoned_fit(engine, data, spec, train, member: int):
    """fit with one member's first weight NaN: its first minibatch loss is not finite."""
    p = NumpyEngine("float64").init(spec, SEEDS)
    p[0].W[member, 0, 0] = np.nan
    return fit(engine, spec, engine.from_numpy(p), data, train, SEEDS)


def _assert_divergence_marked(engine, data):
    spec, train = MLPSpec(2, [6, 5], "tanh"), TrainSpec(epochs=3, optimizer="adam", lr=0.01)
    pg, hg = _poisoned_fit(engine, data, spec, train, member=4)
    pn, hn = _poisoned_fit(NumpyEngine("float64"), data, spec, train, member=4)
    assert hg.diverged_epoch.tolist() == [-1] * 4 + [0] + [-1] * 6
    for key in hn.values:
        np.testing.assert_allclose(hg.values[key], hn.values[key], rtol=1e-9, atol=1e-11, err_msg=key)
    np.testing.assert_allclose(engine.to_numpy(pg)[1].W, pn[1].W, rtol=1e-9, atol=1e-11)


@needs_cxx
def test_fused_kernels_mark_a_diverged_member_and_train_the_others(small_moons):
    _assert_divergence_marked(host_engine(), small_moons)


@needs_cxx
def test_fused_kernels_freeze_members_that_overflow(small_moons):
    # lr = 1e300 overflows within a few steps (where exactly depends on the order of the
    # sums, so engines may differ by an epoch): from the epoch a member is marked, its
    # history is NaN, and before it, finite
    spec, train = MLPSpec(2, [4, 4], "relu"), TrainSpec(epochs=4, lr=1e300)
    engine = host_engine()
    _, h = fit(engine, spec, engine.init(spec, SEEDS), small_moons, train, SEEDS)
    assert h.diverged.any()
    loss = h.values["train/running_loss"]
    for k, e in enumerate(h.diverged_epoch):
        last = len(loss) if e < 0 else e
        assert np.isfinite(loss[:last, k]).all() and np.isnan(loss[last:, k]).all()


@needs_cxx
def test_fused_evaluation_agrees(small_moons):
    engine, ref = host_engine(), NumpyEngine("float64")
    spec = MLPSpec(2, [8, 8], "gelu")
    p = ref.init(spec, SEEDS)
    loss, acc = engine.loss_and_accuracy(spec, engine.from_numpy(p), small_moons.X_test, small_moons.y_test)
    rl, ra = ref.loss_and_accuracy(spec, p, small_moons.X_test, small_moons.y_test)
    np.testing.assert_allclose(loss, rl, rtol=1e-12)
    np.testing.assert_array_equal(acc, ra)


# the torch device loop ---------------------------------------------------------------------
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_device_loop_agrees_on_cpu(small_moons, optimizer):
    engine = GpuEngine(dtype="float64", device="cpu", allow_cpu=True)
    assert engine.launcher is None and not engine.capabilities.fused_epochs
    train = TrainSpec(epochs=4, optimizer=optimizer, lr=0.05 if optimizer == "sgd" else 0.01)
    _agree(engine, small_moons, train, MLPSpec(2, [8, 8], "relu"), 1e-9, 1e-11)


def test_device_loop_marks_divergence_like_the_torch_loop(small_moons):
    # at overflow the torch contract and NumPy may round differently; the device loop must
    # give exactly what the generic loop gives on the same (torch) contract
    engine = GpuEngine(dtype="float64", device="cpu", allow_cpu=True)
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


# on a CUDA device ------------------------------------------------------------------------
@needs_cuda
@pytest.mark.gpu
@pytest.mark.parametrize("dtype, rtol, atol", [("float64", 1e-9, 1e-11), ("float32", 2e-4, 2e-5)])
def test_cuda_agrees_with_numpy(small_moons, dtype, rtol, atol):
    engine = get_engine("gpu", dtype=dtype)
    assert engine.device.startswith("cuda")
    assert engine.kernels(MLPSpec(2, [8, 8], "sigmoid")) is not None, "CuPy is missing: no fused kernels"
    _agree(engine, small_moons, TrainSpec(epochs=4, dtype=dtype), MLPSpec(2, [8, 8], "sigmoid"), rtol, atol)


@needs_cuda
@pytest.mark.gpu
@pytest.mark.parametrize("act", COMPILED)
def test_cuda_kernels_agree_for_every_activation(small_moons, act):
    train = TrainSpec(epochs=3, optimizer="adam", lr=0.01)
    seeds = list(range(150))  # three blocks, the last one partly empty
    _agree(get_engine("gpu"), small_moons, train, MLPSpec(2, [5, 4], act), 1e-9, 1e-11, seeds)


@needs_cuda
@pytest.mark.gpu
def test_cuda_batch_orders_in_global_memory(small_moons, monkeypatch):
    monkeypatch.setattr(gpu_engine, "MAX_SHARED", 0)
    _agree(get_engine("gpu"), small_moons, TrainSpec(epochs=3), MLPSpec(2, [8, 8], "relu"), 1e-9, 1e-11)


@needs_cuda
@pytest.mark.gpu
def test_cuda_divergence_is_marked(small_moons):
    _assert_divergence_marked(get_engine("gpu"), small_moons)


@needs_cuda
@pytest.mark.gpu
def test_auto_picks_gpu_for_cuda():
    assert get_engine("auto", device="auto").name == "gpu"
