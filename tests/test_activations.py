"""The activation zoo: derivatives, torch equivalents, ranges, parameterised names,
Python registration, per-layer activations and init schemes."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

import actscope
from actscope.activations import UnknownActivationError, describe, get_activation, list_activations
from actscope.errors import InputError
from actscope.nn.model import MLPSpec, init_params

ZOO = ["leaky_relu", "elu", "selu", "gelu", "gelu_tanh", "silu", "softplus", "mish", "softsign",
       "hard_sigmoid", "hard_tanh", "sine", "gaussian"]
PARAMETERISED = ["leaky_relu(0.2)", "elu(0.5)", "silu(2)", "softplus(3)", "swish(0.5)"]
KINKS = np.array([0.0, -1.0, 1.0, -3.0, 3.0])


def _points(rng, n=200):
    z = rng.uniform(-5, 5, n)
    return z[np.min(np.abs(z[:, None] - KINKS[None]), axis=1) > 1e-3]


@pytest.mark.parametrize("name", list_activations() + PARAMETERISED)
def test_derivative_matches_finite_differences(name, rng):
    act = get_activation(name)
    z = _points(rng)
    h = 1e-6
    fd = (act.fn(z + h) - act.fn(z - h)) / (2 * h)
    np.testing.assert_allclose(act.grad(z), fd, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", list_activations() + PARAMETERISED)
def test_value_lies_in_declared_range(name):
    act = get_activation(name)
    z = np.linspace(-30, 30, 6001)
    v = act.fn(z)
    lo, hi = act.range
    assert np.all(v >= lo - 1e-6) and np.all(v <= hi + 1e-6)
    assert act.family in ("piecewise-linear", "saturating", "smooth", "linear")
    assert act.gain > 0


@pytest.mark.parametrize("name", list_activations() + PARAMETERISED)
def test_torch_equivalents_match_numpy(name, rng):
    torch = pytest.importorskip("torch")
    act = get_activation(name)
    assert act.torch_fn is not None and act.torch_grad is not None
    z = _points(rng)
    t = torch.as_tensor(z, dtype=torch.float64)
    np.testing.assert_allclose(act.torch_fn(t).numpy(), act.fn(z), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(act.torch_grad(t).numpy(), act.grad(z), rtol=1e-7, atol=1e-9)


def test_torch_functions_agree_with_torch_autograd(rng):
    torch = pytest.importorskip("torch")
    for name in ZOO + PARAMETERISED:
        act = get_activation(name)
        t = torch.as_tensor(_points(rng, 50), dtype=torch.float64).requires_grad_(True)
        (g,) = torch.autograd.grad(act.torch_fn(t).sum(), t)
        np.testing.assert_allclose(act.torch_grad(t.detach()).numpy(), g.numpy(), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(("name", "f0", "df0"), [
    ("relu", 0.0, 0.0), ("sigmoid", 0.5, 0.25), ("tanh", 0.0, 1.0), ("identity", 0.0, 1.0),
    ("softplus", np.log(2.0), 0.5), ("gelu", 0.0, 0.5), ("silu", 0.0, 0.5), ("mish", 0.0, 0.6),
    ("hard_sigmoid", 0.5, 1 / 6), ("gaussian", 1.0, 0.0), ("elu", 0.0, 1.0),
])
def test_values_at_zero(name, f0, df0):
    row = describe(name)
    assert row["f0"] == pytest.approx(f0) and row["df0"] == pytest.approx(df0)


def test_article_activations_are_unchanged():
    z = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    assert get_activation("relu").gain == pytest.approx(np.sqrt(2))
    assert get_activation("tanh").gain == pytest.approx(5 / 3)
    assert get_activation("sigmoid").gain == 1.0 and get_activation("identity").gain == 1.0
    np.testing.assert_allclose(get_activation("sigmoid").fn(z), 1 / (1 + np.exp(-z)))
    assert get_activation("relu").family == "piecewise-linear"
    assert get_activation("sigmoid").family == "saturating"


def test_parameterised_names_and_tables():
    a = get_activation("leaky_relu(0.1)")
    assert a.name == "leaky_relu(0.1)" and a.params == {"slope": 0.1}
    assert get_activation("leaky_relu(slope=0.1)") is a
    assert get_activation({"name": "leaky_relu", "slope": 0.1}) is a
    assert get_activation(" leaky_relu( 0.1 ) ") is a
    assert get_activation("leaky_relu(0.01)").name == "leaky_relu"
    assert get_activation("swish(2)").name == "silu(2)"
    assert get_activation("elu(alpha=0.5)").range == (-0.5, np.inf)
    z = np.array([-2.0, 3.0])
    np.testing.assert_allclose(a.fn(z), [-0.2, 3.0])
    assert get_activation("leaky_relu(0.1)").gain == pytest.approx(np.sqrt(2 / 1.01))


@pytest.mark.parametrize("bad", ["leaky_relu(-1)", "relu(0.1)", "leaky_relu(0.1, 2)", "leaky_relu(abc)",
                                 "leaky_relu(slop=0.1)", "elu(0)", "nope", "leaky_relu(nan)",
                                 "silu(beta=1, beta=2)"])
def test_bad_parameterised_names_are_refused(bad):
    with pytest.raises(UnknownActivationError):
        get_activation(bad)


def test_activations_command_prints_the_table():
    from actscope.cli import main

    res = CliRunner().invoke(main, ["activations"])
    assert res.exit_code == 0
    for name in ZOO + ["relu", "sigmoid"]:
        assert name in res.output
    head = res.output.splitlines()[0]
    for col in ("family", "range", "f(0)", "df/dx(0)", "gain"):
        assert col in head


def test_register_activation_with_and_without_grad():
    fn = lambda z: z * np.tanh(z)  # noqa: E731
    grad = lambda z: np.tanh(z) + z * (1 - np.tanh(z) ** 2)  # noqa: E731
    act = actscope.register_activation("test_xtanh", fn, overwrite=True)
    z = np.linspace(-3, 3, 13)
    np.testing.assert_allclose(act.grad(z), grad(z), rtol=1e-6, atol=1e-8)
    assert "test_xtanh" in list_activations()
    exact = actscope.register_activation("test_xtanh", fn, grad, overwrite=True)
    np.testing.assert_allclose(exact.grad(z), grad(z))
    spec = MLPSpec(n_inputs=2, hidden=[3], activation="test_xtanh")
    assert spec.activations[0] is exact


def test_register_activation_refuses_bad_input():
    with pytest.raises(InputError, match="grad does not match"):
        actscope.register_activation("test_wrong", np.tanh, grad=lambda z: 2 * z)
    with pytest.raises(InputError, match="built-in"):
        actscope.register_activation("relu", np.tanh)
    with pytest.raises(InputError, match="finite"):
        actscope.register_activation("test_nan", np.log)
    with pytest.raises(InputError, match="same shape"):
        actscope.register_activation("test_shape", lambda z: z.sum())
    with pytest.raises(InputError, match="name"):
        actscope.register_activation("bad name!", np.tanh)
    assert "test_wrong" not in list_activations()


def test_registered_python_activation_runs_on_torch():
    torch = pytest.importorskip("torch")
    act = actscope.register_activation("test_cube", lambda z: z**3 / 3 + z, overwrite=True)
    t = torch.linspace(-2, 2, 5, dtype=torch.float64)
    np.testing.assert_allclose(act.torch_fn(t).numpy(), act.fn(t.numpy()))
    np.testing.assert_allclose(act.torch_grad(t).numpy(), t.numpy() ** 2 + 1, rtol=1e-6)


# Per-layer activations ---------------------------------------------------------------------

def test_per_layer_activations_in_config_engine_and_report(in_tmp):
    from actscope.config import parse_spec
    from actscope.pipeline import run_experiment

    spec = parse_spec({
        "name": "mixed", "data": {"n_samples": 60}, "model": {"hidden": [4, 3]},
        "train": {"epochs": 2, "batch_size": 16},
        "arms": [{"name": "mixed", "activation": ["relu", {"name": "leaky_relu", "slope": 0.2}]},
                 {"name": "same", "activation": "tanh"}],
    })
    assert spec.arms[0].activation == ["relu", "leaky_relu(0.2)"]
    run = run_experiment(spec, out=in_tmp / "run", report=False)
    am = run.metrics["arms"]["mixed"]
    assert am["activation"] == ["relu", "leaky_relu(0.2)"]
    assert len(am["members"][0]["hidden_std"]) == 2
    assert [a.name for a in run.arms["mixed"].mlp.activations] == ["relu", "leaky_relu(0.2)"]
    from actscope.report.html import _rows

    assert _rows(run)[0]["activation"] == "relu, leaky_relu(0.2)"
    back = actscope.load_run(in_tmp / "run")
    assert back.arms["mixed"].mlp.activation == ("relu", "leaky_relu(0.2)")


def test_per_layer_list_must_fit_the_depth():
    from actscope.config import parse_spec

    with pytest.raises(InputError, match="2 entries for 3 hidden layers"):
        parse_spec({"model": {"hidden": [2, 2, 2]}, "arms": [{"name": "a", "activation": ["relu", "tanh"]}]})


# Init schemes ------------------------------------------------------------------------------

def _std(init, act="tanh", fan_in=400, fan_out=300):
    spec = MLPSpec(n_inputs=fan_in, hidden=[fan_out], activation=act, init=init)
    return init_params(spec, [0])[0].W[0]


@pytest.mark.parametrize(("init", "expected"), [
    ("he_normal", 5 / 3 / np.sqrt(400)),
    ("he_uniform", 5 / 3 * np.sqrt(3 / 400) / np.sqrt(3)),
    ("xavier_normal", 5 / 3 * np.sqrt(2 / 700)),
    ("xavier_uniform", 5 / 3 * np.sqrt(6 / 700) / np.sqrt(3)),
    ("lecun_normal", np.sqrt(1 / 400)),
    ("lecun_uniform", np.sqrt(3 / 400) / np.sqrt(3)),
    ("he", np.sqrt(2 / 400)),
    ("xavier", np.sqrt(1 / 400)),
])
def test_init_scheme_std(init, expected):
    W = _std(init)
    assert W.std() == pytest.approx(expected, rel=0.03)


def test_uniform_schemes_are_bounded():
    W = _std("he_uniform")
    assert np.abs(W).max() <= 5 / 3 * np.sqrt(3 / 400)


def test_orthogonal_init_is_orthogonal_times_gain():
    spec = MLPSpec(n_inputs=5, hidden=[8, 3], activation="relu", init="orthogonal")
    p = init_params(spec, [0, 1])
    for W in (p[0].W[1], p[1].W[0]):
        small = W @ W.T if W.shape[0] < W.shape[1] else W.T @ W
        np.testing.assert_allclose(small, 2.0 * np.eye(min(W.shape)), atol=1e-10)


def test_article_init_schemes_keep_their_draws():
    spec = MLPSpec(n_inputs=2, hidden=[8, 8], activation="relu", init="auto")
    p = init_params(spec, [42], rng="article")
    raw = np.random.RandomState(42).randn(2, 8)
    np.testing.assert_allclose(p[0].W[0], raw * np.sqrt(2 / 2))


@pytest.mark.parametrize("name", ZOO + PARAMETERISED)
def test_scalar_expressions_for_compiled_engines_match_numpy(name, rng):
    import math

    act = get_activation(name)
    assert act.scalar is not None
    ns = {"math": math, "exp": math.exp, "log": math.log, "log1p": math.log1p, "tanh": math.tanh,
          "sigmoid": lambda v: 1 / (1 + math.exp(-v)), "sqrt": math.sqrt, "abs": abs, "min": min,
          "max": max, "expm1": math.expm1, "erf": math.erf, "erfc": math.erfc, "sin": math.sin,
          "cos": math.cos, "softplus": lambda v: max(v, 0.0) + math.log1p(math.exp(-abs(v))),
          "ndtr": lambda v: 0.5 * math.erfc(-v / math.sqrt(2.0)),
          "clip": lambda v, lo, hi: min(max(v, lo), hi), **act.params}
    f_src, g_src = act.scalar
    for z in _points(rng, 40):
        a = float(act.fn(np.array([z]))[0])
        assert eval(f_src, {**ns, "z": float(z)}) == pytest.approx(a, rel=1e-9, abs=1e-12)  # noqa: S307
        g = float(act.grad(np.array([z]))[0])
        assert eval(g_src, {**ns, "z": float(z), "a": a}) == pytest.approx(g, rel=1e-9, abs=1e-12)  # noqa: S307
