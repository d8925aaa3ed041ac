"""Cells that differ only in learning rate and activation trained as one ensemble
(`sweep.groups`): each cell's result is exactly what the cell gives alone on the generic
kernels, a sweep resumes group by group, a failing or lost group is its cells', and the
planner groups only where the estimate says the kernels pay."""

from __future__ import annotations

import json
import tomllib

import pytest

pytest.importorskip("numba")

from actscope.engines import fast_kernels  # noqa: E402
from actscope.sweep import groups, parse_sweep, plan_cells, read_table, run_sweep  # noqa: E402
from actscope.sweep.cells import run_cell  # noqa: E402

SMALL = """
[sweep]
name = "grouped"
target_accuracy = 0.8
shared_lr = 0.1
latency = false

[sweep.grid]
activation = ["tanh", "relu", "f(x) = exp(x)"]
model.width = [3]

[data]
n_samples = 80
val_size = 0.2

[model]
hidden = [3, 3]

[train]
lr = "tune"
lr_grid = [0.1, 1.0, 300.0]
epochs = 6
eval_every = 6
batch_size = 16
engine = "ENGINE"
EXTRA

[seeds]
count = 3
"""
TIMING = ("elapsed_s", "cpu_s")


def _sweep(engine: str = "fast", extra: str = ""):
    text = SMALL.replace("ENGINE", engine).replace("EXTRA", extra)
    return parse_sweep(tomllib.loads(text), source="g.toml")


@pytest.fixture
def generic_only(monkeypatch):
    """Cells alone on the generic kernels (as a group trains), not the specialised ones."""
    monkeypatch.setattr(fast_kernels, "_compilable", lambda spec: False)


def _same(grouped: dict, alone: dict) -> None:
    assert "error" not in alone, alone.get("error")
    assert alone["engine_chosen"] == "fast/generic"
    assert grouped["engine_chosen"].startswith("fast/generic (group of ")
    for key in set(alone) | set(grouped):
        if key not in TIMING + ("engine_chosen",):
            assert grouped[key] == alone[key], key  # exact: the same floats, None where diverged


def test_a_group_gives_each_cell_exactly_what_it_gives_alone(generic_only):
    cells = plan_cells(_sweep())
    assert len(cells) == 9  # 3 activations x 3 rates
    unit = groups._unit(cells)
    out = groups.run_group(unit)
    assert [r["id"] for r in out["cells"]] == [c["id"] for c in cells]
    for got, cell in zip(out["cells"], cells):
        assert got["engine_chosen"] == "fast/generic (group of 9)"
        _same(got, run_cell(cell))
    members = [m for r in out["cells"] for m in r["members"]]
    assert any(m["diverged"] for m in members)  # exp at rate 300 diverges: recorded as alone
    assert any(not m["diverged"] for m in members)
    assert all(m["test_accuracy"] is None for m in members if m["diverged"])
    accs = {tuple(m["test_accuracy"] for m in r["members"]) for r in out["cells"]}
    assert len(accs) > 3  # the cells' members differ (rates and activations reached their lanes)


def test_a_sweep_of_groups_writes_every_cell_and_resumes(generic_only, tmp_path, monkeypatch):
    sweep = _sweep()
    grouped = run_sweep(sweep, out=tmp_path / "g", progress=False, report=False, echo=lambda s: None)
    assert grouped.n_run == 9 and grouped.n_failed == 0
    files = sorted((tmp_path / "g" / "cells").glob("*.json"))
    assert len(files) == 9
    assert {json.loads(p.read_text())["engine_chosen"] for p in files} == {"fast/generic (group of 9)"}
    monkeypatch.setattr("actscope.sweep.run.plan_units", lambda cells: list(cells))  # every cell alone
    run_sweep(sweep, out=tmp_path / "a", progress=False, report=False, echo=lambda s: None)
    strip = [{k: v for k, v in r.items() if k not in TIMING} for r in read_table(tmp_path / "g")]
    assert strip == [{k: v for k, v in r.items() if k not in TIMING} for r in read_table(tmp_path / "a")]
    again = run_sweep(sweep, out=tmp_path / "g", progress=False, report=False, echo=lambda s: None)
    assert (again.n_skipped, again.n_run) == (9, 0)


def test_a_group_that_raises_runs_its_cells_alone(generic_only, monkeypatch):
    cells = plan_cells(_sweep())[:3]

    def boom(cells, progress):
        raise RuntimeError("no")

    monkeypatch.setattr(groups, "_train_group", boom)
    out = groups.run_group(groups._unit(cells))
    assert [r["engine_chosen"] for r in out["cells"]] == ["fast/generic"] * 3  # each trained alone


def test_a_lost_or_failed_group_is_each_of_its_cells():
    cells = [{"id": f"c{i}", "meta": {"i": i}} for i in range(3)]
    unit = groups._unit(cells)
    units = {unit["id"]: unit}
    lost = groups.expand({"id": unit["id"], "meta": unit["meta"], "lost": "WorkerCrashedError: x"}, units)
    assert [(r["id"], r["meta"], r["lost"]) for r in lost] == [(f"c{i}", {"i": i}, "WorkerCrashedError: x")
                                                                for i in range(3)]
    failed = groups.expand({"id": unit["id"], "meta": unit["meta"], "error": "E: y"}, units)
    assert [r["error"] for r in failed] == ["E: y"] * 3
    single = {"id": "c9", "meta": {}, "members": []}
    assert groups.expand(single, units) == [single]


def test_the_planner_groups_rates_and_activations_of_one_network():
    cells = plan_cells(_sweep("fast"))
    units = groups.plan_units(cells)
    assert len(units) == 1 and [c["id"] for c in units[0]["cells"]] == [c["id"] for c in cells]
    assert groups.plan_units(plan_cells(_sweep("numpy"))) == plan_cells(_sweep("numpy"))
    # dropout needs single minibatches: those cells train alone
    dropout = plan_cells(_sweep("fast", "dropout = 0.1"))
    assert groups.plan_units(dropout) == dropout


def test_auto_groups_only_where_the_estimate_says_the_kernels_pay(monkeypatch):
    cells = plan_cells(_sweep("auto"))

    def est(np_s, k_s, compile_s):
        monkeypatch.setattr(groups, "_estimates", lambda cell: (np_s, k_s, compile_s, 3))
        return groups.plan_units(cells)

    assert len(est(10.0, 1.0, 0.0)) == 1  # kernels 10x cheaper: one group
    assert est(10.0, 9.0, 0.0) == cells  # above MARGIN x NumPy: every cell alone, as auto would run it
    assert est(1.0, 0.1, 60.0) == cells  # saving 9 x 0.7 s cannot pay a 60 s compile
    monkeypatch.setattr(groups, "GROUP_MAX_S", 2.5)
    units = est(10.0, 1.0, 0.0)  # at most 2.5 s of kernel work per group
    assert [len(u["cells"]) for u in units[:-1]] == [2, 2, 2, 2] and units[-1] == cells[-1]


def test_groups_keep_at_most_the_members_allowed(monkeypatch):
    monkeypatch.setattr(groups, "GROUP_MAX_MEMBERS", 6)
    units = groups.plan_units(plan_cells(_sweep("fast")))
    assert [len(u["cells"]) if "cells" in u else 1 for u in units] == [2, 2, 2, 2, 1]


def test_a_group_is_one_ray_task_and_gives_the_same_table(tmp_path):
    pytest.importorskip("ray")
    sweep, quiet = _sweep(), {"progress": False, "report": False, "echo": lambda s: None}
    here = run_sweep(sweep, out=tmp_path / "here", **quiet)
    on_ray = run_sweep(sweep, out=tmp_path / "ray", executor="ray", workers=1, **quiet)
    assert (on_ray.n_run, on_ray.problem) == (9, None)
    assert [{k: v for k, v in r.items() if k not in TIMING} for r in on_ray.rows] == [
        {k: v for k, v in r.items() if k not in TIMING} for r in here.rows]
    files = sorted((tmp_path / "ray" / "cells").glob("*.json"))
    assert {json.loads(p.read_text())["engine_chosen"] for p in files} == {"fast/generic (group of 9)"}
