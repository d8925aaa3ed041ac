"""Arms trained side by side in forked processes: same results, errors and Ctrl-C kept."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
import time

import numpy as np
import pytest

import actscope.experiment.run as ex  # where run_experiment looks fit up
from actscope._util import parallel
from actscope._util.parallel import arm_workers, env_workers
from actscope.cli.progress import TrainingProgress
from actscope.config import parse_spec
from actscope.engines import Capabilities
from actscope.errors import InputError

pytestmark = pytest.mark.skipif(not parallel.can_fork(), reason="arms fork only where fork is safe (Linux)")

SPEC = {
    "name": "side-by-side",
    "data": {"n_samples": 80},
    "model": {"hidden": [4, 4]},
    "train": {"epochs": 6, "batch_size": 16},
    "arms": [{"name": "relu", "activation": "relu"}, {"name": "sigmoid", "activation": "sigmoid"},
             {"name": "tanh", "activation": "tanh"}],
    "seeds": {"count": 3},
}


def _run(monkeypatch, workers: int, progress=None):
    monkeypatch.setenv("ACTSCOPE_ARM_WORKERS", str(workers))
    # idle threads that earlier tests leave (the fast engine's pool) would turn forking off
    monkeypatch.setattr(parallel, "python_threads", lambda: 1)
    return ex.run_experiment(parse_spec(SPEC), progress=progress)


def test_forked_arms_give_the_results_of_arms_trained_here(monkeypatch):
    here, forked = _run(monkeypatch, 1), _run(monkeypatch, 2)
    assert forked.metrics["timing"]["arm_workers"] == 2 and here.metrics["timing"]["arm_workers"] == 1
    assert list(forked.arms) == list(here.arms) == ["relu", "sigmoid", "tanh"]  # spec order kept
    for name in here.arms:
        for (W1, b1), (W2, b2) in zip(here.arms[name].params, forked.arms[name].params):
            np.testing.assert_array_equal(W1, W2)
            np.testing.assert_array_equal(b1, b2)
        for key, v in here.arms[name].history.values.items():
            np.testing.assert_array_equal(v, forked.arms[name].history.values[key], err_msg=key)
        assert here.metrics["arms"][name]["members"] == forked.metrics["arms"][name]["members"]


def test_the_progress_bar_hears_every_epoch_of_every_forked_arm(monkeypatch):
    class Recorder(TrainingProgress):
        def __init__(self):
            super().__init__(enabled=False)
            self.seen: dict[str, list] = {}

        def advance(self, arm, loss=None):
            self.seen.setdefault(arm, []).append(loss)
            super().advance(arm, loss)

    rec = Recorder()
    with rec:
        run = _run(monkeypatch, 2, progress=rec)
    assert sorted(rec.seen) == ["relu", "sigmoid", "tanh"]
    for name, losses in rec.seen.items():
        assert len(losses) == SPEC["train"]["epochs"]
        expected = np.nanmean(run.arms[name].history.values["train/running_loss"], axis=1)
        np.testing.assert_allclose(losses, expected)


def test_an_error_in_a_forked_arm_is_raised_here(monkeypatch):
    def broken_fit(*args, **kwargs):
        raise ValueError("the arm could not train")

    monkeypatch.setattr(ex, "fit", broken_fit)
    with pytest.raises(ValueError, match="could not train"):
        _run(monkeypatch, 2)
    assert mp.active_children() == []


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs signal.setitimer")
def test_ctrl_c_keeps_the_forked_arms_that_finished_and_stops_the_others(monkeypatch):
    real_fit = ex.fit

    def slow_unless_relu(engine, mlp, *args, **kwargs):
        if mlp.activation[0] != "relu":
            time.sleep(120)  # stopped by the interrupt long before this
        return real_fit(engine, mlp, *args, **kwargs)

    monkeypatch.setattr(ex, "fit", slow_unless_relu)
    # Ctrl-C in 4 s, from a signal rather than a thread (a second thread forbids forking)
    previous = signal.signal(signal.SIGALRM, lambda *_: os.kill(os.getpid(), signal.SIGINT))
    signal.setitimer(signal.ITIMER_REAL, 4.0)
    started = time.perf_counter()
    try:
        run = _run(monkeypatch, 2)
    except KeyboardInterrupt:
        pytest.fail("the interrupt came before the relu arm finished")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert time.perf_counter() - started < 60
    assert run.metrics["timing"]["arm_workers"] == 2
    assert run.interrupted and list(run.arms) == ["relu"]
    assert list(run.metrics["arms"]) == ["relu"]
    assert mp.active_children() == []  # the sleeping arms were stopped


def test_worker_counts(monkeypatch):
    numpy_engine = ex.make_engine(parse_spec(SPEC).train)
    monkeypatch.setenv("ACTSCOPE_ARM_WORKERS", "8")
    monkeypatch.setattr(parallel, "python_threads", lambda: 1)
    assert arm_workers(3, numpy_engine) == 3  # at most one per arm
    assert arm_workers(1, numpy_engine) == 1

    class ThreadedEngine:  # an engine that does not declare itself fork-safe
        capabilities = Capabilities(fork_safe=False)

    assert arm_workers(3, ThreadedEngine()) == 1
    monkeypatch.undo()
    other = threading.Thread(target=time.sleep, args=(0.5,))
    other.start()
    try:
        assert parallel.python_threads() >= 2
        assert arm_workers(3, numpy_engine) == 1  # never fork beside another thread
    finally:
        other.join()
    monkeypatch.setattr(parallel, "python_threads", lambda: 1)
    monkeypatch.setenv("ACTSCOPE_ARM_WORKERS", "two")
    with pytest.raises(InputError, match=r"\$ACTSCOPE_ARM_WORKERS = 'two': a whole number"):
        env_workers("ACTSCOPE_ARM_WORKERS", 1)
    monkeypatch.setenv("ACTSCOPE_ARM_WORKERS", "0")
    with pytest.raises(InputError, match="1 or more"):
        arm_workers(3, numpy_engine)
