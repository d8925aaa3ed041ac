"""actscope: a laboratory for activation functions.

Controlled, reproducible experiments that show how the activation of a small network
shapes what it learns. docs/design.md states the layers and the contracts between them.

The names below, and the subpackages (``actscope.theory``, ``actscope.analysis``, ...),
load on first use (PEP 562), so that ``import actscope`` and the command line start in a
fraction of a second; scikit-learn, SciPy and matplotlib load when a part that needs them
does.
"""

from __future__ import annotations

import importlib
import logging

from actscope._util.version import __version__ as __version__

# the library logs under "actscope" and configures nothing: the application (the CLI) does
logging.getLogger("actscope").addHandler(logging.NullHandler())

# name -> the module (relative to actscope) that defines it
_EXPORTS = {
    "Activation": "activations", "get_activation": "activations", "list_activations": "activations",
    "register_activation": "activations",
    "ExperimentSpec": "config", "load_spec": "config", "make_dataset": "config",
    "Dataset": "data", "load_dataset": "data",
    "get_engine": "engines", "list_engines": "engines",
    "Layer": "nn", "MLPSpec": "nn",
    "run_experiment": "pipeline",
    "Run": "experiment.rundir", "load_run": "experiment.rundir",
}

# the public subpackages (and top-level modules), imported on attribute access:
# ``import actscope; actscope.theory.critical_sigma_w2("relu")``
_SUBPACKAGES = (
    "activations", "analysis", "cli", "config", "data", "engines", "errors", "estimators", "experiment",
    "interop", "nn", "pipeline", "report", "search", "seeding", "serve", "static_site", "sweep", "theory",
    "training",
)

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value  # the next lookup is a plain attribute
        return value
    if name in _SUBPACKAGES:
        return importlib.import_module(f".{name}", __name__)  # the import binds it here too
    raise AttributeError(f"module 'actscope' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS, *_SUBPACKAGES})
