"""What a run loads while its arms train: the layer-0 probes are measured after training
(their SciPy optimiser loads meanwhile), with the values measuring them first gave; and
scikit-learn never loads (issue 19: the probes repeat its fit without it)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from threadpoolctl import threadpool_limits

from actscope.analysis import probes
from actscope.config import ProbesSpec


def test_the_layer_0_probes_wait_for_their_first_use_and_give_the_same_values(small_moons):
    setup = probes.setup_probes(small_moons, ProbesSpec())
    assert setup._baseline is None  # nothing measured yet: training does not need it
    X, y = small_moons.split(ProbesSpec().split)
    with threadpool_limits(1):  # as the probes run
        acc = probes.probe_accuracy(small_moons.X_train, small_moons.y_train, X, y)
        expected = {"repr.pr.L0": probes.participation_ratio(X), "repr.probe_acc.L0": acc}
    assert setup.baseline == expected
    assert setup.baseline is setup.baseline  # measured once


def test_probes_recorded_while_training_measure_the_baseline_before_the_arms_fork(small_moons):
    setup = probes.setup_probes(small_moons, ProbesSpec(epochs=[1]))
    assert setup._baseline is not None and np.isfinite(setup._baseline["repr.probe_acc.L0"])
    assert probes.setup_probes(small_moons, ProbesSpec(include=["signal"])).baseline == {}


def test_a_run_loads_the_probes_optimiser_while_its_arms_train_and_never_scikit_learn():
    code = ("import json, sys\n"
            "from actscope.experiment import run_experiment\n"
            "from actscope.pipeline.run import _preload\n"
            "from actscope.config import load_spec\n"
            "spec = load_spec('sigmoid-vs-relu')\n"
            "loaded = []\n"
            "def preload():\n"
            "    loaded.append('scipy.optimize' in sys.modules)\n"
            "    _preload(spec, False)\n"
            "spec = spec.model_copy(update={'train': spec.train.model_copy(update={'epochs': 2})})\n"
            "run = run_experiment(spec, while_training=preload)\n"
            "acc = run.metrics['probes']['baseline']['repr.probe_acc.L0']\n"
            "heavy = sorted(m for m in ('sklearn', 'scipy.stats', 'pandas') if m in sys.modules)\n"
            "print(json.dumps([loaded, 'scipy.optimize' in sys.modules, heavy, acc]))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         timeout=600)
    before, after, heavy, acc = json.loads(out.stdout.strip().splitlines()[-1])
    assert before == [False] and after is True and 0.5 < acc <= 1.0
    assert heavy == []
