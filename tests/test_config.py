"""Specs are validated against the registries, and validation has no side effects."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from actscope._util import parallel
from actscope.activations import UnknownActivationError, get_activation, list_activations
from actscope.config import load_spec, make_dataset, parse_spec
from actscope.data import GENERATORS, load_dataset, register_generator
from actscope.errors import InputError
from actscope.experiment import load_run, run_experiment
from actscope.nn import inits

BASE = {"data": {"n_samples": 60}, "model": {"hidden": [3]}, "train": {"epochs": 2, "batch_size": 16}}


def _formula_spec(name: str, **extra) -> dict:
    return {**BASE, "name": name, "activations": {name: {"formula": "x * tanh(x)", "gain": 1.25}},
            "arms": [{"name": "mine", "activation": name}, {"name": "also", "activation": [name]}],
            **extra}


def test_validating_formula_activations_registers_nothing_and_a_run_registers_them():
    before = list_activations()
    spec = parse_spec(_formula_spec("pure_act"))
    again = parse_spec({**_formula_spec("pure_act"), "arms": [{"name": "m", "activation": "pure_act"}]})
    assert list_activations() == before and again.arms[0].activation == "pure_act"
    with pytest.raises(UnknownActivationError):
        get_activation("pure_act")
    run = run_experiment(spec)
    assert "pure_act" in list_activations() and get_activation("pure_act").gain == 1.25
    assert run.metrics["arms"]["mine"]["members"][0]["test_accuracy"] is not None


def test_a_formula_name_is_known_only_to_the_spec_that_defines_it():
    with pytest.raises(InputError, match=r"arms\[0\]\.activation = 'elsewhere_act': unknown activation"):
        parse_spec({**BASE, "arms": [{"name": "a", "activation": "elsewhere_act"}]})
    with pytest.raises(InputError, match="unknown function 'tanhh'"):
        parse_spec({**BASE, "activations": {"bad_act": "x * tanhh(x)"},
                    "arms": [{"name": "a", "activation": "bad_act"}]})
    assert "bad_act" not in list_activations()


def test_formula_activations_reach_forked_arms_the_report_worker_and_a_fresh_process(tmp_path, monkeypatch):
    """Arms forked side by side and the forked report worker resolve the formula by name;
    a new interpreter loading the run directory registers it from the saved spec."""
    from actscope.pipeline import run as pipeline

    if not parallel.can_fork():
        pytest.skip("arms and the report worker fork only where fork is safe (Linux)")
    monkeypatch.setenv("ACTSCOPE_ARM_WORKERS", "2")
    monkeypatch.setenv("ACTSCOPE_REPORT_WORKERS", "1")
    monkeypatch.setattr(parallel, "python_threads", lambda: 1)  # idle pools of earlier tests
    monkeypatch.setattr(pipeline, "worker_pays", lambda: True)
    spec = parse_spec(_formula_spec("forked_act", report={"dpi": 30}))
    run = pipeline.run_experiment(spec, out=tmp_path / "run")
    assert run.metrics["timing"]["arm_workers"] == 2 and (run.path / "report.html").is_file()
    code = (f"from actscope.experiment import load_run; r = load_run({str(run.path)!r}); "
            "print(r.arms['mine'].mlp.activations[0].gain)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1.25"
    assert load_run(run.path).arms["also"].mlp.activation == ("forked_act",)


def test_a_sweep_with_formula_activations_runs_in_spawned_processes(tmp_path):
    from actscope.sweep import load_sweep, run_sweep

    cfg = tmp_path / "sweep.toml"
    cfg.write_text('[sweep]\nname = "formula-sweep"\nlatency = false\n[sweep.grid]\n'
                   'activation = ["spawned_act"]\n[activations.spawned_act]\nformula = "x * tanh(x)"\n'
                   '[data]\nn_samples = 60\n[model]\nhidden = [3]\n[train]\nepochs = 2\nbatch_size = 16\n')
    before = list_activations()
    sweep = load_sweep(cfg)
    assert list_activations() == before
    res = run_sweep(sweep, out=tmp_path / "out", executor="processes", workers=1, progress=False,
                    report=False, echo=lambda m: None)
    assert res.n_failed == 0 and res.n_run == 1 and {r["activation"] for r in res.rows} == {"spawned_act"}


def _ring(spec):
    rng = np.random.default_rng(spec.random_state)
    X = rng.standard_normal((spec.n_samples, 2))
    return X, (np.hypot(*X.T) > 1.0).astype(int), ["x1", "x2"], ["in", "out"]


def test_a_registered_generator_can_be_named_in_a_toml_spec(tmp_path):
    register_generator("ring_test", _ring)
    try:
        cfg = tmp_path / "ring.toml"
        cfg.write_text('[data]\nname = "ring_test"\nn_samples = 80\n[model]\nhidden = [4]\n'
                       '[train]\nepochs = 2\n[[arms]]\nname = "a"\nactivation = "relu"\n')
        spec = load_spec(cfg)
        data = load_dataset(spec.data)
        assert spec.data.name == "ring_test" and data.class_names == ["in", "out"]
        assert run_experiment(spec).metrics["dataset"]["name"] == "ring_test"
    finally:
        GENERATORS.pop("ring_test")
    with pytest.raises(InputError, match=r"data\.name = 'ring_test': unknown dataset; known: .*moons"):
        load_spec(cfg)


@pytest.mark.parametrize("section, pattern", [
    ({"data": {"name": "mnist"}}, r"^config: data\.name = 'mnist': unknown dataset; known: .*moons"),
    ({"model": {"init": "nope"}}, r"^config: model\.init = 'nope': unknown init scheme; known: .*xavier"),
    ({"train": {"engine": "cuda9"}}, r"^config: train\.engine = 'cuda9': unknown engine; known: .*numpy"),
    ({"model": {"activation": "rleu"}},
     r"^config: model\.activation = 'rleu': unknown activation 'rleu'; known: .*relu"),
])
def test_names_are_checked_against_their_registries_in_one_line(section, pattern):
    with pytest.raises(InputError, match=pattern) as info:
        parse_spec({**section, "arms": [{"name": "a", "activation": "relu"}]})
    assert "\n" not in str(info.value)


def test_an_init_scheme_registered_later_is_a_valid_name(monkeypatch):
    monkeypatch.setattr(inits, "_SCHEMES", dict(inits._SCHEMES))
    inits.register_init_scheme("tiny_test", lambda fan_in, fan_out, act: ("normal", 1e-3))
    spec = parse_spec({"model": {"init": "tiny_test"}, "arms": [{"name": "a", "activation": "relu"}]})
    assert spec.model.init == "tiny_test"


def test_make_dataset_validates_its_fields_in_one_line():
    assert make_dataset(name="xor", n_samples=40).name == "xor"
    with pytest.raises(InputError, match=r"^data: noise = -1\.0: "):
        make_dataset(noise=-1.0)
