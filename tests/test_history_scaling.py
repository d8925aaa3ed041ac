"""History that scales: summaries over members always, per-member rows only while small,
memory O(K) above the threshold, history.npz round trips, history.csv of older runs read."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest

from actscope.config import TrainSpec, parse_spec
from actscope.engines import get_engine
from actscope.experiment import history_io
from actscope.experiment.run import run_experiment
from actscope.experiment.rundir import load_run, save_run
from actscope.nn.model import MLPSpec
from actscope.training import history as history_mod
from actscope.training.history import STATS, History
from actscope.training.loop import fit

KEYS = ("train/running_loss", "test/accuracy")


def _rows(E: int, K: int, seed: int = 0) -> np.ndarray:
    """(E, K) values with some NaN cells (diverged members, skipped evaluations)."""
    r = np.random.default_rng(seed)
    v = r.lognormal(size=(E, K)).astype(np.float32)
    v[r.random((E, K)) < 0.2] = np.nan
    v[1] = np.nan  # an epoch not evaluated
    return v


def _record(hist: History, rows: np.ndarray) -> None:
    for e, row in enumerate(rows):
        for i, key in enumerate(KEYS):
            hist.record(key, e, row * (i + 1))


@pytest.mark.parametrize("per_member", [True, False])
def test_summaries_are_numpys_statistics_of_the_member_rows(per_member):
    rows = _rows(7, 13)
    hist = History(epochs=7, seeds=list(range(13)), dtype="float32", per_member=per_member)
    _record(hist, rows)
    assert bool(hist.values) == per_member
    s = hist.summary("train/running_loss")
    assert s.shape == (7, len(STATS))
    v = rows.astype(np.float64)
    np.testing.assert_array_equal(s[:, 0], np.isfinite(v).sum(1))
    ok = np.isfinite(v).any(1)
    assert not ok[1] and np.isnan(s[1, 1:]).all()
    with warnings.catch_warnings():  # the epoch not evaluated: all-NaN slices
        warnings.simplefilter("ignore", RuntimeWarning)
        want = {"mean": np.nanmean(v, 1), "std": np.nanstd(v, 1), "min": np.nanmin(v, 1),
                "max": np.nanmax(v, 1), "median": np.nanmedian(v, 1),
                "q05": np.nanquantile(v, 0.05, axis=1), "q95": np.nanquantile(v, 0.95, axis=1)}
    for name, w in want.items():
        np.testing.assert_allclose(s[ok, STATS.index(name)], w[ok], rtol=1e-12, err_msg=name)
    np.testing.assert_array_equal(hist.last("train/running_loss"), rows[-1])
    ep, mean, lo, hi = hist.band("test/accuracy")
    np.testing.assert_array_equal(ep, np.where(ok)[0] + 1)
    np.testing.assert_allclose(mean, 2 * want["mean"][ok], rtol=1e-6)
    assert (lo <= mean).all() and (mean <= hi).all()


def test_above_the_threshold_memory_does_not_grow_with_epochs_beyond_the_summaries():
    K = 5000
    sizes = {}
    for epochs in (250, 500):
        hist = History(epochs=epochs, seeds=list(range(K)), dtype="float32")
        assert K * epochs > history_mod.PER_MEMBER_LIMIT and not hist.per_member
        _record(hist, _rows(epochs, K))
        sizes[epochs] = hist.nbytes
    summary_row = len(STATS) * 8 * len(KEYS)
    assert sizes[500] - sizes[250] == 250 * summary_row  # only the per-epoch summaries grow
    assert sizes[500] < 2 * K * 4 * len(KEYS) + 500 * summary_row  # the latest rows: O(K)
    small = History(epochs=20, seeds=list(range(K)), dtype="float32")
    assert small.per_member  # 100,000 member-epochs: every member's row is kept


def test_fit_above_the_threshold_keeps_summaries_equal_to_the_rows_it_drops(small_moons, monkeypatch):
    spec = MLPSpec(n_inputs=2, hidden=[4], activation="tanh")
    seeds = list(range(6))
    engine = get_engine("numpy")
    train = TrainSpec(epochs=5, batch_size=32, eval_every=2)
    _, full = fit(engine, spec, engine.init(spec, seeds), small_moons, train, seeds)
    monkeypatch.setattr(history_mod, "PER_MEMBER_LIMIT", 10)  # 6 members x 5 epochs is above
    _, lean = fit(engine, spec, engine.init(spec, seeds), small_moons, train, seeds)
    assert full.per_member and not lean.per_member and not lean.values
    assert lean.keys() == full.keys()
    for key in full.keys():
        np.testing.assert_allclose(lean.summary(key), full.summary(key), rtol=1e-12, err_msg=key)
        np.testing.assert_array_equal(lean.last(key), full.last(key))
    assert np.isnan(lean.stat("test/loss", "mean")[[0, 2]]).all()  # eval_every = 2
    with pytest.raises(KeyError, match="only summaries"):
        lean.row("train/running_loss", 0)


@pytest.mark.parametrize("per_member", [True, False])
def test_history_npz_round_trips(tmp_path, per_member):
    seeds = [3, 5, 8, 13]
    hist = History(epochs=6, seeds=seeds, dtype="float32", per_member=per_member)
    _record(hist, _rows(6, 4, seed=1))
    hist.diverged = np.array([False, True, False, False])
    hist.diverged_epoch = np.array([-1, 2, -1, -1])

    class Arm:
        name, history = "relu", hist

    Arm.seeds = seeds
    history_io.write_history(tmp_path / "h.npz", [Arm])
    back = history_io.read_history(tmp_path / "h.npz", "relu", seeds)
    assert back.per_member == per_member and back.keys() == hist.keys() and back.dtype == "float32"
    for key in hist.keys():
        np.testing.assert_array_equal(back.summary(key), hist.summary(key))
        np.testing.assert_array_equal(back.last(key), hist.last(key))
        if per_member:
            np.testing.assert_array_equal(back.values[key], hist.values[key])
    np.testing.assert_array_equal(back.diverged, hist.diverged)
    np.testing.assert_array_equal(back.diverged_epoch, hist.diverged_epoch)
    with pytest.raises(ValueError, match="no arm"):
        history_io.read_history(tmp_path / "h.npz", "tanh", seeds)
    with pytest.raises(ValueError, match="seeds differ"):
        history_io.read_history(tmp_path / "h.npz", "relu", [1, 2, 3, 4])


SPEC = {"name": "scales", "data": {"n_samples": 120},
        "model": {"hidden": [4]}, "train": {"epochs": 6, "batch_size": 32, "eval_every": 2},
        "arms": [{"name": "relu", "activation": "relu"}, {"name": "tanh", "activation": "tanh"}],
        "seeds": {"start": 0, "count": 3}, "probes": {"include": []},
        "report": {"enabled": False}}


def _csv_of(run_dir, run) -> None:
    """Rewrite a run's history as the history.csv an older actscope wrote (tidy rows)."""
    lines = ["arm,seed,epoch,split,metric,value"]
    for arm in run.arms.values():
        for key, arr in arm.history.values.items():
            split, metric = key.split("/", 1)
            for e, k in zip(*np.nonzero(np.isfinite(arr))):
                lines.append(f"{arm.name},{arm.seeds[k]},{e + 1},{split},{metric},{arr[e, k]!s}")
    (run_dir / "history.csv").write_text("\n".join(lines) + "\n")
    (run_dir / "history.npz").unlink()


def test_a_run_above_the_threshold_saves_loads_and_draws_its_loss_curves(tmp_path, monkeypatch):
    monkeypatch.setattr(history_mod, "PER_MEMBER_LIMIT", 10)
    run = run_experiment(parse_spec(SPEC))
    path = save_run(run, tmp_path / "r")
    back = load_run(path)
    assert back.metrics == run.metrics
    for name, arm in run.arms.items():
        h = back.arms[name].history
        assert not h.per_member and not h.values
        key = "train/running_loss"
        np.testing.assert_array_equal(h.summary(key), arm.history.summary(key))
    from actscope.report.figures import loss_curves_figure

    fig = loss_curves_figure(back)
    line = fig.axes[0].lines[0]
    np.testing.assert_array_equal(line.get_xdata(), np.arange(1, 7))
    mean = run.arms["relu"].history.stat("train/running_loss", "mean")
    np.testing.assert_array_equal(line.get_ydata(), mean)


def test_history_csv_of_an_older_run_is_still_read(tmp_path):
    run = run_experiment(parse_spec(SPEC))
    path = save_run(run, tmp_path / "r")
    _csv_of(path, run)
    back = load_run(path)
    for name, arm in run.arms.items():
        h = back.arms[name].history
        assert set(h.keys()) == {k for k, v in arm.history.values.items() if np.isfinite(v).any()}
        for key in h.keys():
            np.testing.assert_array_equal(h.values[key], arm.history.values[key].astype(np.float64))
            np.testing.assert_allclose(h.summary(key), arm.history.summary(key), rtol=1e-12)
    shutil.rmtree(path)
