"""Networks as specs: the architecture of an ensemble, its initialisation and its cost.

`MLPSpec` is engine independent; `init_params` draws the initial parameters in NumPy from
per-member random streams, so a seed names one network whatever engine trains it. Init
schemes live in a registry (`register_init_scheme`, `all_init_schemes`); FLOPs are counted
by one convention (`actscope.nn.flops`).
"""

from actscope.nn.flops import ACTIVATION_FLOPS, FAMILY_FLOPS, activation_flops, activation_formula
from actscope.nn.inits import (
    all_init_schemes,
    critical_weight_scale,
    is_init_scheme,
    register_critical_scheme,
    register_init_scheme,
)
from actscope.nn.meanfield import InitPoint, init_points
from actscope.nn.model import (
    Layer,
    MLPSpec,
    Params,
    advance_past_init,
    draw_raw_weights,
    init_params,
    init_variances,
)
from actscope.nn.params import as_numpy, finite_members, layer_grad_norms, member_slice

__all__ = [
    "ACTIVATION_FLOPS", "FAMILY_FLOPS", "InitPoint", "Layer", "MLPSpec", "Params",
    "activation_flops", "activation_formula", "advance_past_init", "all_init_schemes", "as_numpy",
    "critical_weight_scale", "draw_raw_weights", "finite_members", "init_params", "init_points",
    "init_variances", "is_init_scheme", "layer_grad_norms", "member_slice",
    "register_critical_scheme", "register_init_scheme",
]
