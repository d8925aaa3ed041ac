"""The package surface: lazy top-level names, and objects that cross process boundaries."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest

import actscope
from actscope.activations import get_activation
from actscope.config import parse_spec
from actscope.experiment import run_experiment


def test_import_actscope_loads_no_scientific_stack_until_a_name_needs_it():
    code = ("import sys, actscope; heavy = ('sklearn', 'scipy', 'matplotlib', 'pydantic');"
            "print(*[m for m in heavy if m in sys.modules]);"
            "actscope.MLPSpec; print('sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded, after = out.stdout.splitlines()
    assert loaded == "" and after == "False"  # MLPSpec needs SciPy, not scikit-learn


def test_the_command_line_loads_no_scientific_stack_to_parse():
    """`actscope --help` and argument parsing load only click: each command imports its
    work when it runs (the CLI parses and calls)."""
    code = ("import sys, actscope.cli; heavy = ('numpy', 'sklearn', 'scipy', 'matplotlib', 'pydantic');"
            "print(*[m for m in heavy if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_every_exported_name_resolves():
    for name in actscope.__all__:
        assert getattr(actscope, name) is not None, name
        assert name in dir(actscope)
    from actscope import MLPSpec, run_experiment  # noqa: F401 - from-imports work too

    with pytest.raises(AttributeError, match="no attribute 'train_everything'"):
        actscope.train_everything  # noqa: B018


@pytest.mark.parametrize("name", ["relu", "leaky_relu(0.1)", "elu(alpha=0.5)", "f(x) = x * tanh(x)"])
def test_activations_pickle_by_name_to_the_registry_object(name):
    act = get_activation(name)
    assert pickle.loads(pickle.dumps(act)) is act


def test_a_run_pickles_whole():
    spec = parse_spec({"name": "pickled", "data": {"n_samples": 60}, "model": {"hidden": [3]},
                       "train": {"epochs": 2, "batch_size": 16}, "seeds": {"count": 2},
                       "arms": [{"name": "a", "activation": "leaky_relu(0.2)"},
                                {"name": "b", "activation": ["tanh"]}]})
    run = run_experiment(spec)
    back = pickle.loads(pickle.dumps(run))
    assert back.metrics == run.metrics and list(back.arms) == ["a", "b"]
    for name, arm in run.arms.items():
        assert back.arms[name].mlp == arm.mlp
        for (W, b), (W2, b2) in zip(arm.params, back.arms[name].params):
            np.testing.assert_array_equal(W, W2)
            np.testing.assert_array_equal(b, b2)
