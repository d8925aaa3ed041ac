"""Sweeps: grid expansion, the tidy table, resuming, executors (processes, Ray), bad specs,
and an interrupted sweep that loses no finished cell."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from actscope.config import list_presets
from actscope.errors import InputError
from actscope.sweep import MAX_CELLS, load_sweep, parse_sweep, plan_cells, read_table, run_sweep

TINY = """
[sweep]
name = "tiny"
target_accuracy = 0.8
shared_lr = 0.1
latency = false

[sweep.grid]
activation = ["sigmoid", "relu"]
model.width = [2, 4]

[data]
n_samples = 80

[model]
hidden = [4]

[train]
lr = "tune"
lr_grid = [0.1, 0.5]
epochs = 6
eval_every = 6

[seeds]
count = 2
"""
TIMING = ("elapsed_s", "cpu_s")


def _write(tmp_path: Path, text: str, name: str = "sweep.toml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def _strip(rows):
    return [{k: v for k, v in r.items() if k not in TIMING} for r in rows]


@pytest.fixture(scope="module")
def tiny_result(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny")
    cfg = _write(d, TINY)
    return cfg, run_sweep(load_sweep(cfg), out=d / "out", progress=False, report=True, echo=lambda m: None)


def test_grid_expands_to_cells_with_tuned_rates(tmp_path):
    sweep = load_sweep(_write(tmp_path, TINY))
    cells = plan_cells(sweep)
    assert sweep.n_cells() == len(cells) == 2 * 2 * 2  # activation x width x rate
    assert len({c["id"] for c in cells}) == len(cells)
    assert {c["meta"]["lr"] for c in cells} == {0.1, 0.5}
    spec = cells[0]["spec"]
    assert spec["arms"] == [{"name": "sigmoid", "activation": "sigmoid"}]
    assert spec["data"]["val_size"] == 0.2  # tuning makes a validation split


def test_table_has_one_row_per_cell_and_seed(tiny_result):
    _, res = tiny_result
    rows = read_table(res.path)
    assert len(rows) == res.n_cells * 2
    assert {"cell", "activation", "hidden", "lr", "seed", "test_accuracy", "val_accuracy", "flops",
            "n_params"} <= set(rows[0])
    assert (res.path / "results.csv").is_file() and (res.path / "results.parquet").is_file()
    assert all(0 <= r["test_accuracy"] <= 1 for r in rows if not r["diverged"])
    csv_rows = read_table_csv(res.path)
    assert [r["cell"] for r in csv_rows] == [r["cell"] for r in rows]


def read_table_csv(path):
    import csv

    with (path / "results.csv").open() as fh:
        return list(csv.DictReader(fh))


def test_fair_analysis_chooses_a_rate_per_configuration(tiny_result):
    _, res = tiny_result
    a = res.analysis
    assert a["tuned"] and a["n_configs"] == 4
    for c in a["configs"]:
        best = max(c["val_accuracy_by_rate"])
        assert c["tuned"]["lr"] in c["rates"]
        assert c["val_accuracy_by_rate"][c["rates"].index(c["tuned"]["lr"])] == pytest.approx(best)
    assert a["gaps"]["reference"] == "relu"
    report = (res.path / "report.html").read_text()
    assert "Cheapest network per activation" in report and "data:image/png;base64" in report
    assert (res.path / "figures" / "pareto.png").is_file()


def test_restart_skips_every_finished_cell(tiny_result):
    cfg, first = tiny_result
    said = []
    again = run_sweep(load_sweep(cfg), out=first.path, progress=False, report=False, echo=said.append)
    assert again.n_run == 0 and again.n_skipped == first.n_cells
    assert any(f"{first.n_cells} of {first.n_cells} cells already finished" in s for s in said)
    assert _strip(again.rows) == _strip(first.rows)


def test_process_pool_gives_the_same_table(tiny_result, tmp_path):
    cfg, first = tiny_result
    res = run_sweep(load_sweep(cfg), out=tmp_path / "p", executor="processes", workers=2,
                    progress=False, report=False, echo=lambda m: None)
    assert res.n_run == first.n_cells
    assert _strip(res.rows) == _strip(first.rows)


def test_an_address_without_ray_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(InputError, match=r"^--address = '10.0.0.1:6379': only with --executor ray$"):
        run_sweep(load_sweep(_write(tmp_path, TINY)), out=tmp_path / "o", executor="processes",
                  address="10.0.0.1:6379", progress=False, report=False)
    assert not (tmp_path / "o").exists()


def test_without_ray_the_executor_says_how_to_install(monkeypatch, tmp_path):
    from actscope.sweep.executors import check_executor

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(InputError, match=r"pip install 'actscope\[ray\]'"):
        check_executor("ray")


@pytest.mark.parametrize("change, message", [
    (("model.width = [2, 4]", "model.widht = [2, 4]"), r"unknown field 'model.widht'"),
    (("model.width = [2, 4]", "model.width = []"), r"needs at least one value"),
    (("model.width = [2, 4]", "model.width = [0]"), r"model.width = 0"),
    (("model.width = [2, 4]", "data.noise = [-1.0]"), r"data.noise"),
    (("shared_lr = 0.1", "shared_lr = 0.1\ncolour = 1"),
     r"sweep\.colour = 1: unknown key; allowed: name, description, grid, target_accuracy, .*latency_batch$"),
    (("activation = [\"sigmoid\", \"relu\"]", "activation = [\"sigmoidd\"]"), r"unknown activation"),
])
def test_bad_specs_are_refused(tmp_path, change, message):
    with pytest.raises(InputError, match=message):
        parse_sweep(__import__("tomllib").loads(TINY.replace(*change)), source="s")


def test_empty_grid_is_refused(tmp_path):
    text = TINY.replace('activation = ["sigmoid", "relu"]\nmodel.width = [2, 4]\n', "")
    with pytest.raises(InputError, match="sweep.grid is empty"):
        load_sweep(_write(tmp_path, text))


def test_huge_grid_needs_yes_and_nothing_is_written(tmp_path):
    text = TINY.replace("model.width = [2, 4]", "model.width = " + str(list(range(1, 1001)))
                        ).replace("[data]", "\n[sweep.grid.data]\nrandom_state = " +
                                  str(list(range(1000))) + "\n\n[data]")
    sweep = load_sweep(_write(tmp_path, text))
    assert sweep.n_cells() > MAX_CELLS
    out = tmp_path / "never"
    with pytest.raises(InputError, match="pass --yes"):
        run_sweep(sweep, out=out, progress=False, echo=lambda m: None)
    assert not out.exists()


def test_cli_refuses_in_one_line_with_status_2(tmp_path):
    cfg = _write(tmp_path, TINY.replace("model.width", "model.wdth"))
    proc = subprocess.run([sys.executable, "-m", "actscope.cli", "sweep", str(cfg), "--out",
                           str(tmp_path / "o")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "model.wdth" in proc.stderr
    assert not (tmp_path / "o").exists()


def test_sweep_preset_is_listed_apart_and_valid():
    assert "inference-cost" in list_presets("sweep")
    assert "inference-cost" not in list_presets()
    sweep = load_sweep("inference-cost")
    names = dict(sweep.axes)["activation"]
    assert {"sigmoid", "tanh", "relu", "identity"} <= set(names)
    assert sweep.tuned and sweep.base.seeds.count == 10
    assert dict(sweep.axes)["model.depth"] == [1, 2, 3, 4]


SLOW = TINY.replace("epochs = 6\neval_every = 6", "epochs = 120\neval_every = 120").replace(
    "model.width = [2, 4]", "model.width = [2, 4, 8, 16]")


def test_interrupt_then_restart_loses_and_recomputes_nothing(tmp_path):
    cfg = _write(tmp_path, SLOW)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "actscope.cli", "sweep", str(cfg), "--out", str(out), "--quiet",
           "--no-report"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    cells = out / "cells"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(cells.glob("*.json"))) < 2 and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "run the same command again to resume" in err
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in cells.glob("*.json")}
    n_total = load_sweep(cfg).n_cells()
    assert 2 <= len(before) < n_total
    assert not list(cells.glob(".*.tmp"))  # no half-written file
    for data in (v[1] for v in before.values()):
        assert json.loads(data)["members"]
    said = []
    res = run_sweep(load_sweep(cfg), out=out, progress=False, report=False, echo=said.append)
    assert res.n_skipped == len(before) and res.n_run == n_total - len(before)
    assert any(f"{len(before)} of {n_total} cells already finished" in s for s in said)
    after = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in cells.glob("*.json")}
    assert all(after[name] == v for name, v in before.items())  # none recomputed or rewritten
    assert len(after) == n_total and len({r["cell"] for r in res.rows}) == n_total


def test_a_failing_cell_is_recorded_skipped_on_restart_and_rerun_with_retry(tmp_path, monkeypatch):
    import actscope.sweep.cells as sw  # where run_cell looks _run_cell up

    sweep = load_sweep(_write(tmp_path, TINY))
    bad = plan_cells(sweep)[3]["id"]
    real = sw._run_cell
    calls = []

    def broken(payload, progress=None):
        calls.append(payload["id"])
        if payload["id"] == bad:
            raise RuntimeError("boom")  # deterministic: this cell fails every time
        return real(payload, progress)

    monkeypatch.setattr(sw, "_run_cell", broken)
    said = []
    res = run_sweep(sweep, out=tmp_path / "o", progress=False, report=False, echo=said.append)
    assert res.n_failed == 1 and res.n_run == sweep.n_cells() - 1
    assert bad not in {r["cell"] for r in res.rows}
    record = json.loads((tmp_path / "o" / "failed" / f"{bad}.json").read_text())
    assert record["error"] == "RuntimeError: boom" and "broken" in record["traceback"]
    assert any("boom" in s and "skipped on restart unless --retry-failed" in s for s in said)
    assert "1 cells failed" in res.problem and "--retry-failed" in res.problem
    calls.clear()
    said.clear()
    again = run_sweep(sweep, out=tmp_path / "o", progress=False, report=False, echo=said.append)
    assert calls == [] and again.n_run == 0 and again.n_failed == 0 and again.n_failed_before == 1
    assert again.n_skipped == sweep.n_cells() - 1 and "1 cells failed" in again.problem
    assert any("1 cells failed in an earlier run, skipped" in s for s in said)
    monkeypatch.setattr(sw, "_run_cell", real)  # the cause fixed: --retry-failed runs it again
    fixed = run_sweep(sweep, out=tmp_path / "o", progress=False, report=False, echo=said.append,
                      retry_failed=True)
    assert fixed.n_run == 1 and fixed.n_failed == fixed.n_failed_before == 0 and fixed.problem is None
    assert bad in {r["cell"] for r in fixed.rows}
    assert not (tmp_path / "o" / "failed" / f"{bad}.json").exists()


def test_cli_retry_failed_and_exit_status(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from actscope.cli import main

    cfg = _write(tmp_path, TINY.replace('activation = ["sigmoid", "relu"]', 'activation = ["relu"]'))
    out = tmp_path / "o"
    bad = plan_cells(load_sweep(cfg))[0]["id"]
    (out / "failed").mkdir(parents=True)  # an earlier run recorded this cell failed
    (out / "failed" / f"{bad}.json").write_text(json.dumps({"id": bad, "meta": {}, "error": "E: x"}))
    args = ["sweep", str(cfg), "--out", str(out), "--quiet", "--no-report"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1 and not (out / "cells" / f"{bad}.json").exists()
    assert res.output.strip().splitlines()[-1].startswith("error: 1 cells failed (errors in")
    res = CliRunner().invoke(main, [*args, "--retry-failed"])
    assert res.exit_code == 0, res.output
    assert (out / "cells" / f"{bad}.json").is_file() and not (out / "failed" / f"{bad}.json").exists()


def test_a_memory_error_is_lost_not_failed(tmp_path, monkeypatch):
    import actscope.sweep.cells as sw

    def oom(payload, progress=None):
        raise MemoryError

    monkeypatch.setattr(sw, "_run_cell", oom)
    sweep = load_sweep(_write(tmp_path, TINY))
    res = run_sweep(sweep, out=tmp_path / "o", progress=False, report=False, echo=lambda m: None)
    assert res.n_lost == sweep.n_cells() and res.n_failed == 0
    assert not (tmp_path / "o" / "failed").exists()
    assert "run the same command again to resume" in res.problem


def test_a_second_sweep_on_the_same_folder_is_refused_while_the_first_runs(tmp_path):
    from actscope._util.runlock import try_lock

    out = tmp_path / "busy"
    out.mkdir()
    held = try_lock(out)  # as a first sweep, still running, holds it
    try:
        with pytest.raises(InputError, match=r"--out = .*busy.*another sweep \(pid \d+\) is writing there"):
            run_sweep(load_sweep(_write(tmp_path, TINY)), out=out, progress=False, echo=lambda m: None)
        assert sorted(p.name for p in out.iterdir()) == [".lock"]  # nothing written, no cell run
    finally:
        held.release()
    res = run_sweep(load_sweep(_write(tmp_path, TINY)), out=out, progress=False, report=False,
                    echo=lambda m: None)
    assert res.n_run > 0 and not (out / ".lock").exists()  # the lock goes with the sweep
