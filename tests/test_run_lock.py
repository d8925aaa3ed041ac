"""The output location is claimed when a run starts: refused at once (exit 2, one line, no
training) when it cannot be used; stale hidden .tmp folders removed by the next run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from actscope._util.runlock import LOCK_NAME, claim_folder, holder, remove_stale, try_lock
from actscope.cli import main
from actscope.errors import InputError
from actscope.experiment import list_runs

TOML = """
name = "tiny"
[data]
n_samples = 60
[model]
hidden = [3]
[train]
epochs = 2
batch_size = 16
[[arms]]
name = "relu"
activation = "relu"
[probes]
include = []
[report]
enabled = false
"""


@pytest.fixture
def never_trains(monkeypatch):
    """Fails the test if any data loads or any arm trains; records the attempts."""
    import actscope.experiment.run as ex

    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise AssertionError("the run started working before its output location was checked")

    monkeypatch.setattr(ex, "prepare_arms", refuse)
    monkeypatch.setattr(ex, "fit", refuse)
    return calls


def _run(tmp_path: Path, out: str):
    cfg = tmp_path / "exp.toml"
    cfg.write_text(TOML)
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        return CliRunner().invoke(main, ["run", str(cfg), "--out", out, "--quiet"])
    finally:
        os.chdir(old)


def _one_error_line(res) -> str:
    lines = res.stderr.strip().splitlines()
    assert res.exit_code == 2, res.output
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert "Traceback" not in res.output
    return lines[0]


def _holder_process(folder: Path) -> subprocess.Popen:
    """Another process that claims ``folder`` and holds it until killed."""
    code = ("import sys, time; from actscope._util.runlock import claim_folder; "
            "claim_folder(sys.argv[1]); print('held', flush=True); time.sleep(120)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_run_on_a_held_folder_is_refused_before_any_work(tmp_path, never_trains):
    out = tmp_path / "run1"
    other = _holder_process(out)
    try:
        started = time.perf_counter()
        line = _one_error_line(_run(tmp_path, str(out)))
        assert time.perf_counter() - started < 10
        assert f"--out = {str(out)!r}" in line and f"another run (pid {other.pid})" in line
        assert never_trains == []
        assert holder(out) == other.pid  # the first run's claim is untouched
    finally:
        other.kill()
        other.wait()
    assert holder(out) is None  # the kernel dropped the killed holder's lock


@pytest.mark.parametrize("case", ["under_a_file", "is_a_file_parent", "not_empty", "unwritable"])
def test_an_unusable_out_is_refused_before_any_work(tmp_path, never_trains, case):
    (tmp_path / "exp.toml").write_text(TOML)
    (tmp_path / "afile").write_text("x")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "metrics.json").write_text("{}")
    out = {"under_a_file": "afile/run1", "is_a_file_parent": "afile/deeper/run1", "not_empty": "full",
           "unwritable": "/proc/actscope-run"}[case]
    before = sorted(p.name for p in tmp_path.rglob("*"))
    line = _one_error_line(_run(tmp_path, out))
    assert f"--out = {out!r}" in line
    reason = {"under_a_file": "'afile' is not a folder", "is_a_file_parent": "'afile' is not a folder",
              "not_empty": "not empty", "unwritable": "cannot create it"}[case]
    assert reason in line
    assert never_trains == []
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing created, nothing removed


def test_bad_input_found_after_the_claim_leaves_nothing(tmp_path, monkeypatch):
    """An InputError while the data loads (after the claim) removes every folder the claim made."""
    import actscope.experiment.run as ex

    def bad_data(spec):
        raise InputError("exp.toml: data.path = 'gone.csv': no such file")

    monkeypatch.setattr(ex, "prepare_arms", bad_data)
    line = _one_error_line(_run(tmp_path, "a/b/run1"))
    assert "gone.csv" in line
    assert not (tmp_path / "a").exists()


def test_a_claimed_folder_is_refused_in_process_and_free_after_release(tmp_path):
    claim = claim_folder(tmp_path / "r")
    assert holder(tmp_path / "r") == os.getpid()
    with pytest.raises(InputError, match=r"another run \(pid \d+\) is writing there"):
        claim_folder(tmp_path / "r")
    claim.undo()
    assert not (tmp_path / "r").exists()
    again = claim_folder(tmp_path / "r")  # free again
    again.release()
    assert list((tmp_path / "r").iterdir()) == []  # the lock file goes with the claim


def _stale_folder(parent: Path, name: str, kill: bool) -> subprocess.Popen:
    """A hidden .tmp folder locked by a child process; the child SIGKILLed when ``kill``."""
    folder = parent / name
    folder.mkdir()
    code = ("import sys, time; from actscope._util.runlock import try_lock; "
            "lock = try_lock(sys.argv[1]); print('held', flush=True); time.sleep(120)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    if kill:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    return proc


def test_stale_tmp_folders_go_when_their_process_is_dead_and_stay_while_it_lives(tmp_path):
    dead = _stale_folder(tmp_path, ".r1.report-abcd1234.tmp", kill=True)
    live = _stale_folder(tmp_path, ".r2.report-def_5678.tmp", kill=False)
    try:
        # the dead one's lock file still names its pid, but no process holds the lock
        assert (tmp_path / ".r1.report-abcd1234.tmp" / LOCK_NAME).read_text().strip() == str(dead.pid)
        assert holder(tmp_path / ".r1.report-abcd1234.tmp") is None
        assert holder(tmp_path / ".r2.report-def_5678.tmp") == live.pid
        legacy = tmp_path / ".old.k2j3abcd.tmp"  # written before lock files: no lock, an hour old
        legacy.mkdir()
        (legacy / "metrics.json").write_text("{}")
        os.utime(legacy, (time.time() - 3600, time.time() - 3600))
        young = tmp_path / ".new.x1x1x1x1.tmp"  # lock-less and just made: its writer may be locking it
        young.mkdir()
        mine = tmp_path / ".cache.tmp"  # a user's own hidden folder: not named as a run's, kept
        mine.mkdir()
        os.utime(mine, (time.time() - 3600, time.time() - 3600))
        assert list_runs(tmp_path) == []  # hidden folders are never runs
        claim = claim_folder(tmp_path / "next")  # the next run in that folder cleans up
        claim.release()
        left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("."))
        assert left == [".cache.tmp", ".new.x1x1x1x1.tmp", ".r2.report-def_5678.tmp"]
    finally:
        live.kill()
        live.wait()
    assert remove_stale(tmp_path) == [tmp_path / ".r2.report-def_5678.tmp"]  # now dead, it goes too


def test_try_lock_is_exclusive_between_processes(tmp_path):
    proc = _stale_folder(tmp_path, "held", kill=False)
    try:
        assert try_lock(tmp_path / "held") is None
    finally:
        proc.kill()
        proc.wait()
    lock = try_lock(tmp_path / "held")
    assert lock is not None and holder(tmp_path / "held") == os.getpid()
    lock.release()


def test_two_runs_started_at_once_without_out_get_two_folders(tmp_path, monkeypatch):
    """The default name is claimed, not just looked up: a run that finds its name taken by a
    run started in the same second takes the next one."""
    from actscope.config import parse_spec
    from actscope.experiment.rundir import open_run

    names = iter(["same-stamp", "same-stamp", "same-stamp-1"])  # both runs see "same-stamp" free
    monkeypatch.setattr("actscope.experiment.rundir.default_run_dir",
                        lambda name, root="runs": tmp_path / next(names))
    spec = parse_spec({"name": "same", "arms": [{"name": "relu", "activation": "relu"}]})
    first = open_run(None, spec)
    second = open_run(None, spec)
    try:
        assert (first.path.name, second.path.name) == ("same-stamp", "same-stamp-1")
        assert holder(first.path) == holder(second.path) == os.getpid()
    finally:
        first.__exit__(None, None, None)
        second.__exit__(None, None, None)
    assert holder(first.path) is None and holder(second.path) is None


@pytest.mark.parametrize("trained", [False, True])
def test_a_run_killed_before_training_finished_leaves_its_folder_to_the_next(tmp_path, trained):
    """Killed before the arms were trained, a run's folder holds nothing worth keeping: the
    next run on it takes it. Killed after, its results are kept and the folder refused."""
    import json

    from actscope.config import parse_spec
    from actscope.experiment.rundir import open_run

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    out = tmp_path / "r1"
    out.mkdir()
    (out / "config.toml").write_text("name = 'old'\n")
    (out / "status.json").write_text(json.dumps({"state": "running", "pid": int(dead)}))
    (out / LOCK_NAME).write_text(dead)  # its lock file, which no live process holds
    (out / ".params.npz.ab12cd34.tmp").write_bytes(b"half")
    if trained:
        (out / "params.npz").write_bytes(b"kept")
    spec = parse_spec({"name": "new", "arms": [{"name": "relu", "activation": "relu"}]})
    if trained:
        with pytest.raises(InputError, match="not empty"):
            open_run(out, spec)
        assert (out / "params.npz").read_bytes() == b"kept"
        return
    writer = open_run(out, spec)
    try:
        assert "name = \"new\"" in (out / "config.toml").read_text()
        assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME, "config.toml", "status.json"]
    finally:
        writer.__exit__(None, None, None)
