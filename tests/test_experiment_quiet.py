"""A run without a progress display (``--quiet``, ``progress=False``) sends nothing from
its arm processes, and trains exactly what a run with one trains (issue 19: 800 messages
per arm less for `actscope reproduce --quiet`)."""

from __future__ import annotations

import numpy as np
import pytest

from actscope._util.parallel import can_fork
from actscope.config import parse_spec
from actscope.experiment import run as run_mod

SPEC = {
    "name": "quiet",
    "data": {"name": "moons", "n_samples": 120, "noise": 0.2},
    "model": {"hidden": [6]},
    "train": {"epochs": 7, "batch_size": 32},
    "arms": [{"name": "relu", "activation": "relu"}, {"name": "tanh", "activation": "tanh"}],
    "seeds": {"count": 2},
    "probes": {"include": ["signal"]},
}


class Recorder:
    def __init__(self) -> None:
        self.epochs: dict[str, int] = {}

    def start(self, arm: str, epochs: int) -> None:
        self.epochs[arm] = 0

    def advance(self, arm: str, loss=None) -> None:
        self.epochs[arm] += 1


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_quiet_run_sends_no_message_and_trains_the_same(monkeypatch, workers):
    if workers == "2" and not can_fork():
        pytest.skip("the arms train in forked processes only where fork is safe")
    monkeypatch.setenv("ACTSCOPE_ARM_WORKERS", workers)
    sent: list[str] = []
    forked = run_mod.run_forked

    def counting(names, job, n, on_message, results, idle=None):
        def on(name, msg):
            sent.append(name)
            on_message(name, msg)
        return forked(names, job, n, on, results, idle=idle)

    monkeypatch.setattr(run_mod, "run_forked", counting)
    spec = parse_spec(SPEC)
    shown = Recorder()
    loud = run_mod.run_experiment(spec, progress=shown)
    n_loud = len(sent)
    sent.clear()
    quiet = run_mod.run_experiment(spec, progress=None)
    assert shown.epochs == {"relu": 7, "tanh": 7}
    assert n_loud == (14 if workers == "2" else 0) and sent == []
    for name in ("relu", "tanh"):
        for a, b in zip(loud.arms[name].params, quiet.arms[name].params):
            assert np.array_equal(a.W, b.W) and np.array_equal(a.b, b.b)
    assert loud.metrics["arms"] == quiet.metrics["arms"]
