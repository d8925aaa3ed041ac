"""actscope: a laboratory for activation functions.

Controlled, reproducible experiments that show how the activation of a small network
shapes what it learns. See DESIGN.md for the contracts between the parts.

The names below load on first use (PEP 562), so that ``import actscope`` and the command
line start in a fraction of a second; scikit-learn, SciPy and matplotlib load when a part
that needs them does.
"""

from __future__ import annotations

import importlib

from actscope._util.version import __version__ as __version__

_EXPORTS = {
    "Activation": "activations", "get_activation": "activations", "list_activations": "activations",
    "register_activation": "activations",
    "ExperimentSpec": "config", "load_spec": "config",
    "Dataset": "data.generators", "load_dataset": "data.generators", "make_dataset": "data.generators",
    "get_engine": "engines", "list_engines": "engines",
    "Layer": "nn.model", "MLPSpec": "nn.model",
    "run_experiment": "pipeline",
    "Run": "experiment.rundir", "load_run": "experiment.rundir",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value  # the next lookup is a plain attribute
        return value
    raise AttributeError(f"module 'actscope' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
