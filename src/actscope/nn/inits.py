"""Init schemes: the registry, the article's schemes and the usual others.

A scheme maps (fan_in, fan_out, activation) to how the raw draws are scaled: it returns
(distribution, scale), where "normal" scales N(0, 1) draws, "uniform" scales U(-1, 1)
draws and "orthogonal" scales an orthogonal matrix whose entries have unit variance.
Biases are zero unless the scheme also registers a bias function.

The article's names keep their meaning: ``he`` is normal with std sqrt(2 / fan_in)
whatever the activation, ``xavier`` normal with std sqrt(1 / fan_in), ``auto`` is he for
piecewise-linear activations and xavier otherwise. ``torch-default`` is what
torch.nn.Linear does. Beyond those (torch.nn.init's convention): ``he_*``, ``xavier_*``
and ``orthogonal`` multiply by the gain of the activation the layer feeds, from the
registry (``Activation.gain``, what ``torch.nn.init.calculate_gain`` returns where torch
has one); ``lecun_*`` use gain 1 (LeCun's definition, what SELU needs). ``critical``
puts σw² on the mean-field critical line (χ₁ = 1) of the layer's activation.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from actscope.activations import Activation
from actscope.errors import InputError

Scheme = Callable[[int, int, Activation], tuple[str, float]]

_SCHEMES: dict[str, Scheme] = {}
_BIAS_SCHEMES: dict[str, Scheme] = {}


def register_init_scheme(name: str, weight_fn: Scheme, bias_fn: Scheme | None = None) -> None:
    """Add an init scheme: ``weight_fn(fan_in, fan_out, act) -> (dist, scale)``.

    ``bias_fn``, if given, does the same for the biases (zero biases otherwise).
    """
    _SCHEMES[name] = weight_fn
    if bias_fn is not None:
        _BIAS_SCHEMES[name] = bias_fn


def all_init_schemes() -> list[str]:
    """Names of every registered init scheme, sorted."""
    return sorted(_SCHEMES)


def is_init_scheme(name: str) -> bool:
    return name in _SCHEMES


def scale_of(name: str, fan_in: int, fan_out: int,
             act: Activation) -> tuple[tuple[str, float], tuple[str, float] | None]:
    """(weight distribution, scale) of scheme ``name`` for one layer, and the biases' (or None)."""
    bias = _BIAS_SCHEMES.get(name)
    return _SCHEMES[name](fan_in, fan_out, act), None if bias is None else bias(fan_in, fan_out, act)


# The article's schemes, and torch's default ------------------------------------------------

def he(fan_in: int, fan_out: int, act: Activation) -> tuple[str, float]:
    return "normal", float(np.sqrt(2.0 / fan_in))


def xavier(fan_in: int, fan_out: int, act: Activation) -> tuple[str, float]:
    # As the first reference article uses the name: normal with std sqrt(1 / fan_in).
    return "normal", float(np.sqrt(1.0 / fan_in))


def auto(fan_in: int, fan_out: int, act: Activation) -> tuple[str, float]:
    return (he if act.is_relu_family else xavier)(fan_in, fan_out, act)


def torch_default(fan_in: int, fan_out: int, act: Activation) -> tuple[str, float]:
    # What torch.nn.Linear does: weights and biases uniform in +-1/sqrt(fan_in).
    return "uniform", float(1.0 / np.sqrt(fan_in))


# torch.nn.init's schemes -------------------------------------------------------------------

def he_normal(fan_in: int, fan_out: int, act: Activation) -> tuple[str, float]:
    return "normal", act.gain / np.sqrt(fan_in)


def he_uniform(fan_in: int, fan_out: int, act: Activation) -> tuple[str, float]:
    return "uniform", act.gain * np.sqrt(3.0 / fan_in)


def xavier_normal(fan_in: int, fan_out: int, act: Activation) -> tuple[str, float]:
    return "normal", act.gain * np.sqrt(2.0 / (fan_in + fan_out))


def xavier_uniform(fan_in: int, fan_out: int, act: Activation) -> tuple[str, float]:
    return "uniform", act.gain * np.sqrt(6.0 / (fan_in + fan_out))


def lecun_normal(fan_in: int, fan_out: int, act: Activation) -> tuple[str, float]:
    return "normal", float(np.sqrt(1.0 / fan_in))


def lecun_uniform(fan_in: int, fan_out: int, act: Activation) -> tuple[str, float]:
    return "uniform", float(np.sqrt(3.0 / fan_in))


def orthogonal(fan_in: int, fan_out: int, act: Activation) -> tuple[str, float]:
    # the raw draw is Q * sqrt(max(fan_in, fan_out)); this gives gain * Q, as torch's orthogonal_
    return "orthogonal", act.gain / np.sqrt(max(fan_in, fan_out))


SCHEMES = {"he_normal": he_normal, "he_uniform": he_uniform, "xavier_normal": xavier_normal,
           "xavier_uniform": xavier_uniform, "lecun_normal": lecun_normal,
           "lecun_uniform": lecun_uniform, "orthogonal": orthogonal}


# On the mean-field critical line -----------------------------------------------------------

def critical_weight_scale(fan_in: int, fan_out: int, act: Activation,
                          sigma_b2: float = 0.0) -> tuple[str, float]:
    """Init scheme "critical": normal weights with std √(σw²_crit / fan_in)."""
    # deferred: the theory loads SciPy's optimisers (half a second), needed only here
    from actscope.theory import NoCriticalPointError, cached_critical_sigma_w2

    try:
        sw2 = cached_critical_sigma_w2(act, sigma_b2)
    except NoCriticalPointError as err:
        raise InputError(f"init = 'critical': {err}") from None
    return "normal", math.sqrt(sw2 / fan_in)


def register_critical_scheme(name: str, sigma_b2: float) -> None:
    """Register an init scheme ``name`` on the critical line at this σb² (biases N(0, σb²))."""
    from actscope.theory import check_variance  # deferred: SciPy's optimisers, as above

    sb2 = check_variance("sigma_b2", sigma_b2)
    bias = (lambda fi, fo, act: ("normal", math.sqrt(sb2))) if sb2 > 0 else None
    register_init_scheme(name, lambda fi, fo, act: critical_weight_scale(fi, fo, act, sb2), bias)


for _name, _fn in {"auto": auto, "he": he, "xavier": xavier, **SCHEMES}.items():
    register_init_scheme(_name, _fn)
register_init_scheme("torch-default", torch_default, torch_default)
register_init_scheme("critical", critical_weight_scale)
