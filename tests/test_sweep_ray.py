"""Sweeps on Ray: the same table as in-process, the address checked before anything is
written, $RAY_ADDRESS honoured, lost workers retried, a concurrency cap, a clear line when
the workers cannot import actscope. One local Ray instance serves the whole module."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from actscope.cli import main
from actscope.errors import InputError
from actscope.sweep import execute, load_sweep, read_table, run_sweep
from actscope.sweep import ray_cluster as rc

ray = pytest.importorskip("ray")

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
lr = 0.1
epochs = 6
eval_every = 6

[seeds]
count = 2
"""
TIMING = ("elapsed_s", "cpu_s")


def _strip(rows):
    return [{k: v for k, v in r.items() if k not in TIMING} for r in rows]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster():
    """A local Ray instance of 2 CPUs started by this process (other drivers may join it)."""
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the test tasks below
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny")
    cfg = d / "sweep.toml"
    cfg.write_text(TINY)
    return cfg, run_sweep(load_sweep(cfg), out=d / "inprocess", progress=False, report=False,
                          echo=lambda m: None)


@pytest.mark.parametrize("how", ["--address", "RAY_ADDRESS"])
def test_an_address_where_nothing_listens_is_one_line_exit_2_nothing_written(how, tiny, monkeypatch):
    cfg, first = tiny
    addr = f"127.0.0.1:{_free_port()}"
    out = first.path.parent / f"never-{how}"
    args = ["sweep", str(cfg), "--executor", "ray", "--out", str(out), "--quiet"]
    if how == "--address":
        args += ["--address", addr]
    else:
        monkeypatch.setenv("RAY_ADDRESS", addr)
    res = CliRunner().invoke(main, args)
    field = "--address" if how == "--address" else "$RAY_ADDRESS"
    assert res.exit_code == 2, res.output
    assert res.output.startswith(f"error: {field} = '{addr}': no Ray cluster answers there (")
    assert "ray start --head" in res.output and len(res.output.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("addr", ["nonsense", "host:port", ":6379"])
def test_a_malformed_address_is_refused(addr):
    with pytest.raises(InputError, match=r"--address = .*: not a Ray address"):
        rc.probe_address(addr, "--address")


def test_an_address_that_never_answers_is_refused_after_the_probe_timeout(monkeypatch):
    seen = []

    def silent(addr, timeout):
        seen.append((addr, timeout))
        raise TimeoutError

    monkeypatch.setattr(rc.socket, "create_connection", silent)
    with pytest.raises(InputError, match=r"^\$RAY_ADDRESS = 'ray://head\.example:10001': no Ray cluster "
                                         r"answers there \(no answer within 3 s\)"):
        rc.probe_address("ray://head.example:10001", "$RAY_ADDRESS")
    assert seen == [(("head.example", 10001), rc.ADDRESS_TIMEOUT_S)]


def test_ray_gives_the_same_table(cluster, tiny, tmp_path):
    cfg, first = tiny
    res = run_sweep(load_sweep(cfg), out=tmp_path / "r", executor="ray", progress=False, report=False,
                    echo=lambda m: None)
    assert res.n_run == first.n_cells and res.problem is None
    assert _strip(res.rows) == _strip(first.rows)
    assert ray.is_initialized()  # an instance we did not start is left up


def test_a_driver_joins_the_cluster_named_by_RAY_ADDRESS(cluster, tiny, tmp_path):
    """As under `ray job submit`: RAY_ADDRESS set, no --address; the code is shipped and
    checked, the table is the in-process one."""
    cfg, first = tiny
    out = tmp_path / "joined"
    env = {**os.environ, "RAY_ADDRESS": cluster, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run([sys.executable, "-m", "actscope.cli", "sweep", str(cfg), "--executor", "ray",
                           "--workers", "1", "--out", str(out), "--quiet", "--no-report"],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == str(out)
    assert _strip(read_table(out)) == _strip(read_table(first.path))


def _crash_once(payload: dict) -> dict:
    """A task that kills its own worker process the first time it runs (a marker file)."""
    marker = Path(payload["marker"])
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return {"id": payload["id"], "meta": payload["meta"], "pid": os.getpid()}


def _crash_always(payload: dict) -> dict:
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_killed_worker_is_retried(cluster, tmp_path):
    payloads = [{"id": f"c{i}", "meta": {}, "marker": str(tmp_path / f"m{i}")} for i in range(2)]
    results = sorted(execute("ray", _crash_once, payloads), key=lambda r: r["id"])
    assert [r["id"] for r in results] == ["c0", "c1"]
    for i, r in enumerate(results):  # each ran twice: killed once, then finished in a new worker
        assert r["pid"] != int((tmp_path / f"m{i}").read_text())


def test_a_cell_lost_after_every_retry_is_one_line_and_resumable(cluster, tmp_path, monkeypatch):
    monkeypatch.setattr(rc, "MAX_RETRIES", 1)
    payloads = [{"id": "c0", "meta": {}}]
    (result,) = list(execute("ray", _crash_always, payloads))
    assert result["id"] == "c0" and result["lost"].startswith("WorkerCrashedError")
    assert "\n" not in result["lost"]


def _overlap(payload: dict) -> int:
    """How many tasks run at once, seen from inside one (files in a shared folder)."""
    running = Path(payload["dir"])
    me = running / payload["id"]
    me.touch()
    time.sleep(0.4)
    n = len(list(running.iterdir()))
    me.unlink()
    return n


def test_workers_caps_the_cells_in_flight(cluster, tmp_path):
    payloads = [{"id": f"c{i}", "dir": str(tmp_path)} for i in range(4)]
    assert list(execute("ray", _overlap, payloads, workers=1)) == [1, 1, 1, 1]


def test_workers_that_cannot_import_actscope_are_one_clear_line(cluster, tmp_path):
    broken = tmp_path / "actscope"  # shadows the installed package on the workers' path
    broken.mkdir()
    (broken / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'pydantic'\")\n")
    with pytest.raises(InputError) as info:
        rc.check_workers(ray, {"env_vars": {"PYTHONPATH": str(tmp_path)}}, "10.0.0.1:6379", "--address")
    msg = str(info.value)
    assert msg.startswith("--address = '10.0.0.1:6379': a Ray worker cannot import actscope (")
    assert "No module named 'pydantic'" in msg and "pip install 'actscope[ray]'" in msg
    assert "\n" not in msg


def test_a_lost_cell_is_not_failed_and_runs_again_on_restart(tiny, tmp_path, monkeypatch):
    """The sweep side of a lost cell: not in failed/, one closing line, resumed next time."""
    import actscope.sweep.executors as ex

    cfg, first = tiny
    sweep = load_sweep(cfg)
    real = ex.run_inprocess
    victim = []

    def losing(fn, payloads, **kw):
        for p in payloads:
            if not victim:
                victim.append(p["id"])
                yield {"id": p["id"], "meta": p["meta"], "lost": "NodeDiedError: node 1 died"}
            else:
                yield fn(p, **kw)

    monkeypatch.setattr(ex, "run_inprocess", losing)
    res = run_sweep(sweep, out=tmp_path / "o", progress=False, report=False, echo=lambda m: None)
    assert res.n_lost == 1 and res.n_failed == 0 and not (tmp_path / "o" / "failed").exists()
    assert "1 cells lost to system failures" in res.problem and "run the same command again" in res.problem
    monkeypatch.setattr(ex, "run_inprocess", real)
    again = run_sweep(sweep, out=tmp_path / "o", progress=False, report=False, echo=lambda m: None)
    assert again.n_run == 1 and again.problem is None
    assert _strip(again.rows) == _strip(first.rows)
    assert json.loads((tmp_path / "o" / "cells" / f"{victim[0]}.json").read_text())["members"]


class _GoneRay:
    """Enough of the ray module for map_tasks, with a cluster that is gone."""

    exceptions = ray.exceptions

    def remote(self, **options):
        return lambda fn: type("Remote", (), {"remote": staticmethod(lambda item: object())})

    def wait(self, refs, num_returns):
        raise ray.exceptions.RaySystemError("the GCS server is gone")

    def cancel(self, ref, force):
        raise ConnectionError("no cluster")


def test_a_lost_cluster_is_one_line_with_the_resume_hint():
    with pytest.raises(rc.ClusterLostError) as info:
        list(rc.map_tasks(_GoneRay(), len, [{"id": "c0"}], None))
    msg = str(info.value)
    assert msg.startswith("the Ray cluster failed (RaySystemError: ") and "gone" in msg
    assert msg.endswith("run the same command again to resume") and "\n" not in msg


def test_cli_says_the_cluster_was_lost_in_one_line_and_keeps_finished_cells(tiny, tmp_path, monkeypatch):
    from contextlib import contextmanager

    import actscope.sweep.run as sr

    @contextmanager
    def dying(kind, workers=None, address=None):
        def run(fn, payloads, **kw):
            payloads = list(payloads)
            yield fn(payloads[0])
            raise rc.ClusterLostError("the Ray cluster failed (NodeDiedError: head); every finished "
                                      "cell is saved: run the same command again to resume")
        yield run

    monkeypatch.setattr(sr, "open_executor", dying)
    cfg, _ = tiny
    out = tmp_path / "o"
    res = CliRunner().invoke(main, ["sweep", str(cfg), "--out", str(out), "--quiet", "--no-report"])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert res.output.strip().splitlines()[-1] == ("error: the Ray cluster failed (NodeDiedError: head); "
                                                   "every finished cell is saved: run the same command "
                                                   "again to resume")
    assert len(list((out / "cells").glob("*.json"))) == 1
