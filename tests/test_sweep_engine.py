"""A sweep cell records which engine trained it: ``engine_chosen`` says what ``auto``
ran (NumPy code or a kernel), so that a sweep's speed can be read from its cells."""

from __future__ import annotations

import tomllib

import pytest

from actscope.sweep import parse_sweep, plan_cells
from actscope.sweep.cells import run_cell

SMALL = """
[sweep]
name = "small"
target_accuracy = 0.8
shared_lr = 0.1
latency = false

[sweep.grid]
activation = ["tanh"]
model.width = [3]

[data]
n_samples = 60

[model]
hidden = [3]

[train]
lr = 0.1
epochs = 3
eval_every = 3
engine = "ENGINE"

[seeds]
count = 2
"""


def _cell(engine: str) -> dict:
    (cell,) = plan_cells(parse_sweep(tomllib.loads(SMALL.replace("ENGINE", engine)), source="small.toml"))
    return run_cell(cell)


def test_numpy_cell_names_no_choice():
    out = _cell("numpy")
    assert "error" not in out, out.get("error")
    assert out["engine"] == "numpy"
    assert out["engine_chosen"] is None  # nothing was chosen: the NumPy engine was asked for


def test_auto_cell_records_its_choice(monkeypatch):
    pytest.importorskip("numba")
    from actscope.engines import fast_kernels

    # as in a fresh process: no kernel compiled here yet (earlier tests may have loaded some)
    monkeypatch.setattr(fast_kernels, "loaded", lambda kind, key: False)
    out = _cell("auto")
    assert "error" not in out, out.get("error")
    # 2 members x 3 epochs: NumPy's estimate is far below any kernel's load (auto_policy)
    assert out["engine_chosen"] == "numpy"
    assert out["engine"] != out["engine_chosen"]


def test_auto_counts_no_load_for_kernels_this_process_has():
    """A sweep's 2-2-1 ReLU cell (10 seeds, the preset's 200 epochs): with the generic
    kernels only on disk, loading them outweighs what they save on one cell; once this
    process has them (every later cell), the fast engine's estimate wins."""
    from actscope.engines.auto_policy import Workload, decide, kernel_estimate

    w = Workload(members=10, epochs=200, n=240, batch=64, sizes=(2, 2, 2, 1), threads=2, lanes=8)
    on_disk, _ = decide(w, {"generic": True}, numba_loaded=True, allow_numpy=True)
    in_process, why = decide(w, {"generic": True}, numba_loaded=True, allow_numpy=True, loaded={"generic"})
    assert on_disk.engine == "numpy"
    assert (in_process.engine, in_process.kernel, in_process.compile_s) == ("fast", "generic", 0.0)
    cold = kernel_estimate(w, "generic", compiled=False, numba_loaded=False)
    assert cold.compile_s > 0 and cold.work_s == in_process.work_s
    assert "fast/generic" in why
