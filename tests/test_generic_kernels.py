"""The fast engine's generic kernels (any width and depth, the built-in activations through
a table, others as programs, nothing compiled per architecture or activation) agree with
the NumPy reference."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba", reason="the fast engine needs numba (extra 'fast')")

from actscope.config import TrainSpec  # noqa: E402
from actscope.engines import NumpyEngine  # noqa: E402
from actscope.engines.codegen.numba_generic import TABLE  # noqa: E402
from actscope.engines.fast_engine import FastEngine  # noqa: E402
from actscope.engines.fast_kernels import generic_args, sources  # noqa: E402
from actscope.nn.model import MLPSpec  # noqa: E402
from actscope.training.loop import fit  # noqa: E402

SEEDS = list(range(11))  # more than one block of float64 lanes, and a partial one
GROUPS = [TABLE[i:i + 4] for i in range(0, len(TABLE), 4)]


def _fit_both(spec, data, train, seeds=SEEDS):
    fast, ref = FastEngine(train.dtype, kernel="generic"), NumpyEngine(train.dtype)
    pf, hf = fit(fast, spec, fast.init(spec, seeds, train.rng), data, train, seeds)
    pn, hn = fit(ref, spec, ref.init(spec, seeds, train.rng), data, train, seeds)
    return fast, (pf, hf), (pn, hn)


def _assert_same(a, b, rtol, atol):
    (pf, hf), (pn, hn) = a, b
    for key in hn.values:
        np.testing.assert_allclose(hf.values[key], hn.values[key], rtol=rtol, atol=atol, err_msg=key)
    for (W, c), (V, d) in zip(pf, pn):
        np.testing.assert_allclose(W, V, rtol=rtol, atol=atol)
        np.testing.assert_allclose(c, d, rtol=rtol, atol=atol)
    np.testing.assert_array_equal(hf.diverged, hn.diverged)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("acts", GROUPS, ids="/".join)
def test_generic_fit_agrees_with_numpy(small_moons, acts, optimizer):
    # uneven widths: every layer's fan-in and fan-out differ, so a transposed index fails
    spec = MLPSpec(2, [3 + i for i in range(len(acts))], list(acts))
    train = TrainSpec(epochs=3, optimizer=optimizer, lr=0.05 if optimizer == "sgd" else 0.01)
    fast, a, b = _fit_both(spec, small_moons, train)
    assert fast.choose(spec).kernel == "generic"
    _assert_same(a, b, rtol=1e-9, atol=1e-11)


def test_generic_takes_activation_parameters_at_run_time(small_moons):
    # a non-default slope is a run-time value, not a new compile: it must change the result
    spec = MLPSpec(2, [5, 4], ["leaky_relu(0.3)", "elu(alpha=0.5)"])
    codes = generic_args(spec, "float64")
    assert codes is not None and codes[2][0, 0, 0] == 0.3 and codes[2][0, 1, 0] == 0.5
    train = TrainSpec(epochs=3, optimizer="momentum", lr=0.05)
    _, a, b = _fit_both(spec, small_moons, train)
    _assert_same(a, b, rtol=1e-9, atol=1e-11)


def test_generic_covers_wide_networks_one_module_for_all(small_moons):
    wide = MLPSpec(2, [40, 40], "tanh")  # 1,801 parameters in float32
    deep = MLPSpec(2, [6] * 5, "relu")
    assert sources(wide, "float32")["generic"] == sources(deep, "float32")["generic"]
    train = TrainSpec(epochs=2, dtype="float32", lr=0.05)
    _, a, b = _fit_both(wide, small_moons, train, seeds=list(range(17)))
    _assert_same(a, b, rtol=2e-3, atol=2e-4)


def test_formulas_run_as_programs_of_the_one_generic_module():
    spec = MLPSpec(2, [3, 2], ["f(x) = x * tanh(x)", "tanh"])
    args = generic_args(spec, "float64")
    assert args is not None
    codes, progs = args[1], args[3]
    # the formula is program pair 0 (its f and f'), tanh stays on the compiled table
    assert codes[0, 0] == len(TABLE) and codes[0, 1] == TABLE.index("tanh") and progs.shape[0] == 2
    assert sources(spec, "float64")["generic"] == sources(MLPSpec(2, [3], "relu"), "float64")["generic"]
    assert "specialised" in sources(spec, "float64")  # still a choice where it pays
