"""Activations defined once, as scalar expressions: the language, the derived derivative,
agreement with independent NumPy/SciPy forms, and the kernels' lowering."""

from __future__ import annotations

import ast
import math

import numpy as np
import pytest
from scipy.special import expit, ndtr

from actscope.activations import (
    BUILTINS,
    FAMILY_TABLE,
    FUNCTIONS,
    ExprError,
    compile_expression,
    get_activation,
)
from actscope.engines.codegen.lowering import EXPANSIONS, lower

PARAMETERISED = ["leaky_relu(0.2)", "elu(0.5)", "silu(2)", "softplus(3)", "swish(0.5)"]
BUILT_IN = [d.name for d in BUILTINS] + ["leaky_relu", "elu", "silu", "softplus"] + PARAMETERISED
# a grid with large |z|, tiny |z| and the kinks
GRID = np.concatenate([np.linspace(-40, 40, 4001), -np.logspace(-12, 3, 150), np.logspace(-12, 3, 150),
                       [0.0, -1.0, 1.0, -3.0, 3.0]])
S, A = 1.0507009873554804934193349852946, 1.6732632423543772848170429916717
C = math.sqrt(2.0 / math.pi)


def _sp(z):
    return np.logaddexp(0.0, z)


def _gt(z, s):
    t = np.tanh(C * (z + 0.044715 * z**3))
    return 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * C * (1 + 3 * 0.044715 * z * z)


# independent forms: (f, f') written directly with NumPy and SciPy
REFERENCE = {
    "identity": (lambda z, p: z, lambda z, p: np.ones_like(z)),
    "sigmoid": (lambda z, p: expit(z), lambda z, p: expit(z) * (1 - expit(z))),
    "tanh": (lambda z, p: np.tanh(z), lambda z, p: 1 - np.tanh(z) ** 2),
    "relu": (lambda z, p: np.maximum(z, 0.0), lambda z, p: (z > 0).astype(float)),
    "selu": (lambda z, p: S * np.where(z > 0, z, A * np.expm1(np.minimum(z, 0))),
             lambda z, p: S * np.where(z > 0, 1.0, A * np.exp(np.minimum(z, 0)))),
    "gelu": (lambda z, p: z * ndtr(z),
             lambda z, p: ndtr(z) + z * np.exp(-z * z / 2) / math.sqrt(2 * math.pi)),
    "gelu_tanh": (lambda z, p: 0.5 * z * (1 + np.tanh(C * (z + 0.044715 * z**3))), _gt),
    "mish": (lambda z, p: z * np.tanh(_sp(z)),
             lambda z, p: np.tanh(_sp(z)) + z * (1 - np.tanh(_sp(z)) ** 2) * expit(z)),
    "softsign": (lambda z, p: z / (1 + np.abs(z)), lambda z, p: 1 / (1 + np.abs(z)) ** 2),
    "hard_sigmoid": (lambda z, p: np.clip(z / 6 + 0.5, 0, 1), lambda z, p: ((z > -3) & (z < 3)) / 6.0),
    "hard_tanh": (lambda z, p: np.clip(z, -1, 1), lambda z, p: ((z > -1) & (z < 1)).astype(float)),
    "sine": (lambda z, p: np.sin(z), lambda z, p: np.cos(z)),
    "gaussian": (lambda z, p: np.exp(-z * z), lambda z, p: -2 * z * np.exp(-z * z)),
    "leaky_relu": (lambda z, p: np.where(z > 0, z, p["slope"] * z),
                   lambda z, p: np.where(z > 0, 1.0, p["slope"])),
    "elu": (lambda z, p: np.where(z > 0, z, p["alpha"] * np.expm1(np.minimum(z, 0))),
            lambda z, p: np.where(z > 0, 1.0, p["alpha"] * np.exp(np.minimum(z, 0)))),
    "silu": (lambda z, p: z * expit(p["beta"] * z),
             lambda z, p: expit(p["beta"] * z) * (1 + p["beta"] * z * (1 - expit(p["beta"] * z)))),
    "softplus": (lambda z, p: _sp(p["beta"] * z) / p["beta"], lambda z, p: expit(p["beta"] * z)),
}


def _base(act) -> str:
    return act.name.split("(")[0]


def _close(got, want, rtol):
    """Relative agreement, where a value is exactly 0 in one form, absolute to 1e-300."""
    np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-300)


def _points(rng, n=300):
    z = rng.uniform(-6, 6, n)
    return z[np.min(np.abs(z[:, None] - np.array([0.0, -1.0, 1.0, -3.0, 3.0])), axis=1) > 1e-3]


def test_every_builtin_has_a_reference():
    assert {d.name for d in BUILTINS} | {f.name for f in FAMILY_TABLE} == set(REFERENCE)


@pytest.mark.parametrize("name", BUILT_IN)
def test_numpy_values_and_derivatives_match_the_reference(name):
    act = get_activation(name)
    f, g = REFERENCE[_base(act)]
    with np.errstate(over="ignore"):
        _close(act.fn(GRID), f(GRID, act.params), rtol=1e-12)
        _close(act.grad(GRID), g(GRID, act.params), rtol=1e-12)
    assert act.fn(GRID.astype(np.float32)).dtype == np.float32
    assert act.grad(GRID.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize("name", BUILT_IN)
def test_torch_values_and_derivatives_match_the_reference(name):
    torch = pytest.importorskip("torch")
    act = get_activation(name)
    f, g = REFERENCE[_base(act)]
    t = torch.as_tensor(GRID)
    with np.errstate(over="ignore"):
        # torch's tanh and ndtr differ from NumPy's by an ulp, which 1 - tanh(u) ** 2 and
        # 1 + tanh(u) near tanh(u) = -1 turn into absolute differences of an ulp times
        # the factors around them (gelu_tanh': z * (1 + 0.13 z^2))
        for got, want in ((act.torch_fn(t), f(GRID, act.params)), (act.torch_grad(t), g(GRID, act.params))):
            err = np.abs(got.numpy() - want)
            bound = 1e-12 * np.abs(want) + 1e-15 * (1 + np.abs(GRID) ** 3)
            assert np.all(err <= bound), GRID[np.argmax(err - bound)]
    assert act.torch_fn(t.float()).dtype == torch.float32


def _derived(act):
    """The derivative derived from the expression, whatever hand-tuned form overrides it."""
    return compile_expression(act.scalar[0], params=act.params).grad


FORMULAS = ["x * tanh(log(1 + exp(x)))", "max(x, 0.1 * x) + 0.1 * sin(x)", "abs(x) ** 1.5 - sqrt(x**2 + 1)",
            "x / (1 + exp(-x)) + erf(x) * atan(x)", "exp(-x**2 / 2) * cosh(x / 4)"]


@pytest.mark.parametrize("name", BUILT_IN + [f"f(x) = {t}" for t in FORMULAS])
def test_derived_derivative_matches_finite_differences(name, rng):
    act = get_activation(name)
    z, h = _points(rng), 1e-6
    fd = (act.fn(z + h) - act.fn(z - h)) / (2 * h)
    np.testing.assert_allclose(_derived(act)(z), fd, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(act.grad(z), fd, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", [d.name for d in BUILTINS if d.grad])
def test_hand_tuned_derivatives_agree_with_the_derived_ones(name, rng):
    act = get_activation(name)
    z = _points(rng)
    np.testing.assert_allclose(act.grad(z), _derived(act)(z), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(("expr", "grad"), [
    ("z if z > 0.0 else slope * z", "1.0 if z > 0.0 else slope"),
    ("sigmoid(z)", "a * (1.0 - a)"),
    ("tanh(z)", "1.0 - a * a"),
    ("z if z > 0.0 else alpha * expm1(min(z, 0.0))", "1.0 if z > 0.0 else alpha * exp(min(z, 0.0))"),
    ("softplus(beta * z) / beta", "sigmoid(beta * z)"),
    ("3.0 * z ** 2 + 2.0", "3.0 * (2.0 * z)"),
    ("z", "1.0"),
    ("2.5", "0.0"),
])
def test_derivatives_are_simplified_and_written_with_a(expr, grad):
    assert compile_expression(expr, params={"slope": 0.1, "alpha": 1.0, "beta": 2.0}).scalar == (expr, grad)


@pytest.mark.parametrize("bad", ["__import__('os')", "z.real", "lambda: z", "y * z", "'z'", "z % 2",
                                 "exp(z, z)", "foo(z)", "exp", "[z]", "z if z else 1.0 if True else 2",
                                 "1e400 * z", "a * z"])
def test_the_language_refuses_what_it_does_not_have(bad):
    with pytest.raises(ExprError):
        compile_expression(bad)


ARGS = {1: "z", 2: "z, 0.5", 3: "z, 0.3, 0.7"}  # min, max and clip have kinks at 0.3, 0.5, 0.7


def test_every_function_has_numpy_torch_and_a_derivative(rng):
    torch = pytest.importorskip("torch")
    u = rng.uniform(0.1, 0.9, 80)
    u = u[np.min(np.abs(u[:, None] - np.array([0.3, 0.5, 0.7])), axis=1) > 1e-3]
    for name, fn in FUNCTIONS.items():
        act = compile_expression(f"{name}({ARGS[len(fn.partials)]})")
        tfn = act.torch_fn(torch.as_tensor(u)).numpy()
        np.testing.assert_allclose(tfn, act.fn(u), rtol=1e-12, err_msg=name)
        h = 1e-6
        fd = (act.fn(u + h) - act.fn(u - h)) / (2 * h)
        np.testing.assert_allclose(act.grad(u), fd, rtol=1e-5, atol=1e-7, err_msg=name)


@pytest.mark.parametrize("name", sorted(EXPANSIONS))
def test_kernel_expansions_compute_the_function(name, rng):
    z = np.concatenate([rng.uniform(-30, 30, 200), rng.uniform(-1, 1, 50)])
    call = f"{name}({ARGS[len(FUNCTIONS[name].partials)]})"
    lowered = ast.unparse(lower(call))
    assert name not in lowered
    math_ns = {"max": max, "min": min, "abs": abs, "exp": math.exp, "log1p": math.log1p, "erfc": math.erfc}
    got = np.array([eval(lowered, {**math_ns, "z": float(v)}) for v in z])  # noqa: S307
    want = compile_expression(call).fn(z)
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)  # expm1 as exp - 1 near 0


def test_formulas_print_into_the_same_language():
    pytest.importorskip("sympy")
    act = get_activation("f(x) = x * tanh(log(1 + exp(x)))")
    assert act.scalar[0] == "z * tanh(softplus(z))"
    assert act.scalar == compile_expression(*act.scalar).scalar  # printed in the language
    kinked = get_activation("f(x) = max(0, x) + 0.1 * min(0, x)")
    assert " if " in kinked.scalar[1]  # Heaviside, written as a conditional


def test_importing_activations_does_not_import_sympy():
    import subprocess
    import sys

    code = "import sys, actscope.activations; print('sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_function_has_a_kernel_form(name):
    from actscope.engines.codegen.cuda_source import c_expr
    from actscope.engines.codegen.numba_source import scalar_expr

    call = f"{name}({ARGS[len(FUNCTIONS[name].partials)]}) + a"
    sources = [c_expr(call, {}, ctype, "z0", "a0") for ctype in ("float", "double")]
    sources.append(scalar_expr(call, {}, "z0", "a0"))  # UnsupportedActivation if either lacks it
    for src in sources:
        assert "z0" in src and "a0" in src
        assert name not in EXPANSIONS or f"{name}(" not in src


@pytest.mark.parametrize("row", [d for d in BUILTINS if d.numpy or d.torch], ids=lambda d: d.name)
def test_hand_tuned_array_forms_agree_with_the_derived_ones(row):
    """An override is a faster spelling of the same function, on NumPy and on torch."""
    torch = pytest.importorskip("torch")
    z = np.concatenate([np.linspace(-40.0, 40.0, 801), [-1e-12, 1e-12, 0.5, -0.5]])
    c = compile_expression(row.expr, row.grad, row.params)  # what the row defines
    fn, grad = row.numpy
    np.testing.assert_allclose(fn(z), c.fn(z), rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(grad(z), c.grad(z), rtol=1e-14, atol=1e-300)
    tz = torch.as_tensor(z)
    tfn, tgrad = row.torch
    np.testing.assert_allclose(tfn(tz).numpy(), c.torch_fn(tz).numpy(), rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(tgrad(tz).numpy(), c.torch_grad(tz).numpy(), rtol=1e-14, atol=1e-300)
    assert get_activation(row.name).fn is fn  # the registry serves the override
