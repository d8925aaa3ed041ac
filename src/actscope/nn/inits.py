"""Init schemes beyond the article's: he, xavier and lecun in normal and uniform forms,
and orthogonal ("torch-default" lives in model.py, "critical" in theory.py).

Convention (torch.nn.init's): ``he_*``, ``xavier_*`` and ``orthogonal`` multiply by the
gain of the activation the layer feeds, from the registry (``Activation.gain``, what
``torch.nn.init.calculate_gain`` returns where torch has one); ``lecun_*`` use gain 1
(LeCun's definition, what SELU needs). The article's names keep their meaning: ``he`` is
normal with std sqrt(2 / fan_in) whatever the activation, ``xavier`` normal with std
sqrt(1 / fan_in), ``auto`` is he for piecewise-linear activations and xavier otherwise.

A scheme returns (distribution, scale): "normal" scales N(0, 1) draws, "uniform" scales
U(-1, 1) draws, "orthogonal" scales an orthogonal matrix whose entries have unit variance.
"""

from __future__ import annotations

import numpy as np

from actscope.activations import Activation
from actscope.nn.model import register_init_scheme


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

for _name, _fn in SCHEMES.items():
    register_init_scheme(_name, _fn)
