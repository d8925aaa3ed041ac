"""Run directories that lose nothing: faults after training keep the trained state (marked
failed, with a message saying where); damaged directories are one line (exit 2) or rebuilt;
a run killed while its report is drawn leaves nothing that the next run does not clean."""

from __future__ import annotations

import json
import math
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actscope._util.runlock import claim_folder
from actscope.cli import main
from actscope.config import parse_spec
from actscope.errors import RunDirError, RunFailedError
from actscope.experiment import list_runs, load_run
from actscope.experiment.run import mark_nonfinite_members
from actscope.experiment.runfiles import finite_json, run_state
from actscope.pipeline import run_experiment
from actscope.training.history import History

SPEC = {
    "name": "faults",
    "data": {"n_samples": 80},
    "model": {"hidden": [4]},
    "train": {"epochs": 3, "batch_size": 16},
    "arms": [{"name": "relu", "activation": "relu"}, {"name": "tanh", "activation": "tanh"}],
    "seeds": {"count": 2},
    "probes": {"include": []},
    "report": {"enabled": False},
}
TRAINED = ["config.toml", "history.npz", "params.npz"]


def _accuracies(metrics: dict) -> dict:
    return {a: [m["test_accuracy"] for m in arm["members"]] for a, arm in metrics["arms"].items()}


@pytest.fixture(scope="module")
def good_run(tmp_path_factory) -> Path:
    """One complete run directory, copied by the tests that damage it."""
    out = tmp_path_factory.mktemp("good") / "run"
    run_experiment(parse_spec(SPEC), out=out)
    return out


def _schema_errors(doc: dict) -> list[str]:
    """What the shipped metrics.json schema says about ``doc`` (jsonschema: the dev extra)."""
    from importlib.resources import files

    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((files("actscope") / "experiment" / "metrics.schema.json").read_text())
    return [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(doc)]


def _status(path: Path) -> dict:
    return json.loads((path / "status.json").read_text())


def _stub_report(monkeypatch):
    """A report writer that draws nothing (the report's own tests draw)."""
    import actscope.report as report

    def write_report(run, out_dir):
        (Path(out_dir) / "report.html").write_text(f"<p>{sorted(run.metrics['arms'])}</p>")
        return Path(out_dir) / "report.html"

    monkeypatch.setattr(report, "write_report", write_report)


def _report_cli(run_dir: Path):
    return CliRunner().invoke(main, ["report", str(run_dir)])


def test_an_error_while_measuring_keeps_the_trained_state_and_says_where(tmp_path, monkeypatch, good_run):
    import actscope.experiment.run as ex

    def boom(*args, **kwargs):
        raise RuntimeError("boom in metrics")

    with monkeypatch.context() as m:
        m.setattr(ex, "compute_metrics", boom)
        with pytest.raises(RunFailedError) as err:
            run_experiment(parse_spec(SPEC), out=tmp_path / "r")
    msg = str(err.value)
    assert "\n" not in msg and str(tmp_path / "r") in msg and "boom in metrics" in msg
    run_dir = tmp_path / "r"
    assert sorted(p.name for p in run_dir.iterdir()) == TRAINED + ["status.json"]
    status = _status(run_dir)
    assert status["state"] == "failed" and status["error"] == "RuntimeError: boom in metrics"
    assert "compute_metrics" in status["traceback"] or "boom" in status["traceback"]
    assert list_runs(tmp_path) == [] and list_runs(tmp_path, failed=True) == [run_dir]
    with pytest.raises(RunDirError, match="metrics.json: missing"):
        load_run(run_dir)
    # `actscope report` rebuilds metrics.json from the trained state: the same numbers
    _stub_report(monkeypatch)
    res = _report_cli(run_dir)
    assert res.exit_code == 0, res.output
    rebuilt = json.loads((run_dir / "metrics.json").read_text())
    assert rebuilt["rebuilt"] is True and _schema_errors(rebuilt) == []
    assert _accuracies(rebuilt) == _accuracies(json.loads((good_run / "metrics.json").read_text()))
    assert _status(run_dir)["state"] == "complete" and "error" not in _status(run_dir)
    assert list_runs(tmp_path) == [run_dir]


def test_the_command_line_says_in_one_line_where_a_failed_run_is(tmp_path, monkeypatch):
    import actscope.experiment.run as ex

    monkeypatch.setattr(ex, "compute_metrics", lambda *a, **k: 1 / 0)
    cfg = tmp_path / "exp.toml"
    cfg.write_text(parse_spec(SPEC).to_toml())
    res = CliRunner().invoke(main, ["run", str(cfg), "--out", str(tmp_path / "r"), "--quiet"])
    assert res.exit_code == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {tmp_path / 'r'}: the run failed after training")
    assert "ZeroDivisionError" in lines[0] and "status.json" in lines[0] and "Traceback" not in res.output
    assert all((tmp_path / "r" / f).is_file() for f in TRAINED)


@pytest.mark.parametrize("where", ["saving metrics", "drawing the report"])
def test_an_error_after_measuring_keeps_metrics_and_leaves_no_hidden_folder(tmp_path, monkeypatch, where):
    import actscope.experiment.runfiles as rf
    import actscope.pipeline.run as pipe

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    if where == "saving metrics":
        monkeypatch.setattr(rf, "flag_nonfinite", boom)
    else:
        monkeypatch.setattr(pipe, "_draw", boom)
    spec = parse_spec({**SPEC, "report": {"enabled": True}})
    with pytest.raises(RunFailedError, match="No space left on device"):
        run_experiment(spec, out=tmp_path / "r")
    files = sorted(p.name for p in (tmp_path / "r").iterdir())
    expected = TRAINED + (["metrics.json"] if where != "saving metrics" else []) + ["status.json"]
    assert files == sorted(expected)
    assert [p.name for p in tmp_path.iterdir()] == ["r"]  # the drawing folder is gone
    assert _status(tmp_path / "r")["state"] == "failed"


def test_non_finite_metrics_are_written_as_null_with_a_flag(tmp_path, monkeypatch):
    import actscope.analysis.probes as probes

    real = probes.hidden_std

    def overflowing(*args):
        std = real(*args).copy()
        std[0, 0] = np.inf  # what a 1e308 input feature does to a member's hidden layer
        return std

    monkeypatch.setattr(probes, "hidden_std", overflowing)
    run = run_experiment(parse_spec(SPEC), out=tmp_path / "r")
    text = (tmp_path / "r" / "metrics.json").read_text()
    metrics = json.loads(text)  # strict JSON: Python's parser would accept Infinity, so check the text
    assert "Infinity" not in text and "NaN" not in text
    for arm in ("relu", "tanh"):
        m0, m1 = metrics["arms"][arm]["members"]
        assert m0["hidden_std"][0] is None and m0["nonfinite"] == ["hidden_std"]
        assert "nonfinite" not in m1 and math.isfinite(m1["hidden_std"][0])
    assert metrics["nonfinite"] == ["arms.relu.members.0.hidden_std.0", "arms.tanh.members.0.hidden_std.0"]
    assert _status(tmp_path / "r")["state"] == "complete" and _schema_errors(metrics) == []
    assert load_run(tmp_path / "r").metrics == run.metrics == metrics


def test_finite_json_nulls_every_non_finite_number_and_names_it():
    clean, paths = finite_json({"a": [1.0, float("nan")], "b": {"c": np.float32("inf"), "d": np.arange(2.0)},
                                "e": "text", "f": None, "g": True})
    assert clean == {"a": [1.0, None], "b": {"c": None, "d": [0.0, 1.0]}, "e": "text", "f": None, "g": True}
    assert paths == [("a", 1), ("b", "c")]


def test_a_member_whose_final_parameters_overflow_is_diverged():
    """Its last loss was finite (the update after it overflowed): nn.params.finite_members decides."""
    from actscope.nn.model import Layer

    hist = History(epochs=4, seeds=[0, 1, 2])
    hist.values["train/running_loss"] = np.full((4, 3), 0.5)
    hist.diverged, hist.diverged_epoch = np.array([False, False, True]), np.array([-1, -1, 1])
    W = np.ones((3, 2, 2))
    W[1, 0, 0] = np.inf
    mark_nonfinite_members(hist, [Layer(W, np.zeros((3, 2)))])
    assert hist.diverged.tolist() == [False, True, True]
    assert hist.diverged_epoch.tolist() == [-1, 3, 1]


# --- damaged run directories ---------------------------------------------------------------

def _truncate(p: Path, frac: float) -> None:
    data = p.read_bytes()
    p.write_bytes(data[:int(len(data) * frac)])


DAMAGES = {  # the cases of issue 16, each: (file, how)
    "metrics truncated": ("metrics.json", lambda p: _truncate(p, 0.5)),
    "metrics = []": ("metrics.json", lambda p: p.write_text("[]")),
    "metrics missing": ("metrics.json", lambda p: p.unlink()),
    "params missing": ("params.npz", lambda p: p.unlink()),
    "params truncated": ("params.npz", lambda p: _truncate(p, 0.7)),
    "config missing": ("config.toml", lambda p: p.unlink()),
    "config garbage": ("config.toml", lambda p: p.write_bytes(b"\xff\xfe\x00garbage\x80")),
    "config not TOML": ("config.toml", lambda p: p.write_text("this is = = not toml [")),
    "history missing": ("history.npz", lambda p: p.unlink()),
    "history truncated": ("history.npz", lambda p: _truncate(p, 0.9)),
}


def _damaged_copy(good_run: Path, root: Path, name: str, how) -> Path:
    run_dir = root / "run"
    shutil.copytree(good_run, run_dir)
    how(run_dir / name)
    return run_dir


@pytest.mark.parametrize("case", list(DAMAGES))
def test_a_damaged_run_directory_is_one_line_or_rebuilt(tmp_path, monkeypatch, good_run, case):
    name, how = DAMAGES[case]
    run_dir = _damaged_copy(good_run, tmp_path, name, how)
    with pytest.raises(RunDirError) as err:
        load_run(run_dir)
    assert "\n" not in str(err.value) and str(err.value).startswith(f"{run_dir / name}: ")
    _stub_report(monkeypatch)
    res = _report_cli(run_dir)
    if name == "metrics.json":  # rebuilt from the trained state: the same numbers
        assert res.exit_code == 0, res.output
        assert _accuracies(load_run(run_dir).metrics) == _accuracies(json.loads(
            (good_run / "metrics.json").read_text()))
    else:
        lines = res.stderr.strip().splitlines()
        assert res.exit_code == 2 and len(lines) == 1, res.output
        assert lines[0].startswith(f"error: {run_dir / name}: ") and "Traceback" not in res.output


FILES = ["config.toml", "metrics.json", "params.npz", "history.npz", "status.json"]
damage = st.one_of(
    st.tuples(st.sampled_from(FILES), st.just("delete"), st.none()),
    st.tuples(st.sampled_from(FILES), st.just("truncate"), st.floats(0.0, 0.999)),
    st.tuples(st.sampled_from(FILES), st.just("bytes"), st.binary(max_size=64)),
    st.tuples(st.sampled_from(FILES), st.just("json"), st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
        max_leaves=6)),
    st.tuples(st.sampled_from(FILES), st.just("flip"), st.integers(0, 10**6)),
)


def _apply(p: Path, how: str, arg) -> None:
    if how == "delete":
        p.unlink()
    elif how == "truncate":
        _truncate(p, arg)
    elif how == "bytes":
        p.write_bytes(arg)
    elif how == "json":
        p.write_text(json.dumps(arg))
    elif p.stat().st_size:  # one byte changed
        data = bytearray(p.read_bytes())
        data[arg % len(data)] ^= 0x5A
        p.write_bytes(bytes(data))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(damages=st.lists(damage, min_size=1, max_size=2))
def test_any_damaged_run_directory_is_one_line_exit_2_or_rebuilt(monkeypatch, good_run, damages):
    """Each damage: `actscope report` answers one line and exit 2 naming a damaged file, or
    rebuilds metrics.json (only that or status.json damaged) with the original numbers."""
    _stub_report(monkeypatch)
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        shutil.copytree(good_run, run_dir)
        for name, how, arg in damages:
            if (run_dir / name).exists():
                _apply(run_dir / name, how, arg)
        changed = {n for n in FILES if not (run_dir / n).exists()
                   or (run_dir / n).read_bytes() != (good_run / n).read_bytes()}
        res = _report_cli(run_dir)
        assert "Traceback" not in res.output
        trained_damaged = changed & {"config.toml", "params.npz", "history.npz"}
        if res.exit_code == 2:
            lines = res.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: "), res.output
            named = [n for n in FILES if f"{run_dir / n}: " in lines[0]]
            blamed = named[0] in changed if named else False  # or the checksums it was checked with
            checksum = "status.json" in changed and "status.json records" in lines[0]
            assert blamed or checksum, (lines, changed)
        else:
            assert res.exit_code == 0, (res.output, changed)
            # a damaged trained state is never read as good: with its checksums gone
            # (status.json), only a flip the container ignores (a zip header's timestamp)
            # may pass, and then every array read is the original's
            if trained_damaged:
                assert "status.json" in changed and trained_damaged <= {"params.npz", "history.npz"}
                for n in trained_damaged:
                    with np.load(run_dir / n) as got, np.load(good_run / n) as want:
                        assert sorted(got.files) == sorted(want.files)
                        assert all(np.array_equal(got[k], want[k], equal_nan=True) for k in want.files)
            assert _accuracies(load_run(run_dir).metrics) == _accuracies(json.loads(
                (good_run / "metrics.json").read_text()))


# --- killed while the report is drawn ------------------------------------------------------

KILLED = """
import os, signal, sys
import actscope.pipeline.run as pipe
from actscope.config import parse_spec

def killed(run, folder, worker):
    (folder / "figures").mkdir()
    (folder / "figures" / "half.png").write_bytes(b"half")
    (run.path / ".metrics.json.x1.tmp").write_text("{{half")  # an atomic write cut short
    os.kill(os.getpid(), signal.SIGKILL)

pipe._draw = killed
spec = parse_spec({spec!r})
pipe.run_experiment(spec, out=sys.argv[1])
"""


def test_a_run_killed_while_drawing_keeps_its_results_and_the_next_run_cleans_up(tmp_path, monkeypatch):
    spec = {**SPEC, "report": {"enabled": True}}
    proc = subprocess.run([sys.executable, "-c", KILLED.format(spec=spec), str(tmp_path / "r")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    hidden = [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert len(hidden) == 1 and hidden[0].name.endswith(".tmp")
    deadline = time.time() + 20  # the report worker, if one was forked, ends on its own
    while run_state(tmp_path / "r") != "abandoned" and time.time() < deadline:
        time.sleep(0.1)
    assert run_state(tmp_path / "r") == "abandoned"
    assert list_runs(tmp_path) == [] and list_runs(tmp_path, failed=True) == [tmp_path / "r"]
    assert not (tmp_path / "r" / "figures").exists()  # half a report never reaches the run
    claim_folder(tmp_path / "next").undo()  # the next run in that folder
    assert [p.name for p in tmp_path.iterdir()] == ["r"]
    _stub_report(monkeypatch)
    res = _report_cli(tmp_path / "r")  # the results were all kept: the report draws
    assert res.exit_code == 0, res.output
    assert _status(tmp_path / "r")["state"] == "complete" and list_runs(tmp_path) == [tmp_path / "r"]
    assert not list((tmp_path / "r").glob(".*.tmp"))


def test_a_report_is_refused_while_a_live_run_writes_the_directory(tmp_path, good_run):
    run_dir = tmp_path / "run"
    shutil.copytree(good_run, run_dir)
    code = ("import sys, time; from actscope._util.runlock import try_lock; "
            "from actscope.experiment.runfiles import write_status; "
            "lock = try_lock(sys.argv[1]); write_status(__import__('pathlib').Path(sys.argv[1]), 'running'); "
            "print('held', flush=True); time.sleep(120)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(run_dir)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(RunDirError, match=rf"a run \(pid {proc.pid}\) is still writing it"):
            load_run(run_dir)
        res = _report_cli(run_dir)
        assert res.exit_code == 2 and f"pid {proc.pid}" in res.stderr
    finally:
        proc.kill()
        proc.wait()
    assert run_state(run_dir) == "abandoned"


@pytest.mark.parametrize("what", ["empty folder", "no such folder"])
def test_report_on_something_that_is_not_a_run_directory_is_one_line(tmp_path, what):
    target = tmp_path / "x"
    if what == "empty folder":
        target.mkdir()
    res = _report_cli(target)
    assert res.exit_code == 2 and res.stderr.strip() == f"error: {target}: not a run directory (" + (
        "no config.toml, metrics.json or params.npz)" if what == "empty folder" else "no such folder)")
    assert list(tmp_path.iterdir()) == ([target] if what == "empty folder" else [])
    assert what == "no such folder" or list(target.iterdir()) == []
