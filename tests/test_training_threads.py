"""The fused path's per-epoch Python: how many threads share an epoch is decided by its
work (`fast_engine.ThreadChoice`), and never changes a number; the usual epoch (nothing
diverged) records the same history as the masked one."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba")

from actscope.config import TrainSpec  # noqa: E402
from actscope.engines import fast_engine  # noqa: E402
from actscope.engines.fast_engine import POOL_SURE_S, FastEngine, ThreadChoice  # noqa: E402
from actscope.nn.model import MLPSpec  # noqa: E402
from actscope.training.loop import fit  # noqa: E402


def test_a_large_epoch_goes_to_the_pool_at_once_and_a_small_one_is_tried(monkeypatch):
    monkeypatch.setattr(fast_engine, "n_threads", lambda: 2)
    assert ThreadChoice(blocks=8, estimate_s=10 * POOL_SURE_S).threads == 2
    assert ThreadChoice(blocks=1, estimate_s=None).threads == 1  # one block: nothing to share
    choice = ThreadChoice(blocks=8, estimate_s=POOL_SURE_S / 10)
    assert choice.threads is None  # undecided until timed
    calls = []

    def fake(*args):
        calls.append(args[-2:])

    for _ in range(2 * fast_engine.TRIALS + 1):
        choice.run(fake, 8)
    assert choice.threads in (1, 2)
    assert len(choice.times[1]) == len(choice.times[2]) == fast_engine.TRIALS
    # inline calls cover every block at once; pooled ones split them
    assert calls[0] == (0, 8) and (0, 4) in calls and (4, 8) in calls


@pytest.mark.parametrize("threads", [1, 2])
def test_the_threads_an_epoch_runs_on_change_no_number(small_moons, monkeypatch, threads):
    spec = MLPSpec(2, [5, 4], "tanh")
    seeds = list(range(20))  # 3 blocks of 8 lanes (float64)
    train = TrainSpec(epochs=5, lr=0.3, eval_every=1)
    ref = FastEngine("float64", kernel="generic")
    pr, hr = fit(ref, spec, ref.init(spec, seeds), small_moons, train, seeds)
    monkeypatch.setattr(fast_engine, "n_threads", lambda: 2)
    monkeypatch.setattr(fast_engine.ThreadChoice, "__init__", _forced(threads))
    eng = FastEngine("float64", kernel="generic")
    p, h = fit(eng, spec, eng.init(spec, seeds), small_moons, train, seeds)
    for key in hr.values:
        np.testing.assert_array_equal(h.values[key], hr.values[key], err_msg=key)
    for (W, b), (V, c) in zip(p, pr):
        np.testing.assert_array_equal(W, V)
        np.testing.assert_array_equal(b, c)


def _forced(threads: int):
    def init(self, blocks, estimate_s=None):
        self.most, self.threads, self.times = min(2, blocks), min(threads, blocks), {}
    return init


def test_a_member_diverging_mid_run_is_masked_from_its_epoch_on(small_moons):
    spec = MLPSpec(2, [3], "f(x) = exp(x)")
    eng = FastEngine("float64", kernel="generic")
    train = TrainSpec(epochs=4, lr=0.05, eval_every=1)
    seeds = [0, 1]
    params = eng.init(spec, seeds)
    params[0].W[1] *= 40.0  # member 1 starts far out: its loss overflows
    _, h = fit(eng, spec, params, small_moons, train, seeds)
    assert h.diverged is not None and h.diverged.tolist() == [False, True]
    at = int(h.diverged_epoch[1])
    assert np.isnan(h.values["train/running_loss"][at:, 1]).all()
    assert np.isfinite(h.values["train/running_loss"][:, 0]).all()
    assert np.isnan(h.values["test/accuracy"][at:, 1]).all()
