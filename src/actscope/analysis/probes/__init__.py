"""Diagnostics: pure functions of parameters and data. They never train.

Every probe works on an ensemble and returns one value (or array) per member. They go
through the engine contract only (``forward(record=True)``, ``loss_and_grad``), so they
run on any engine, and branch on an activation's family, never on its name.

Modules: ``signal`` (values and gradients layer by layer), ``geometry`` (the decision
boundary, linear regions, heatmaps over the input plane), ``representation`` (effective
dimension, linear probes), ``running`` (the probes of a ProbesSpec, per run).
"""

from actscope.analysis.probes.geometry import (
    FLAT,
    REGION_FAMILIES,
    activation_regions,
    context_correlations,
    decision_distance,
    input_grid,
    linear_regions,
    linearised_distance,
    output_margin,
    predict_grid,
    regions_defined,
    unit_heatmaps,
)
from actscope.analysis.probes.representation import PROBE_C, participation_ratio, probe_accuracy
from actscope.analysis.probes.running import (
    TRUE_GRID,
    ProbeSetup,
    attach_to_members,
    final_probes,
    label,
    measure,
    record_probes,
    resolve_point,
    resolve_points,
    setup_probes,
    wants_batch_gradients,
)
from actscope.analysis.probes.signal import (
    dead_units,
    gradient_norms,
    hidden_std,
    max_derivative,
    signal_stats,
    signal_trace,
    stage_names,
)
from actscope.config import PROBE_NAMES
from actscope.nn.params import finite_members, layer_grad_norms, member_slice

__all__ = [
    "FLAT", "PROBE_C", "PROBE_NAMES", "REGION_FAMILIES", "TRUE_GRID", "ProbeSetup",
    "activation_regions", "attach_to_members", "context_correlations", "dead_units", "decision_distance",
    "final_probes", "finite_members", "gradient_norms", "hidden_std", "input_grid", "label",
    "layer_grad_norms", "linear_regions", "linearised_distance", "max_derivative", "measure",
    "member_slice", "output_margin", "participation_ratio", "predict_grid", "probe_accuracy",
    "record_probes", "regions_defined", "resolve_point", "resolve_points", "setup_probes",
    "signal_stats", "signal_trace", "stage_names", "unit_heatmaps", "wants_batch_gradients",
]
