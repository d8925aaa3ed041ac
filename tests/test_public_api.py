"""The public names of ``actscope`` and of each subpackage, pinned (docs/design.md, "Python API").

A change to one of these lists is a change to the stable API: update the list here, the
design and the README in the same commit.
"""

from __future__ import annotations

import importlib
import json
import pprint
import subprocess
import sys

import pytest

import actscope

ACTSCOPE_ALL = [
    "Activation", "Dataset", "ExperimentSpec", "Layer", "MLPSpec", "Run", "__version__",
    "get_activation", "get_engine", "list_activations", "list_engines", "load_dataset", "load_run",
    "load_spec", "make_dataset", "register_activation", "run_experiment",
]

# attributes of ``actscope`` that import a subpackage (or top-level module) on first access
SUBPACKAGES = [
    "activations", "analysis", "cli", "config", "data", "engines", "errors", "estimators", "experiment",
    "interop", "nn", "pipeline", "report", "search", "seeding", "serve", "static_site", "sweep", "theory",
    "training",
]

# each subpackage's ``__all__``; None: it has none yet (it promises nothing beyond docs/design.md)
SUBPACKAGE_ALL: dict[str, list[str] | None] = {
    'activations': ['ALIASES', 'Activation', 'Array', 'BUILTINS', 'Definition', 'ExprError', 'FAMILIES',
                    'FAMILY_TABLE', 'FUNCTIONS', 'Family', 'USER_DEFINED', 'UnknownActivationError',
                    'activation_table', 'canonical_name', 'compile_expression', 'describe',
                    'format_number', 'from_table', 'get_activation', 'list_activations', 'numerical_grad',
                    'parameterised_names', 'register', 'register_activation', 'register_formula',
                    'register_parameterised', 'second_moment_gain'],
    'analysis': ['classmetrics', 'collapse', 'cost', 'decisions', 'intervals', 'probes', 'stats'],
    'cli': ['Group', 'fail', 'main'],
    'config': ['ArmSpec', 'CustomActivationSpec', 'DATA_FIELDS', 'DataSpec', 'ExperimentSpec',
               'ModelSpec', 'PRESETS_DIR', 'PROBE_NAMES', 'PointSpec', 'ProbesSpec', 'ReportSpec',
               'SeedsSpec', 'Strict', 'TrainSpec', 'check_activation', 'check_dataset', 'check_engine',
               'check_init_scheme', 'format_validation_error', 'is_sweep_preset', 'list_presets',
               'load_spec', 'load_toml', 'make_dataset', 'parse_spec', 'register_custom_activations',
               'resolve_config_path', 'resolve_data_path', 'with_overrides'],
    'data': ['DataSpecLike', 'Dataset', 'GENERATORS', 'arcs_bayes_score', 'boundary_points',
             'distance_to', 'grid_distance', 'grid_over', 'load_csv', 'load_dataset', 'parse_csv',
             'register_generator', 'register_true_score', 'true_score'],
    'engines': ['Capabilities', 'Engine', 'EpochPlan', 'EpochRunner', 'Forward', 'MissingExtraError',
                'NumpyEngine', 'auto_engine_name', 'get_engine', 'list_engines', 'register_engine'],
    'errors': None,
    'estimators': ['ActscopeClassifier'],
    'experiment': ['ArmOutcome', 'ArmResult', 'ArmTrainer', 'Run', 'SUMMARY_METRICS', 'arm_model',
                   'arm_train', 'compute_metrics', 'default_run_dir', 'epoch_loss', 'list_runs',
                   'load_run', 'make_engine', 'member_metrics', 'run_experiment', 'save_run'],
    'interop': ['Member', 'export', 'log_run', 'pick_member', 'reference_proba', 'to_onnx', 'to_torch'],
    'nn': ['ACTIVATION_FLOPS', 'FAMILY_FLOPS', 'InitPoint', 'Layer', 'MLPSpec', 'Params',
           'activation_flops', 'activation_formula', 'advance_past_init', 'all_init_schemes', 'as_numpy',
           'critical_weight_scale', 'draw_raw_weights', 'finite_members', 'init_params', 'init_points',
           'init_variances', 'is_init_scheme', 'layer_grad_norms', 'member_slice',
           'register_critical_scheme', 'register_init_scheme'],
    'pipeline': ['ReportWorker', 'rewrite_report', 'run_experiment', 'worker_pays'],
    'report': ['add_figure', 'add_section', 'prepare', 'write_figures', 'write_report'],
    'search': ['Candidate', 'Evolution', 'RandomSearch', 'Rejected', 'SearchResult', 'SearchSpec',
               'Stage', 'canonicalise', 'cell_spec', 'default_search_dir', 'evaluate_cell', 'exhaustive',
               'is_search_file', 'leaderboard', 'load_search', 'member_table', 'parse_search',
               'read_candidates', 'reference_candidates', 'run_search', 'tuned', 'write_results'],
    'seeding': None,
    'serve': None,
    'static_site': ['BuildOptions', 'build_site', 'make_bundle'],
    'sweep': ['CELL_COLUMNS', 'EXECUTORS', 'MAX_CELLS', 'MEMBER_METRICS', 'Sweep', 'SweepProgress',
              'SweepResult', 'SweepTable', 'cell_id', 'cell_spec', 'check_executor', 'default_sweep_dir',
              'execute', 'finish_sweep', 'finished_cells', 'load_sweep', 'parse_sweep', 'plan_cells',
              'read_frame', 'read_table', 'resolved_toml', 'run_cell', 'run_sweep', 'table_rows',
              'write_csv', 'write_parquet'],
    'theory': ['CRITICAL_TOL', 'CriticalPoint', 'FixedPoint', 'LengthRoot', 'NoCriticalPointError',
               'PROPAGATION_PURPOSE', 'PhaseDiagram', 'Propagation', 'Q_CAP', 'Q_FLOOR',
               'SEARCH_SIGMA_W2', 'bivariate_expectation', 'breakpoints', 'cached_critical_sigma_w2',
               'check_variance', 'chi1', 'chi_c', 'classify', 'correlation_map', 'critical_line',
               'critical_point', 'critical_sigma_w2', 'fixed_point', 'fixed_point_c', 'fixed_point_q',
               'gaussian_expectation', 'gradient_gain', 'hermite_expectation', 'length_fixed_points',
               'length_map', 'length_map_slope', 'measure_layers', 'phase_diagram', 'predict_layers',
               'propagate', 'resolve_activation'],
    'training': ['DEFAULT_LR_GRID', 'GradientTransform', 'History', 'OPTIMIZERS', 'OPTIMIZER_NAMES',
                 'Optimizer', 'Stepper', 'adam', 'add_decayed_weights', 'add_penalties', 'apply_updates',
                 'batch_streams', 'chain', 'check_capabilities', 'fit', 'lr_grid', 'make_optimizer',
                 'momentum', 'n_trials', 'select_rate', 'sgd', 'tune_fit'],
}


def test_actscope_all_is_pinned():
    assert sorted(actscope.__all__) == sorted(ACTSCOPE_ALL)
    assert len(set(actscope.__all__)) == len(actscope.__all__)


def test_the_subpackages_are_attributes_listed_by_dir():
    assert sorted(SUBPACKAGE_ALL) == SUBPACKAGES
    listed = dir(actscope)
    for name in SUBPACKAGES:
        assert name in listed, name
        module = getattr(actscope, name)
        assert module.__name__ == f"actscope.{name}"


def test_subpackage_access_is_lazy():
    """``import actscope`` and ``dir(actscope)`` import no subpackage; touching one imports it."""
    code = ("import sys, json, actscope; dir(actscope); before = sorted(m for m in sys.modules "
            "if m.startswith('actscope.') and m != 'actscope._util' and not m.startswith('actscope._util.'));"
            "actscope.theory; print(json.dumps([before, 'actscope.theory' in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, theory_loaded = json.loads(out.stdout)
    assert before == [] and theory_loaded


@pytest.mark.parametrize("name", sorted(SUBPACKAGE_ALL))
def test_subpackage_all_is_pinned(name):
    module = importlib.import_module(f"actscope.{name}")
    names = getattr(module, "__all__", None)
    expected = SUBPACKAGE_ALL[name]
    if expected is None:
        assert names is None, f"actscope.{name} now has __all__ = {sorted(names)}: pin it here"
        return
    assert names is not None, f"actscope.{name} lost its __all__"
    assert sorted(names) == sorted(expected)
    assert len(set(names)) == len(names)
    missing = [n for n in names if not hasattr(module, n)]
    assert missing == []


def current_lists() -> tuple[str, str]:
    """The lists as the code has them now: SUBPACKAGE_ALL for this file, and the bullets of
    docs/design.md's "Python API" section (between its api-lists markers)."""
    pins, bullets = ["SUBPACKAGE_ALL: dict[str, list[str] | None] = {"], []
    for name in SUBPACKAGES:
        names = getattr(importlib.import_module(f"actscope.{name}"), "__all__", None)
        indent = 4 + len(repr(name)) + 2
        value = "None" if names is None else pprint.pformat(sorted(names), width=106 - indent, compact=True)
        pins.append(f"    {name!r}: " + value.replace("\n", "\n" + " " * indent) + ",")
        if names:
            bullets.append(f"- `actscope.{name}`: " + ", ".join(f"`{n}`" for n in sorted(names)) + ".")
    pins.append("}")
    return "\n".join(pins), "\n".join(bullets)


def write_lists() -> None:
    """Replace SUBPACKAGE_ALL here and the api-lists block of docs/design.md by the lists the
    code has now (after a deliberate change to the API: review the diff)."""
    from pathlib import Path

    pins, bullets = current_lists()
    here = Path(__file__)
    text = here.read_text(encoding="utf-8")
    start = text.index("SUBPACKAGE_ALL: dict[")
    here.write_text(text[:start] + pins + text[text.index("\n}\n", start) + 2:], encoding="utf-8")
    design = here.parents[1] / "docs" / "design.md"
    text = design.read_text(encoding="utf-8")
    begin, end = "<!-- api-lists: begin -->\n", "\n<!-- api-lists: end -->"
    head, rest = text.split(begin)
    design.write_text(head + begin + bullets + end + rest.split(end, 1)[1], encoding="utf-8")


if __name__ == "__main__":  # python tests/test_public_api.py [--write]: print (or write) the lists
    import sys as _sys

    if "--write" in _sys.argv:
        write_lists()
    else:
        for block in current_lists():
            print(block, end="\n\n")
