"""Experiment specs: pydantic models of every table, TOML loading, presets, and one-line
validation messages.

Names in a spec (datasets, activations, init schemes, engines) are checked against their
registries, and validation has no side effects: a spec's own formula activations
(``[activations]``) are parsed to be checked and usable by name in that spec, and enter
the activation registry only when a run starts (`register_custom_activations`).

Modules: ``specs`` (the models), ``registries`` (the name checks), ``loading`` (TOML,
paths, overrides, messages), ``presets`` (the built-in files), ``tuning`` (lr = "tune"),
``overrides`` (``--set section.field=value`` applied before validation).
"""

from actscope.config.loading import (
    format_validation_error,
    load_spec,
    load_toml,
    make_dataset,
    parse_spec,
    resolve_config_path,
    resolve_data_path,
    with_overrides,
)
from actscope.config.presets import PRESETS_DIR, is_sweep_preset, list_presets
from actscope.config.registries import (
    check_activation,
    check_dataset,
    check_engine,
    check_init_scheme,
    register_custom_activations,
)
from actscope.config.specs import (
    DATA_FIELDS,
    PROBE_NAMES,
    ArmSpec,
    CustomActivationSpec,
    DataSpec,
    ExperimentSpec,
    ModelSpec,
    PointSpec,
    ProbesSpec,
    ReportSpec,
    SeedsSpec,
    Strict,
    TrainSpec,
)

__all__ = [
    "DATA_FIELDS", "PRESETS_DIR", "PROBE_NAMES", "ArmSpec", "CustomActivationSpec", "DataSpec",
    "ExperimentSpec", "ModelSpec", "PointSpec", "ProbesSpec", "ReportSpec", "SeedsSpec", "Strict",
    "TrainSpec", "check_activation", "check_dataset", "check_engine", "check_init_scheme",
    "format_validation_error", "is_sweep_preset", "list_presets", "load_spec", "load_toml",
    "make_dataset", "parse_spec", "register_custom_activations", "resolve_config_path",
    "resolve_data_path", "with_overrides",
]
