"""engine = "auto": the fastest engine available, named in the run's metadata."""

from __future__ import annotations

import importlib.util

import pytest

from actscope import engines
from actscope.config import parse_spec
from actscope.engines import get_engine
from actscope.experiment import run_experiment


def test_auto_on_cpu_is_fast_with_numba_else_numpy(monkeypatch):
    has_numba = importlib.util.find_spec("numba") is not None
    assert get_engine("auto", dtype="float32").name == ("fast" if has_numba else "numpy")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "numba" else real(n, *a))
    assert engines.auto_engine_name("cpu") == "numpy"
    assert get_engine("auto").name == "numpy"


def test_auto_refuses_cuda_without_a_device(monkeypatch):
    monkeypatch.setattr("actscope.engines.gpu_engine.cuda_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA"):
        get_engine("auto", device="cuda")
    assert get_engine("auto", device="auto").name in ("fast", "numpy")


def test_run_metadata_names_the_engine_picked():
    spec = parse_spec({"name": "auto", "data": {"n_samples": 80}, "train": {"epochs": 2, "engine": "auto"},
                       "arms": [{"name": "relu", "activation": "relu"}], "seeds": {"count": 3},
                       "report": {"enabled": False}})
    run = run_experiment(spec)
    assert run.metrics["engine"]["name"] == engines.auto_engine_name("cpu")
    assert run.metrics["engine"]["name"] != "auto"
    assert run.arms["relu"].history.values["train/running_loss"].shape == (2, 3)
