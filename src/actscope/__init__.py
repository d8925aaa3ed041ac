"""actscope: a laboratory for activation functions.

Controlled, reproducible experiments that show how the activation of a small network
shapes what it learns. See DESIGN.md for the contracts between the parts.
"""

__version__ = "0.1.0"

from . import inits  # noqa: E402,F401  (registers the he/xavier/lecun/orthogonal schemes)
from .activations import Activation, get_activation, list_activations, register_activation  # noqa: E402
from .config import ExperimentSpec, load_spec  # noqa: E402
from .datasets import Dataset, load_dataset, make_dataset  # noqa: E402
from .engines import get_engine, list_engines  # noqa: E402
from .model import Layer, MLPSpec  # noqa: E402
from .pipeline import run_experiment  # noqa: E402
from .runs import Run, load_run  # noqa: E402

__all__ = [
    "Activation", "Dataset", "ExperimentSpec", "Layer", "MLPSpec", "Run", "__version__",
    "get_activation", "get_engine", "list_activations", "list_engines", "load_dataset",
    "load_run", "load_spec", "make_dataset", "register_activation", "run_experiment",
]
