"""Activations as register programs on the generic kernels, and many activations and rates
trained in one kernel call (``engines.mixed``): each member exactly as the ordinary fast
engine trains it alone."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("numba", reason="the fast engine needs numba (extra 'fast')")

from actscope.activations import FUNCTIONS, compile_expression, get_activation  # noqa: E402
from actscope.config import TrainSpec  # noqa: E402
from actscope.engines import NumpyEngine  # noqa: E402
from actscope.engines.codegen.numba_generic import TABLE  # noqa: E402
from actscope.engines.codegen.numba_program import compile_program  # noqa: E402
from actscope.engines.fast_engine import FastEngine  # noqa: E402
from actscope.engines.fast_kernels import generic_args, kernel_values, sources  # noqa: E402
from actscope.engines.mixed import MixedPlan, activation_values, train_mixed  # noqa: E402
from actscope.nn.model import Layer, MLPSpec, init_params  # noqa: E402
from actscope.training.loop import fit  # noqa: E402
from actscope.training.stepper import batch_streams  # noqa: E402

WIDE = np.concatenate([np.linspace(-8.0, 8.0, 161), [-40.0, -20.0, 20.0, 40.0]])
POS = np.concatenate([np.linspace(1e-3, 8.0, 81), [20.0, 40.0]])
UNIT = np.linspace(-0.99, 0.99, 81)
# every function of the language, on a grid inside its domain
FUNCTION_CASES = {
    "exp": ("exp(z)", WIDE), "expm1": ("expm1(z)", WIDE), "log": ("log(z)", POS),
    "log1p": ("log1p(z)", np.linspace(-0.9, 40.0, 97)), "sqrt": ("sqrt(z)", POS), "tanh": ("tanh(z)", WIDE),
    "sigmoid": ("sigmoid(z)", WIDE), "softplus": ("softplus(z)", WIDE), "erf": ("erf(z)", WIDE),
    "erfc": ("erfc(z)", WIDE), "ndtr": ("ndtr(z)", WIDE), "sin": ("sin(z)", WIDE), "cos": ("cos(z)", WIDE),
    "tan": ("tan(z)", np.linspace(-1.5, 1.5, 61)), "asin": ("asin(z)", UNIT), "acos": ("acos(z)", UNIT),
    "atan": ("atan(z)", WIDE), "sinh": ("sinh(z)", WIDE), "cosh": ("cosh(z)", WIDE),
    "asinh": ("asinh(z)", WIDE), "abs": ("abs(z) * z", WIDE), "sign": ("sign(z) * z * z", WIDE),
    "max": ("max(z, 0.25 * z)", WIDE), "min": ("min(z, 1.5)", WIDE), "clip": ("clip(z, -1.0, 2.0)", WIDE),
}
OPERATORS = [
    ("z ** 2 - z ** 3 / 7.0", WIDE), ("z ** 2.5", POS), ("-z / (1.0 + abs(z))", WIDE),
    ("z if z > 0.0 and z < 3.0 else (0.5 * z if z <= -1.0 or z == -0.5 else -z)", WIDE),
    ("z * beta if z != 1.0 else 2.0", WIDE),
]


def _act(expr: str, params: dict | None = None) -> SimpleNamespace:
    c = compile_expression(expr, params=params)
    return SimpleNamespace(name=expr, scalar=c.scalar, params=dict(params or {}), fn=c.fn, grad=c.grad)


def _close(got, want):
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-12)


def test_every_function_of_the_language_has_a_case():
    assert set(FUNCTION_CASES) == set(FUNCTIONS)


@pytest.mark.parametrize("name", sorted(FUNCTION_CASES))
def test_each_function_as_a_program_agrees_with_numpy(name):
    expr, z = FUNCTION_CASES[name]
    act = _act(expr)
    f, d = kernel_values(act, z, "float64")
    with np.errstate(all="ignore"):
        _close(f, act.fn(z))
        _close(d, act.grad(z))


@pytest.mark.parametrize("expr,z", OPERATORS, ids=[e for e, _ in OPERATORS])
def test_operators_comparisons_and_conditionals_as_programs(expr, z):
    act = _act(expr, {"beta": 1.5} if "beta" in expr else None)
    f, d = kernel_values(act, z, "float64")
    _close(f, act.fn(z))
    _close(d, act.grad(z))


@pytest.mark.parametrize("name", TABLE)
def test_every_builtin_as_a_program_agrees_with_numpy_and_the_table(name):
    act = get_activation(name)
    f, d = kernel_values(act, WIDE, "float64", program=True)
    _close(f, act.fn(WIDE))
    _close(d, act.grad(WIDE))
    ft, dt = kernel_values(act, WIDE, "float64")  # the compiled table's own code
    np.testing.assert_allclose(ft, f, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(dt, d, rtol=1e-12, atol=1e-15)


def test_activation_values_is_f_in_the_dtype_asked():
    act = get_activation("f(x) = x * sigmoid(2 * x)")
    z = np.linspace(-5, 5, 37).reshape(37, 1)
    got = activation_values(act, z, "float32")
    assert got.dtype == np.float32 and got.shape == z.shape
    np.testing.assert_allclose(got, act.fn(z), rtol=1e-5, atol=1e-6)


def test_programs_reuse_registers_and_share_subexpressions():
    # sigmoid(z) occurs three times: computed once; the result is not in z's register
    prog = compile_program("sigmoid(z) * (1.0 - sigmoid(z)) + z * sigmoid(z)", {})
    assert prog.n_ops == 6 and int(prog.code[0, 1]) >= 2
    assert int(prog.code[0, 2]) <= 4  # z, a and two scratch registers suffice


def test_a_formula_trains_on_the_generic_kernels_as_numpy_does(small_moons):
    spec = MLPSpec(2, [5, 3], "f(x) = x * tanh(x) + 0.1 * sin(3 * x)")
    assert generic_args(spec, "float64") is not None and "generic" in sources(spec, "float64")
    train = TrainSpec(epochs=3, optimizer="momentum", lr=0.05)
    seeds = list(range(9))
    fast, ref = FastEngine("float64"), NumpyEngine("float64")
    pf, hf = fit(fast, spec, fast.init(spec, seeds), small_moons, train, seeds)
    pn, hn = fit(ref, spec, ref.init(spec, seeds), small_moons, train, seeds)
    assert fast.choose(spec).kernel == "generic"  # nothing compiled for this formula
    for key in hn.values:
        np.testing.assert_allclose(hf.values[key], hn.values[key], rtol=1e-9, atol=1e-11, err_msg=key)
    for (W, b), (V, c) in zip(pf, pn):
        np.testing.assert_allclose(W, V, rtol=1e-9, atol=1e-11)
        np.testing.assert_allclose(b, c, rtol=1e-9, atol=1e-11)


def _alone(spec, data, dtype, lr, seeds, epochs, optimizer):
    """One group at one rate through the ordinary path: fit with FastEngine(dtype)."""
    eng = FastEngine(dtype)
    train = TrainSpec(epochs=epochs, optimizer=optimizer, lr=lr, dtype=dtype, batch_size=16,
                      eval_every=epochs)
    _, h = fit(eng, spec, eng.init(spec, seeds), data, train, seeds)
    assert eng.choose(spec).kernel == "generic"
    return {s: (h.values[f"{s}/loss"][-1], h.values[f"{s}/accuracy"][-1]) for s in ("train", "test")} | {
        "train_running": (h.values["train/running_loss"][-1], h.values["train/running_accuracy"][-1])}


@pytest.mark.parametrize("dtype,optimizer", [("float32", "sgd"), ("float64", "adam")])
def test_mixed_groups_and_rates_equal_each_trained_alone(small_moons, dtype, optimizer):
    acts = [get_activation("relu"), get_activation("f(x) = x / (1 + abs(x)) + 0.05 * x * x"),
            get_activation("tanh")]
    rates = [0.5, 0.1, 2.0] if optimizer == "sgd" else [0.003, 0.03, 0.3]
    n_seeds, epochs = 5, 3
    # member order interleaved (groups and rates mixed), so that the layout must sort them
    cells = [(g, r, s) for s in range(n_seeds) for r in range(3) for g in range(3)]
    group = np.array([g for g, _, _ in cells])
    lrs = np.array([rates[r] for _, r, _ in cells])
    seeds = [s for _, _, s in cells]
    specs = [MLPSpec(2, [4, 3], a.name) for a in acts]  # init "auto" follows the activation
    each = [init_params(specs[g], [s]) for g, _, s in cells]
    params = [Layer(np.concatenate([p[i].W for p in each]), np.concatenate([p[i].b for p in each]))
              for i in range(3)]
    streams = batch_streams(specs[0], seeds, "default")
    d = small_moons
    evals = {"train": (d.X_train, d.y_train), "test": (d.X_test, d.y_test)}
    plan = MixedPlan(epochs=epochs, batch_size=16, optimizer=optimizer)
    got = train_mixed((2, 4, 3, 1), acts, group, lrs, params, d.X_train, d.y_train, streams, plan, evals,
                      dtype=dtype)
    assert got is not None and set(got) == {"train", "test", "train_running"}
    for g, act in enumerate(acts):
        for r, lr in enumerate(rates):
            want = _alone(specs[g], d, dtype, lr, list(range(n_seeds)), epochs, optimizer)
            rows = [i for i, c in enumerate(cells) if c[:2] == (g, r)]
            for split, (loss, acc) in want.items():
                np.testing.assert_array_equal(got[split][0][rows], loss, err_msg=f"{act.name} {lr} {split}")
                np.testing.assert_array_equal(got[split][1][rows], acc, err_msg=f"{act.name} {lr} {split}")
    assert len({tuple(got["test"][0][group == g]) for g in range(3)}) == 3  # the groups differ


def test_diverged_members_are_nan_and_stopping_returns_none(small_moons):
    d = small_moons
    spec0 = MLPSpec(2, [3], "identity")
    params, streams = init_params(spec0, [0, 1]), batch_streams(spec0, [0, 1], "default")
    plan = MixedPlan(epochs=4, batch_size=16)
    got = train_mixed((2, 3, 1), [get_activation("f(x) = exp(x)")], np.zeros(2, int), np.array([1e6, 0.01]),
                      params, d.X_train, d.y_train, streams, plan, {"test": (d.X_test, d.y_test)}, "float64")
    assert got is not None
    assert np.isnan(got["test"][0][0]) and np.isnan(got["train_running"][1][0])
    assert np.isfinite(got["test"][0][1]) and 0.0 <= got["test"][1][1] <= 1.0
    calls = []
    stopped = train_mixed((2, 3, 1), [get_activation("relu")], np.zeros(2, int), np.full(2, 0.1), params,
                          d.X_train, d.y_train, streams, plan, {}, "float64",
                          should_stop=lambda: calls.append(1) or len(calls) > 2)
    assert stopped is None and len(calls) == 3
