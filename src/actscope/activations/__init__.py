"""The activation registry: one object per activation, looked up by name.

Each entry carries its function, its derivative, its family, a suggested init gain and
its range, so engines, probes and theory never branch on an activation's name
(the pattern of scikit-learn's ``neural_network/_base.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit, ndtr

Array = np.ndarray
FAMILIES = ("piecewise-linear", "saturating", "smooth", "linear")


@dataclass(frozen=True)
class Activation:
    """An activation function and everything an engine needs to know about it."""

    name: str
    fn: Callable[[Array], Array]
    grad: Callable[[Array], Array]
    family: str
    gain: float = 1.0
    range: tuple[float, float] = (-np.inf, np.inf)
    params: dict = field(default_factory=dict)
    torch_name: str | None = None
    description: str = ""
    # torch equivalents, taking and returning tensors (imported lazily by the torch engine)
    torch_fn: Callable | None = None
    torch_grad: Callable | None = None
    # (f, f') as scalar Python expressions for compiled engines (numba): f in ``z``, f' in
    # ``z`` and ``a = f(z)``; may use exp, log, log1p, tanh, sigmoid, sqrt, abs, min, max
    # and the names in ``params``. None: compiled engines fall back to the NumPy path.
    scalar: tuple[str, str] | None = None

    @property
    def is_relu_family(self) -> bool:
        return self.family == "piecewise-linear"

    def __call__(self, z: Array) -> Array:
        return self.fn(z)

    def __reduce__(self):
        """Pickled by name (its functions are closures): the process that loads it looks
        the name up in its own registry, so specs and runs can cross process boundaries."""
        return (get_activation, (self.name,))


_REGISTRY: dict[str, Activation] = {}


def register(act: Activation, *, overwrite: bool = False) -> Activation:
    """Add an activation to the registry (refusing silent replacement)."""
    if act.family not in FAMILIES:
        raise ValueError(f"family {act.family!r} is not one of {', '.join(FAMILIES)}")
    if act.name in _REGISTRY and not overwrite:
        raise ValueError(f"activation {act.name!r} is already registered")
    _REGISTRY[act.name] = act
    return act


def list_activations() -> list[str]:
    """Names of every registered activation, sorted."""
    return sorted(_REGISTRY)


class UnknownActivationError(ValueError):
    pass


def get_activation(name: str | Activation | dict) -> Activation:
    """Look an activation up by name; the error lists the known names.

    Also accepted: a parameterised name (``"leaky_relu(0.1)"``, ``"elu(alpha=0.5)"``),
    a table (``{"name": "leaky_relu", "slope": 0.1}``) and an inline formula
    (``"f(x) = x * tanh(softplus(x))"``, see :mod:`actscope.formula`). Parsed
    activations are cached, so repeated lookups are dictionary hits.
    """
    if isinstance(name, Activation):
        return name
    if isinstance(name, dict):
        return get_activation(from_table(name))
    key = str(name).strip()
    hit = _REGISTRY.get(key) or _CACHE.get(key)
    if hit is not None:
        return hit
    if key in _ALIASES:
        return get_activation(_ALIASES[key])
    if key.startswith("f(x)") or key.startswith("f (x)"):
        from actscope.activations.formula import inline_activation

        act = inline_activation(key)
    elif "(" in key:
        base, values = _parse_call(key)
        canon = canonical_name(base, values)
        act = _REGISTRY.get(canon) or _CACHE.get(canon) or _PARAMETERISED[base].make(**values)
    else:
        raise UnknownActivationError(
            f"unknown activation {name!r}; known: {', '.join(list_activations())}"
        )
    if len(_CACHE) > 4096:
        _CACHE.clear()
    _CACHE[key] = _CACHE[act.name] = act
    return act


def _torch():
    import torch

    return torch


def _sigmoid_grad(z: Array) -> Array:
    s = expit(z)
    return s * (1.0 - s)


register(Activation(
    "identity", lambda z: z, np.ones_like, "linear", gain=1.0,
    torch_name="identity", description="no activation: the layer stays affine",
    scalar=("z", "1.0"),
    torch_fn=lambda z: z, torch_grad=lambda z: _torch().ones_like(z),
))
register(Activation(
    "sigmoid", expit, _sigmoid_grad, "saturating", gain=1.0, range=(0.0, 1.0),
    torch_name="sigmoid", description="logistic 1 / (1 + exp(-x))",
    scalar=("sigmoid(z)", "a * (1.0 - a)"),
    torch_fn=lambda z: _torch().sigmoid(z),
    torch_grad=lambda z: _torch().sigmoid(z) * (1 - _torch().sigmoid(z)),
))
register(Activation(
    "tanh", np.tanh, lambda z: 1.0 - np.tanh(z) ** 2, "saturating", gain=5.0 / 3.0,
    range=(-1.0, 1.0), torch_name="tanh", description="hyperbolic tangent",
    scalar=("tanh(z)", "1.0 - a * a"),
    torch_fn=lambda z: _torch().tanh(z), torch_grad=lambda z: 1 - _torch().tanh(z) ** 2,
))
register(Activation(
    "relu", lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(z.dtype),
    "piecewise-linear", gain=float(np.sqrt(2.0)), range=(0.0, np.inf),
    torch_name="relu", description="max(0, x)",
    scalar=("z if z > 0.0 else 0.0", "1.0 if z > 0.0 else 0.0"),
    torch_fn=lambda z: _torch().relu(z), torch_grad=lambda z: (z > 0).to(z.dtype),
))


# The zoo -----------------------------------------------------------------------------------
# Gains: torch.nn.init.calculate_gain where torch defines one (identity, sigmoid, tanh, relu,
# leaky_relu); SELU uses 1 (LeCun init, as self-normalising networks need); every other
# activation uses the variance-preserving gain 1 / sqrt(E[f(z)^2]) for z ~ N(0, 1).

_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(101)
_GH_W = _GH_W / _GH_W.sum()


def second_moment_gain(fn: Callable[[Array], Array]) -> float:
    """1 / sqrt(E[f(z)^2]) for z ~ N(0, 1) (Gauss-Hermite quadrature, 101 nodes)."""
    with np.errstate(all="ignore"):
        m2 = float(np.sum(_GH_W * np.asarray(fn(_GH_X.copy()), dtype=np.float64) ** 2))
    return float(1.0 / np.sqrt(m2)) if np.isfinite(m2) and m2 > 0 else 1.0


_SQRT2 = float(np.sqrt(2.0))
_INV_SQRT2PI = float(1.0 / np.sqrt(2.0 * np.pi))
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_GELU_C = float(np.sqrt(2.0 / np.pi))


def _np_softplus(z: Array) -> Array:
    return np.logaddexp(0.0, z)


def _gelu_tanh_np(z: Array) -> Array:
    return 0.5 * z * (1.0 + np.tanh(_GELU_C * (z + 0.044715 * z**3)))


def _gelu_tanh_grad(z, tanh):
    u = _GELU_C * (z + 0.044715 * z**3)
    t = tanh(u)
    return 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * _GELU_C * (1.0 + 3 * 0.044715 * z * z)


def _mish_grad(z, tanh, softplus, sigmoid):
    t = tanh(softplus(z))
    return t + z * (1.0 - t * t) * sigmoid(z)


def _tsoftplus(z):
    torch = _torch()
    return torch.logaddexp(z, torch.zeros_like(z))


register(Activation(
    "selu", lambda z: _SELU_SCALE * np.where(z > 0, z, _SELU_ALPHA * np.expm1(np.minimum(z, 0.0))),
    lambda z: _SELU_SCALE * np.where(z > 0, 1.0, _SELU_ALPHA * np.exp(np.minimum(z, 0.0))),
    "smooth", gain=1.0, range=(-_SELU_SCALE * _SELU_ALPHA, np.inf), torch_name="selu",
    scalar=(f"{_SELU_SCALE!r} * (z if z > 0.0 else {_SELU_ALPHA!r} * (exp(min(z, 0.0)) - 1.0))",
            f"{_SELU_SCALE!r} * (1.0 if z > 0.0 else {_SELU_ALPHA!r} * exp(min(z, 0.0)))"),
    description="scaled ELU, self-normalising (Klambauer et al. 2017); use with lecun init",
    torch_fn=lambda z: _torch().selu(z),
    torch_grad=lambda z: _SELU_SCALE * _torch().where(
        z > 0, _torch().ones_like(z), _SELU_ALPHA * _torch().exp(_torch().clamp(z, max=0.0))),
))
register(Activation(
    "gelu", lambda z: z * ndtr(z), lambda z: ndtr(z) + z * _INV_SQRT2PI * np.exp(-0.5 * z * z),
    "smooth", gain=second_moment_gain(lambda z: z * ndtr(z)), range=(-0.16997121, np.inf),
    torch_name="gelu", description="x * Phi(x), the exact (erf) form",
    scalar=("0.5 * z * (1.0 + math.erf(z * 0.7071067811865476))",
            "0.5 * (1.0 + math.erf(z * 0.7071067811865476)) + z * 0.3989422804014327 * exp(-0.5 * z * z)"),
    torch_fn=lambda z: _torch().nn.functional.gelu(z),
    torch_grad=lambda z: 0.5 * (1.0 + _torch().erf(z / _SQRT2))
    + z * _INV_SQRT2PI * _torch().exp(-0.5 * z * z),
))
register(Activation(
    "gelu_tanh", _gelu_tanh_np, lambda z: _gelu_tanh_grad(z, np.tanh),
    "smooth", gain=second_moment_gain(_gelu_tanh_np), range=(-0.17004076, np.inf),
    torch_name="gelu_tanh", description="GELU, tanh approximation",
    scalar=("0.5 * z * (1.0 + tanh(0.7978845608028654 * (z + 0.044715 * z * z * z)))",
            "0.5 * (1.0 + tanh(0.7978845608028654 * (z + 0.044715 * z * z * z))) + 0.5 * z * "
            "(1.0 - tanh(0.7978845608028654 * (z + 0.044715 * z * z * z)) ** 2) * "
            "0.7978845608028654 * (1.0 + 0.134145 * z * z)"),
    torch_fn=lambda z: _torch().nn.functional.gelu(z, approximate="tanh"),
    torch_grad=lambda z: _gelu_tanh_grad(z, _torch().tanh),
))
register(Activation(
    "mish", lambda z: z * np.tanh(_np_softplus(z)),
    lambda z: _mish_grad(z, np.tanh, _np_softplus, expit),
    "smooth", gain=second_moment_gain(lambda z: z * np.tanh(_np_softplus(z))),
    range=(-0.30884342, np.inf), torch_name="mish", description="x * tanh(softplus(x))",
    scalar=("z * tanh(max(z, 0.0) + log1p(exp(-abs(z))))",
            "tanh(max(z, 0.0) + log1p(exp(-abs(z)))) "
            "+ z * (1.0 - tanh(max(z, 0.0) + log1p(exp(-abs(z)))) ** 2) * sigmoid(z)"),
    torch_fn=lambda z: _torch().nn.functional.mish(z),
    torch_grad=lambda z: _mish_grad(z, _torch().tanh, _tsoftplus, _torch().sigmoid),
))
register(Activation(
    "softsign", lambda z: z / (1.0 + np.abs(z)), lambda z: 1.0 / (1.0 + np.abs(z)) ** 2,
    "saturating", gain=second_moment_gain(lambda z: z / (1.0 + np.abs(z))), range=(-1.0, 1.0),
    torch_name="softsign", description="x / (1 + |x|)",
    scalar=("z / (1.0 + abs(z))", "1.0 / ((1.0 + abs(z)) * (1.0 + abs(z)))"),
    torch_fn=lambda z: _torch().nn.functional.softsign(z),
    torch_grad=lambda z: 1.0 / (1.0 + z.abs()) ** 2,
))
register(Activation(
    "hard_sigmoid", lambda z: np.clip(z / 6.0 + 0.5, 0.0, 1.0),
    lambda z: ((z > -3.0) & (z < 3.0)).astype(z.dtype) / 6.0,
    "saturating", gain=second_moment_gain(lambda z: np.clip(z / 6.0 + 0.5, 0.0, 1.0)),
    range=(0.0, 1.0), torch_name="hardsigmoid", description="clip(x / 6 + 1/2, 0, 1), as torch",
    scalar=("min(max(z / 6.0 + 0.5, 0.0), 1.0)", "1.0 / 6.0 if z > -3.0 and z < 3.0 else 0.0"),
    torch_fn=lambda z: _torch().nn.functional.hardsigmoid(z),
    torch_grad=lambda z: ((z > -3.0) & (z < 3.0)).to(z.dtype) / 6.0,
))
register(Activation(
    "hard_tanh", lambda z: np.clip(z, -1.0, 1.0), lambda z: ((z > -1.0) & (z < 1.0)).astype(z.dtype),
    "saturating", gain=second_moment_gain(lambda z: np.clip(z, -1.0, 1.0)), range=(-1.0, 1.0),
    torch_name="hardtanh", description="clip(x, -1, 1)",
    scalar=("min(max(z, -1.0), 1.0)", "1.0 if z > -1.0 and z < 1.0 else 0.0"),
    torch_fn=lambda z: _torch().nn.functional.hardtanh(z),
    torch_grad=lambda z: ((z > -1.0) & (z < 1.0)).to(z.dtype),
))
register(Activation(
    "sine", np.sin, np.cos, "smooth", gain=second_moment_gain(np.sin), range=(-1.0, 1.0),
    torch_name="sin", description="sin(x), periodic (SIREN)",
    scalar=("math.sin(z)", "math.cos(z)"),
    torch_fn=lambda z: _torch().sin(z), torch_grad=lambda z: _torch().cos(z),
))
register(Activation(
    "gaussian", lambda z: np.exp(-z * z), lambda z: -2.0 * z * np.exp(-z * z),
    "smooth", gain=second_moment_gain(lambda z: np.exp(-z * z)), range=(0.0, 1.0),
    torch_name="gaussian", description="exp(-x^2), a radial bump",
    scalar=("exp(-z * z)", "-2.0 * z * exp(-z * z)"),
    torch_fn=lambda z: _torch().exp(-z * z), torch_grad=lambda z: -2.0 * z * _torch().exp(-z * z),
))


# Parameterised activations: written "leaky_relu(0.1)", "elu(alpha=0.5)" or, in TOML,
# {name = "leaky_relu", slope = 0.1}. The bare name is the default instance.

@dataclass(frozen=True)
class Family:
    """A parameterised activation: its parameters (name, default) and a factory."""

    name: str
    params: tuple[tuple[str, float], ...]
    make: Callable[..., Activation]
    check: Callable[..., str | None] = lambda **kw: None


_PARAMETERISED: dict[str, Family] = {}
_CACHE: dict[str, Activation] = {}


def format_number(v: float) -> str:
    """Shortest round-tripping text of a float, without a trailing '.0'."""
    r = repr(float(v))
    return r[:-2] if r.endswith(".0") else r


def canonical_name(base: str, values: dict[str, float]) -> str:
    fam = _PARAMETERISED[base]
    if all(values[k] == d for k, d in fam.params):
        return base
    return f"{base}({', '.join(format_number(values[k]) for k, _ in fam.params)})"


def register_parameterised(fam: Family) -> None:
    """Add a parameterised activation; its default instance is registered under its name."""
    _PARAMETERISED[fam.name] = fam
    register(fam.make(**dict(fam.params)), overwrite=True)


def parameterised_names() -> dict[str, tuple[tuple[str, float], ...]]:
    """name -> ((parameter, default), ...) of every parameterised activation."""
    return {n: f.params for n, f in _PARAMETERISED.items()}


def _parse_call(text: str) -> tuple[str, dict[str, float]]:
    m = re.fullmatch(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*\((.*)\)\s*", text)
    if m is None:
        raise UnknownActivationError(f"unknown activation {text!r}; known: {', '.join(list_activations())}")
    base, inner = _ALIASES.get(m.group(1), m.group(1)), m.group(2)
    if base not in _PARAMETERISED:
        known = ", ".join(sorted(_PARAMETERISED)) or "none"
        raise UnknownActivationError(f"activation {base!r} takes no parameters; parameterised: {known}")
    fam = _PARAMETERISED[base]
    names = [k for k, _ in fam.params]
    values: dict[str, float] = {}
    parts = [p.strip() for p in inner.split(",")] if inner.strip() else []
    for i, part in enumerate(parts):
        key, _, val = part.rpartition("=") if "=" in part else ("", "", part)
        key = key.strip()
        if not key:
            if i >= len(names):
                raise UnknownActivationError(
                    f"{text!r}: {base} takes {len(names)} parameter(s): {', '.join(names)}")
            key = names[i]
        if key not in names:
            raise UnknownActivationError(
                f"{text!r}: {base} has no parameter {key!r}; parameters: {', '.join(names)}")
        if key in values:
            raise UnknownActivationError(f"{text!r}: parameter {key!r} given twice")
        try:
            values[key] = float(val)
        except ValueError:
            raise UnknownActivationError(f"{text!r}: {key} = {val.strip()!r} is not a number") from None
        if not np.isfinite(values[key]):
            raise UnknownActivationError(f"{text!r}: {key} = {val.strip()} must be finite")
    values = {k: values.get(k, d) for k, d in fam.params}
    problem = fam.check(**values)
    if problem:
        raise UnknownActivationError(f"{text!r}: {problem}")
    return base, values


def from_table(table: dict) -> str:
    """The string form of a TOML table such as {name = "leaky_relu", slope = 0.1}."""
    if "name" not in table:
        raise UnknownActivationError(f"activation table {table!r} has no 'name'")
    base = _ALIASES.get(str(table["name"]), str(table["name"]))
    rest = {k: v for k, v in table.items() if k != "name"}
    if not rest:
        return get_activation(base).name
    if base not in _PARAMETERISED:
        raise UnknownActivationError(f"activation {base!r} takes no parameters; parameterised: "
                                     f"{', '.join(sorted(_PARAMETERISED))}")
    for v in rest.values():
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise UnknownActivationError(f"activation table {table!r}: parameters must be numbers")
    args = ", ".join(f"{k}={format_number(v)}" for k, v in rest.items())
    return get_activation(f"{base}({args})").name


def _leaky(slope: float) -> Activation:
    s = float(slope)
    return Activation(
        canonical_name("leaky_relu", {"slope": s}),
        lambda z: np.where(z > 0, z, s * z), lambda z: np.where(z > 0, 1.0, s).astype(z.dtype),
        "piecewise-linear", gain=float(np.sqrt(2.0 / (1.0 + s * s))),
        range=(-np.inf if s > 0 else 0.0, np.inf), params={"slope": s}, torch_name="leaky_relu",
        description="max(x, slope * x)",
        scalar=("z if z > 0.0 else slope * z", "1.0 if z > 0.0 else slope"),
        torch_fn=lambda z: _torch().nn.functional.leaky_relu(z, s),
        torch_grad=lambda z: _torch().where(z > 0, _torch().ones_like(z), _torch().full_like(z, s)),
    )


def _elu(alpha: float) -> Activation:
    a = float(alpha)
    f = lambda z: np.where(z > 0, z, a * np.expm1(np.minimum(z, 0.0)))
    return Activation(
        canonical_name("elu", {"alpha": a}),
        f, lambda z: np.where(z > 0, 1.0, a * np.exp(np.minimum(z, 0.0))).astype(z.dtype),
        "smooth", gain=second_moment_gain(f), range=(-a, np.inf), params={"alpha": a},
        torch_name="elu", description="x for x > 0, alpha * (exp(x) - 1) otherwise",
        scalar=("z if z > 0.0 else alpha * (exp(min(z, 0.0)) - 1.0)",
                "1.0 if z > 0.0 else alpha * exp(min(z, 0.0))"),
        torch_fn=lambda z: _torch().nn.functional.elu(z, a),
        torch_grad=lambda z: _torch().where(z > 0, _torch().ones_like(z),
                                            a * _torch().exp(_torch().clamp(z, max=0.0))),
    )


def _silu(beta: float) -> Activation:
    b = float(beta)
    f = lambda z: z * expit(b * z)

    def g(z, sig=expit):
        s = sig(b * z)
        return s + b * z * s * (1.0 - s)

    return Activation(
        canonical_name("silu", {"beta": b}),
        f, g, "smooth", gain=second_moment_gain(f), range=(-0.27846455 / b, np.inf),
        params={"beta": b}, torch_name="silu", description="x * sigmoid(beta * x) (swish)",
        scalar=("z * sigmoid(beta * z)", "sigmoid(beta * z) * (1.0 + beta * z * (1.0 - sigmoid(beta * z)))"),
        torch_fn=lambda z: z * _torch().sigmoid(b * z),
        torch_grad=lambda z: g(z, _torch().sigmoid),
    )


def _softplus(beta: float) -> Activation:
    b = float(beta)
    f = lambda z: np.logaddexp(0.0, b * z) / b
    return Activation(
        canonical_name("softplus", {"beta": b}),
        f, lambda z: expit(b * z), "smooth", gain=second_moment_gain(f), range=(0.0, np.inf),
        params={"beta": b}, torch_name="softplus", description="log(1 + exp(beta * x)) / beta",
        scalar=("(max(beta * z, 0.0) + log1p(exp(-abs(beta * z)))) / beta", "sigmoid(beta * z)"),
        torch_fn=lambda z: _tsoftplus(b * z) / b,
        torch_grad=lambda z: _torch().sigmoid(b * z),
    )


def _nonneg(key):
    return lambda **kw: None if kw[key] >= 0 else f"{key} = {format_number(kw[key])} must be >= 0"


def _positive(key):
    return lambda **kw: None if kw[key] > 0 else f"{key} = {format_number(kw[key])} must be > 0"


register_parameterised(Family("leaky_relu", (("slope", 0.01),), _leaky, _nonneg("slope")))
register_parameterised(Family("elu", (("alpha", 1.0),), _elu, _positive("alpha")))
register_parameterised(Family("silu", (("beta", 1.0),), _silu, _positive("beta")))
register_parameterised(Family("softplus", (("beta", 1.0),), _softplus, _positive("beta")))
_ALIASES = {"swish": "silu"}


def describe(name: str) -> dict:
    """A row of facts about an activation: family, range, value and derivative at 0, gain."""
    act = get_activation(name)
    z0 = np.zeros(1)
    with np.errstate(all="ignore"):
        f0, df0 = float(act.fn(z0)[0]), float(act.grad(z0)[0])
    params = ", ".join(f"{k}={format_number(v)}" for k, v in act.params.items())
    return {"name": act.name, "family": act.family,
            "range": f"({act.range[0]:.4g}, {act.range[1]:.4g})",
            "f0": f0, "df0": df0, "gain": act.gain, "params": params}


def activation_table() -> str:
    """A plain-text table of every registered activation."""
    rows = [describe(n) for n in list_activations()]
    head = (f"{'name':<16}{'family':<18}{'range':<22}{'f(0)':>8}{'df/dx(0)':>10}{'gain':>8}"
            f"  parameters")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['name']:<16}{r['family']:<18}{r['range']:<22}{r['f0']:>8.3f}"
                     f"{r['df0']:>10.3f}{r['gain']:>8.3f}  {r['params']}".rstrip())
    aliases = ", ".join(f"{a} = {b}" for a, b in sorted(_ALIASES.items()))
    lines.append(f"aliases: {aliases}; parameterised names are written name(value), "
                 "e.g. leaky_relu(0.1); a formula is written \"f(x) = ...\"")
    return "\n".join(lines)


# User activations from Python ----------------------------------------------------------------

USER_DEFINED: set[str] = set()  # names registered by users (they may be redefined)
_CHECK_X = np.concatenate([np.linspace(-4.0, 4.0, 41) + 0.0123, [-0.37, 0.29, 1.7]])


def numerical_grad(fn: Callable[[Array], Array], h: float = 1e-5) -> Callable[[Array], Array]:
    """Central-difference derivative of ``fn`` with a step relative to |z|."""
    def grad(z: Array) -> Array:
        step = h * np.maximum(1.0, np.abs(z))
        return (fn(z + step) - fn(z - step)) / (2.0 * step)
    return grad


def register_activation(
    name: str,
    fn: Callable[[Array], Array],
    grad: Callable[[Array], Array] | None = None,
    *,
    family: str = "smooth",
    gain: float | None = None,
    range: tuple[float, float] = (-np.inf, np.inf),
    torch_fn: Callable | None = None,
    torch_grad: Callable | None = None,
    overwrite: bool = False,
) -> Activation:
    """Register a user activation written with NumPy; returns the registry object.

    ``fn`` (and ``grad``) take and return float arrays of any shape. Without ``grad`` a
    central-difference derivative is used, checked at registration (two step sizes must
    agree); a given ``grad`` is checked against finite differences. Without ``torch_fn``
    the torch engine evaluates ``fn`` through NumPy on the CPU. ``gain`` defaults to the
    variance-preserving 1 / sqrt(E[f(z)^2]).
    """
    from actscope.errors import InputError

    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-]*", str(name)):
        raise InputError(f"register_activation: name = {name!r}: use letters, digits, _ . -")
    if name in _REGISTRY and name not in USER_DEFINED:
        raise InputError(f"register_activation: name = {name!r} is a built-in activation")
    if name in _REGISTRY and not overwrite:
        raise InputError(f"register_activation: name = {name!r} is already registered "
                         "(pass overwrite=True to replace it)")
    z = _CHECK_X.copy()
    with np.errstate(all="ignore"):
        try:
            y = np.asarray(fn(z), dtype=np.float64)
        except Exception as err:  # noqa: BLE001 - user code: report, do not crash
            raise InputError(f"register_activation {name!r}: fn failed on an array: {err}") from None
        if y.shape != z.shape or not np.all(np.isfinite(y)):
            raise InputError(f"register_activation {name!r}: fn must map a float array to finite "
                             "values of the same shape")
        num = numerical_grad(fn)(z)
        if grad is None:
            coarse = numerical_grad(fn, 1e-3)(z)
            bad = ~np.isfinite(num) | (np.abs(num - coarse) > 1e-3 * (1 + np.abs(num)))
            if bad.any():
                raise InputError(f"register_activation {name!r}: fn is not differentiable near "
                                 f"x = {z[bad][0]:.4g}; pass grad=")
            grad = numerical_grad(fn)
        else:
            g = np.asarray(grad(z), dtype=np.float64)
            bad = (g.shape != z.shape) or np.any(np.abs(g - num) > 1e-4 * (1 + np.abs(num)))
            if bad:
                raise InputError(f"register_activation {name!r}: grad does not match the finite-"
                                 "difference derivative of fn")
    if torch_fn is None:
        torch_fn = _through_numpy(fn)
    if torch_grad is None:
        torch_grad = _through_numpy(grad)
    act = Activation(name, fn, grad, family, gain=second_moment_gain(fn) if gain is None else float(gain),
                     range=range, description="registered from Python",
                     torch_fn=torch_fn, torch_grad=torch_grad)
    if family not in FAMILIES:
        raise InputError(f"register_activation {name!r}: family = {family!r}; allowed: {', '.join(FAMILIES)}")
    _CACHE.pop(name, None)
    USER_DEFINED.add(name)
    return register(act, overwrite=True)


def _through_numpy(fn: Callable[[Array], Array]) -> Callable:
    """A tensor function that evaluates a NumPy function on the CPU (no autograd)."""
    def tfn(z):
        torch = _torch()
        out = fn(z.detach().cpu().double().numpy())
        return torch.as_tensor(np.asarray(out), dtype=z.dtype, device=z.device)
    return tfn
