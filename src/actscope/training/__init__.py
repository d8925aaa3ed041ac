"""Training: the one training loop (`stepper`), ``fit`` over whole epochs (`loop`), the
optimisers (`optimizers`), per-epoch `history` and learning-rate `tuning`.

Every engine trains through ``Stepper``: ``fit`` drives it for whole epochs, the playground
in slices of minibatch steps, and an engine that fuses epochs replaces whole epochs.
"""

from actscope.training.history import History
from actscope.training.loop import fit
from actscope.training.optimizers import (
    OPTIMIZER_NAMES,
    OPTIMIZERS,
    GradientTransform,
    Optimizer,
    adam,
    add_decayed_weights,
    add_penalties,
    apply_updates,
    chain,
    make_optimizer,
    momentum,
    sgd,
)
from actscope.training.stepper import Stepper, batch_streams, check_capabilities
from actscope.training.tuning import DEFAULT_LR_GRID, lr_grid, n_trials, select_rate, tune_fit

__all__ = [
    "DEFAULT_LR_GRID", "OPTIMIZERS", "OPTIMIZER_NAMES", "GradientTransform", "History", "Optimizer",
    "Stepper", "adam", "add_decayed_weights", "add_penalties", "apply_updates", "batch_streams",
    "chain", "check_capabilities", "fit", "lr_grid", "make_optimizer", "momentum", "n_trials",
    "select_rate", "sgd", "tune_fit",
]
