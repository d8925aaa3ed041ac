"""A formula activation takes the built-ins' path: it trains in the fast engine's numba
kernels and in the gpu engine's CUDA kernels (compiled for the host here), with the NumPy
engine's losses."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sympy")

from actscope.activations import get_activation, register_formula  # noqa: E402
from actscope.config import TrainSpec  # noqa: E402
from actscope.engines import NumpyEngine  # noqa: E402
from actscope.nn.model import MLPSpec  # noqa: E402
from actscope.training.loop import fit  # noqa: E402

SEEDS = list(range(11))  # more than one block of lanes, and a partial one
INLINE = "f(x) = max(x, 0.1 * x) + 0.1 * sin(x)"  # a kink: its derivative is a conditional


@pytest.fixture(scope="module")
def spec() -> MLPSpec:
    register_formula("test_formula_mish", "x * tanh(log(1 + exp(x)))")
    return MLPSpec(2, [4, 3], ["test_formula_mish", INLINE])


def test_formulas_have_kernel_forms(spec):
    for act in spec.activations:
        assert act.scalar is not None, act.name
    assert get_activation("test_formula_mish").scalar[0] == "z * tanh(softplus(z))"


def _agree(engine, data, spec, train):
    ref = NumpyEngine("float64")
    pe, he = fit(engine, spec, engine.init(spec, SEEDS, train.rng), data, train, SEEDS)
    pn, hn = fit(ref, spec, ref.init(spec, SEEDS, train.rng), data, train, SEEDS)
    assert any("loss" in key for key in hn.values)
    for key in hn.values:
        assert np.isfinite(hn.values[key]).all(), key
        np.testing.assert_allclose(he.values[key], hn.values[key], rtol=1e-9, atol=1e-11, err_msg=key)
    for (W, b), (V, c) in zip(engine.to_numpy(pe), pn):
        np.testing.assert_allclose(W, V, rtol=1e-9, atol=1e-11)
        np.testing.assert_allclose(b, c, rtol=1e-9, atol=1e-11)


def test_formula_trains_in_the_numba_kernels(small_moons, spec):
    pytest.importorskip("numba", reason="the fast engine needs numba (extra 'fast')")
    from actscope.engines.fast_engine import FastEngine

    engine = FastEngine("float64")
    assert engine.kernels(spec) is not None  # the kernels, not the NumPy fallback
    _agree(engine, small_moons, spec, TrainSpec(epochs=3, lr=0.05))


def test_formula_trains_in_the_cuda_kernels_on_the_host(small_moons, spec):
    pytest.importorskip("torch", reason="the gpu engine needs PyTorch (extra 'torch')")
    from cuda_host import CXX, HostLauncher

    if CXX is None:
        pytest.skip("no C++ compiler to build the kernels for the host")
    from actscope.engines.gpu_engine import GpuEngine

    engine = GpuEngine(dtype="float64", device="cpu", allow_cpu=True, launcher=HostLauncher())
    assert engine.kernels(spec, "adam") is not None
    _agree(engine, small_moons, spec, TrainSpec(epochs=3, optimizer="adam", lr=0.01))
