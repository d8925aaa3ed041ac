"""The generic kernels' minibatch blocking (one call per layer over all of a minibatch's
points, register-blocked sums, unit-major blocks) and the prelude's vectorisable erf, erfc,
sin and cos: against the NumPy engine and the math library."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("numba", reason="the fast engine needs numba (extra 'fast')")

from tests.test_generic_kernels import _assert_same, _fit_both  # noqa: E402

from actscope.config import TrainSpec  # noqa: E402
from actscope.engines.codegen.numba_generic import TABLE  # noqa: E402
from actscope.engines.codegen.numba_prelude import prelude, special_source  # noqa: E402
from actscope.engines.kernel_cache import load_source  # noqa: E402
from actscope.nn.model import MLPSpec  # noqa: E402

SEEDS = list(range(11))  # one full block of float64 lanes and a partial one


def _agree(spec, data, train, rtol=1e-9, atol=1e-11):
    """Fit ``spec`` on the generic kernels and on NumPy; the histories and parameters agree."""
    fast, a, b = _fit_both(spec, data, train)
    assert fast.choose(spec).kernel == "generic"
    _assert_same(a, b, rtol, atol)


# depth 1..5, widths 1..3 in every position (odd and even fan-ins and fan-outs, so every
# gradient block shape and every tail of the sums runs), minibatches with odd tails
@pytest.mark.parametrize("hidden", [[1], [2], [3], [3, 1], [1, 2, 3], [2, 3, 1, 2], [3, 2, 1, 3, 2]],
                         ids=lambda h: "-".join(map(str, h)))
@pytest.mark.parametrize("batch", [1, 7, 64])
def test_blocked_layers_agree_with_numpy(small_moons, hidden, batch):
    spec = MLPSpec(2, hidden, "tanh")
    if batch > 1:
        _agree(spec, small_moons, TrainSpec(epochs=2, optimizer="momentum", lr=0.05, batch_size=batch))
    else:  # minibatches of one point: 90 steps a epoch, over which rounding drifts further
        _agree(spec, small_moons, TrainSpec(epochs=1, optimizer="sgd", lr=0.05, batch_size=1),
               rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("name", TABLE)
def test_every_table_activation_on_odd_blocks(small_moons, name):
    # 90 training points in minibatches of 13 (a tail of 12), widths 3 and 1
    spec = MLPSpec(2, [3, 1], name)
    _agree(spec, small_moons, TrainSpec(epochs=2, optimizer="adam", lr=0.01, batch_size=13))


def test_program_activation_with_erf_and_sin_agrees_with_numpy(small_moons):
    # a formula: run as a register program, whose erf and sin ops are the prelude's forms
    spec = MLPSpec(2, [3, 2], ["f(x) = erf(x) + 0.5 * sin(x)", "f(x) = x * cos(x) / 2"])
    _agree(spec, small_moons, TrainSpec(epochs=2, optimizer="sgd", lr=0.05, batch_size=7))


def test_float32_blocks_agree_with_numpy(small_moons):
    spec = MLPSpec(2, [5, 3], "gelu")  # 16 lanes a block; 11 members: one partial block
    _agree(spec, small_moons, TrainSpec(epochs=2, dtype="float32", lr=0.05, batch_size=9),
           rtol=2e-4, atol=2e-5)


_RUNNER = '''

@njit(fastmath=FM, error_model="numpy")
def run(x, o, which):
    for i in range(x.shape[0]):
        o[i] = verf(x[i]) if which == 0 else (verfc(x[i]) if which == 1 else (
            vsin(x[i]) if which == 2 else vcos(x[i])))
'''


def _special(dtype):
    return load_source(prelude(dtype, 8, 0, 0) + special_source(dtype) + _RUNNER, 1)


def _ulps(got, ref, dtype):
    """|got - ref| in units of the last place of ref, in ``dtype``."""
    return np.abs(got - ref) / np.spacing(np.abs(ref).astype(dtype)).astype(np.float64)


def _run(dtype, which, x):
    x = np.asarray(x, dtype)
    got = np.empty_like(x)
    _special(dtype).run(x, got, which)
    return got.astype(np.float64)


def _case(dtype, which, x):
    f = (math.erf, math.erfc, math.sin, math.cos)[which]
    x = np.asarray(x, dtype)
    return _run(dtype, which, x), np.array([f(float(v)) for v in x])


def test_erf_and_erfc_agree_with_math_to_a_few_ulp():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.uniform(-7, 7, 20000), np.linspace(-1.1, 1.1, 2001), [0.0, -0.0, 1e-300, 6.0]])
    got, ref = _case("float64", 0, x)
    assert np.max(_ulps(got, ref, "float64")) <= 4
    # erfc keeps its relative accuracy in the tail, down to 1e-300 (x about 26.2)
    x = np.concatenate([rng.uniform(-3, 26.2, 20000), np.linspace(0.5, 7, 2001)])
    got, ref = _case("float64", 1, x)
    assert np.max(_ulps(got, ref, "float64")) <= 8
    got, ref = _case("float64", 1, [30.0, -30.0])
    assert got.tolist() == [0.0, 2.0]


def test_sin_and_cos_agree_with_math_to_a_few_ulp_far_out():
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.uniform(-10, 10, 20000), rng.uniform(-1e5, 1e5, 20000),
                        np.arange(-50, 51) * (np.pi / 2)])
    for which in (2, 3):
        got, ref = _case("float64", which, x)
        err = np.abs(got - ref)
        # within 4 ulp of the value, or of 2**-53 where the value is near zero (a root)
        assert np.all(err <= 4 * np.maximum(np.spacing(np.abs(ref)), np.spacing(1.0) / 2))


def test_special_functions_float32_and_non_finite():
    rng = np.random.default_rng(3)
    x = rng.uniform(-8, 8, 5000)
    for which in range(4):
        got, ref = _case("float32", which, x)
        ok = np.abs(ref) > 1e-30
        np.testing.assert_allclose(got[ok], ref[ok], rtol=2e-6, atol=0)
    for which in range(4):
        assert np.isnan(_run("float64", which, [np.nan])[0])
    assert _run("float64", 0, [np.inf, -np.inf]).tolist() == [1.0, -1.0]
    assert _run("float64", 1, [np.inf, -np.inf]).tolist() == [0.0, 2.0]
    assert np.isnan(_run("float64", 2, [np.inf])[0]) and np.isnan(_run("float64", 3, [-np.inf])[0])
