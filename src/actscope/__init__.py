"""actscope: a laboratory for activation functions.

Controlled, reproducible experiments that show how the activation of a small network
shapes what it learns. See DESIGN.md for the contracts between the parts.

The names below load on first use (PEP 562), so that ``import actscope`` and the command
line start in a fraction of a second; scikit-learn, SciPy and matplotlib load when a part
that needs them does.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "Activation": "activations", "get_activation": "activations", "list_activations": "activations",
    "register_activation": "activations",
    "ExperimentSpec": "config", "load_spec": "config",
    "Dataset": "datasets", "load_dataset": "datasets", "make_dataset": "datasets",
    "get_engine": "engines", "list_engines": "engines",
    "Layer": "model", "MLPSpec": "model",
    "run_experiment": "pipeline",
    "Run": "runs", "load_run": "runs",
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
