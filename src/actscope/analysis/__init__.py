"""Measurements of trained (or random) networks: probes, statistics over seeds (intervals
that respect each metric's range, one paired decision rule), per-class metrics, inference
cost, and the collapse of piecewise-linear networks.

Each is a module, loaded on first use (``actscope.analysis.stats`` or ``from
actscope.analysis import probes, stats``), so that importing one does not load the
scikit-learn and SciPy code another needs.
"""

from __future__ import annotations

import importlib

__all__ = ["classmetrics", "collapse", "cost", "decisions", "intervals", "probes", "stats"]


def __getattr__(name: str):
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
