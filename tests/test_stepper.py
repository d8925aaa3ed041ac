"""The one training loop (training.stepper.Stepper) under every driver, and the engine
protocol it relies on: fit's whole epochs, the playground's slices of minibatch steps,
the sync-free (device) masking and a fused engine's epoch runner all give the same
parameters, history and divergence marks."""

from __future__ import annotations

import importlib.util
import itertools

import numpy as np
import pytest

from actscope.config import TrainSpec
from actscope.engines import (
    Capabilities,
    EpochPlan,
    MissingExtraError,
    NumpyEngine,
    get_engine,
    list_engines,
)
from actscope.errors import InputError
from actscope.nn.model import MLPSpec
from actscope.training.loop import fit
from actscope.training.stepper import Stepper

SEEDS = [0, 1, 2, 3]
HAS_TORCH = importlib.util.find_spec("torch") is not None


def _engine(name: str):
    if name == "torch" and not HAS_TORCH:
        pytest.skip("the torch extra is not installed")
    return get_engine(name, dtype="float64")


def _sliced(engine, spec, params, data, train, seeds, slices, **kw):
    """The Stepper driven as the playground drives it: odd slices of step() calls."""
    st = Stepper(engine, spec, params, data, train, seeds, fuse=False, **kw)
    sizes = itertools.cycle(slices)
    while st.epoch < train.epochs:
        with np.errstate(all="ignore"):  # a slice, as PairedTrainer.advance runs one
            for _ in range(next(sizes)):
                if st.step():
                    st.end_epoch()
                    if st.epoch == train.epochs:
                        break
    return st.params, st.history


def _assert_same_run(a, b, engine, exact: bool):
    (pa, ha), (pb, hb) = a, b
    check = np.testing.assert_array_equal if exact else (
        lambda x, y, err_msg="": np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-12, err_msg=err_msg))
    for (W, c), (V, d) in zip(engine.to_numpy(pa), engine.to_numpy(pb)):
        check(W, V)
        check(c, d)
    assert set(ha.values) == set(hb.values)
    for key in ha.values:
        check(ha.values[key], hb.values[key], err_msg=key)
    np.testing.assert_array_equal(ha.diverged, hb.diverged)
    np.testing.assert_array_equal(ha.diverged_epoch, hb.diverged_epoch)


# the playground's slices -----------------------------------------------------------------
@pytest.mark.parametrize("name", ["numpy", "torch"])
def test_playground_in_odd_slices_equals_fit(name):
    pytest.importorskip("pydantic")
    from actscope.serve.schema import PlaygroundConfig
    from actscope.serve.trainer import PairedTrainer

    engine = _engine(name)
    epochs = 4
    cfg = PlaygroundConfig(n_samples=150, width=5, depth=2, epochs=epochs, batch_size=16,
                           optimizer="adam", lr=0.02, act_a="tanh", act_b="relu")
    tr = PairedTrainer(cfg.to_experiment(), engine=engine)
    for size in itertools.cycle([7, 1, 13, 3, 5]):
        if tr.epoch >= epochs:
            break
        tr.advance(size, 10**6, epochs)
    assert tr.epoch == epochs
    for arm in tr.arms:
        params = engine.init(arm.mlp, tr.seeds, rng=arm.train.rng)
        want, hist = fit(engine, arm.mlp, params, tr.data, arm.train, tr.seeds)
        for (W, b), (V, c) in zip(engine.to_numpy(arm.params), engine.to_numpy(want)):
            np.testing.assert_allclose(W, V, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(b, c, rtol=1e-12, atol=1e-12)
        curves = arm.curves()
        np.testing.assert_allclose(curves["test_acc"], hist.values["test/accuracy"][:, 0], rtol=1e-12)
        np.testing.assert_allclose(curves["running_loss"], hist.values["train/running_loss"][:, 0],
                                   rtol=1e-12)


@pytest.mark.parametrize("name", ["numpy", "torch"])
def test_stepper_in_slices_equals_fit(small_moons, name):
    engine = _engine(name)
    spec = MLPSpec(2, [6, 5], "tanh")
    train = TrainSpec(epochs=3, batch_size=16, optimizer="nesterov", lr=0.05, weight_decay=1e-3)
    whole = fit(engine, spec, engine.init(spec, SEEDS), small_moons, train, SEEDS, grad_norms=True)
    sliced = _sliced(engine, spec, engine.init(spec, SEEDS), small_moons, train, SEEDS, [3, 1, 11],
                     grad_norms=True)
    _assert_same_run(whole, sliced, engine, exact=True)
    assert "train/batch_grad_norm.L3" in whole[1].values


# divergence, whichever driver ------------------------------------------------------------
def _poisoned(engine, spec, member: int):
    p = NumpyEngine("float64").init(spec, SEEDS)
    p[0].W[member, 0, 0] = np.nan
    return engine.from_numpy(p)


DRIVERS = {
    "fit": lambda eng, spec, p, data, train: fit(eng, spec, p, data, train, SEEDS),
    "slices": lambda eng, spec, p, data, train: _sliced(eng, spec, p, data, train, SEEDS, [5, 2]),
    "sync-free slices": lambda eng, spec, p, data, train: _sliced(eng, spec, p, data, train, SEEDS, [4],
                                                                  sync_free=True),
}


@pytest.mark.parametrize("name", ["numpy", "torch"])
@pytest.mark.parametrize("train", [
    TrainSpec(epochs=3, batch_size=16, optimizer="adam", lr=0.01),
    TrainSpec(epochs=3, batch_size=16, optimizer="momentum", lr=0.05, weight_decay=0.01),
    TrainSpec(epochs=4, batch_size=16, lr=1e300),  # overflows, members at different steps
], ids=["adam-poisoned", "momentum-wd-poisoned", "sgd-overflow"])
def test_a_diverging_member_is_masked_identically_by_every_driver(small_moons, name, train):
    engine = _engine(name)
    spec = MLPSpec(2, [6, 5], "relu" if train.lr > 1 else "tanh")  # relu(NaN) is 0: tanh keeps it
    start = (lambda: engine.init(spec, SEEDS)) if train.lr > 1 else (lambda: _poisoned(engine, spec, 2))
    runs = {d: drive(engine, spec, start(), small_moons, train) for d, drive in DRIVERS.items()}
    assert runs["fit"][1].diverged.any()
    if train.lr < 1:
        assert runs["fit"][1].diverged_epoch.tolist() == [-1, -1, 0, -1]
    for d in ("slices", "sync-free slices"):
        _assert_same_run(runs["fit"], runs[d], engine, exact=True)


def test_the_fused_runner_marks_divergence_as_the_minibatch_loop(small_moons):
    pytest.importorskip("numba")
    fast, ref = get_engine("fast"), NumpyEngine("float64")
    spec, train = MLPSpec(2, [6, 5], "tanh"), TrainSpec(epochs=3, optimizer="adam", lr=0.01)
    st = Stepper(fast, spec, _poisoned(fast, spec, 2), small_moons, train, SEEDS)
    assert st.runner is not None  # the kernels run these epochs
    for _ in range(train.epochs):
        st.run_epoch()
    want = fit(ref, spec, _poisoned(ref, spec, 2), small_moons, train, SEEDS)
    np.testing.assert_array_equal(st.history.diverged_epoch, want[1].diverged_epoch)
    for key in want[1].values:
        np.testing.assert_allclose(st.history.values[key], want[1].values[key], rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(st.params[1].W, want[0][1].W, rtol=1e-9, atol=1e-11)


def test_the_device_loop_reads_back_once_per_epoch_not_per_batch(small_moons):
    class Counting(NumpyEngine):
        reads = 0

        def to_host(self, x):
            Counting.reads += 1
            return super().to_host(x)

    engine = Counting()
    spec = MLPSpec(2, [4], "relu")
    st = Stepper(engine, spec, _poisoned(engine, spec, 1), small_moons, TrainSpec(epochs=2, batch_size=8),
                 SEEDS, sync_free=True)
    assert st.steps_per_epoch > 5
    st.run_epoch()
    first = Counting.reads
    st.run_epoch()
    assert Counting.reads - first == first <= 3  # the epoch's sums and keep mask, whatever the batches


# the engine protocol ---------------------------------------------------------------------
def _buildable_engines():
    out = []
    for name in list_engines():
        try:
            out.append(get_engine(name))
        except (MissingExtraError, ValueError):  # an extra not installed, or no CUDA device
            continue
    if HAS_TORCH:
        from actscope.engines.gpu_engine import GpuEngine

        out.append(GpuEngine(device="cpu", allow_cpu=True))
    return out


@pytest.mark.parametrize("engine", _buildable_engines(), ids=lambda e: e.name)
def test_every_engine_declares_its_capabilities(engine, small_moons):
    assert isinstance(engine.capabilities, Capabilities)
    assert isinstance(engine.device, str) and engine.dtype is not None
    caps = engine.capabilities
    assert caps.max_fused_params >= 0 and (caps.max_fused_params > 0) == caps.fused_epochs
    spec = MLPSpec(2, [4], "relu", n_classes=3)  # no fused kernels for softmax outputs
    plan = EpochPlan("sgd", 0.05, 0.9, (0.9, 0.999), 1e-8, 0.0, 16, True, [None])
    assert engine.epoch_runner(spec, engine.init(spec, [0]), small_moons.X_train, small_moons.y_train,
                               plan) is None
    loss = engine.zeros(3)
    assert engine.to_host(loss).dtype == np.float64 and engine.to_host(loss).shape == (3,)


def test_engine_names_and_classes_are_importable():
    assert {"numpy", "torch", "fast", "gpu", "auto"} <= set(list_engines())
    if HAS_TORCH:
        from actscope.engines.gpu_engine import GpuEngine
        from actscope.engines.torch_engine import TorchEngine

        assert issubclass(GpuEngine, TorchEngine) and GpuEngine.name == "gpu"


class _Limited(NumpyEngine):
    name = "limited"
    capabilities = Capabilities(dropout=False, multiclass=False, fork_safe=True)


def test_fit_refuses_dropout_the_engine_does_not_have(small_moons):
    engine, spec = _Limited(), MLPSpec(2, [4], "relu")
    with pytest.raises(InputError) as err:
        fit(engine, spec, engine.init(spec, [0]), small_moons, TrainSpec(epochs=1, dropout=0.3), [0])
    assert str(err.value) == 'train.dropout = 0.3: the limited engine has no dropout; use engine = "numpy"'
    with pytest.raises(InputError, match="3 classes: the limited engine trains binary tasks only"):
        multi = MLPSpec(2, [4], "relu", n_classes=3)
        fit(engine, multi, engine.init(multi, [0]), small_moons, TrainSpec(epochs=1), [0])
    _, h = fit(engine, spec, engine.init(spec, [0]), small_moons, TrainSpec(epochs=1), [0])
    assert np.isfinite(h.values["train/running_loss"]).all()


def test_the_log_schedule_evaluates_early_epochs_densely_and_later_ones_log_spaced(small_moons):
    from actscope.training.schedule import evaluates, log_epochs

    marks = sorted(log_epochs(800))
    assert marks[:10] == list(range(10)) and marks[-1] == 799
    gaps = np.diff(marks[10:-1]) / (np.array(marks[10:-2]) + 1)  # relative spacing: about 10^(1/20) - 1
    assert 0.05 < gaps.min() and gaps.max() < 0.2 and len(marks) < 60
    assert [evaluates(e, 30, 7) for e in range(31)].count(True) == 5  # epochs 7, 14, 21, 28 and the last
    assert evaluates(900, 800, "log") and not evaluates(900, 800, 7)  # past the planned end
    spec = MLPSpec(n_inputs=2, hidden=[3], activation="tanh")
    engine = get_engine("numpy")
    train = TrainSpec(epochs=40, batch_size=64)
    assert train.eval_every == "log"
    _, hist = fit(engine, spec, engine.init(spec, [0]), small_moons, train, [0])
    rows = np.where(np.isfinite(hist.values["test/loss"][:, 0]))[0]
    np.testing.assert_array_equal(rows, sorted(log_epochs(40)))
    assert np.isfinite(hist.values["train/running_loss"]).all()  # the running loss: every epoch
