"""System failures under the process pool: a killed worker's cell runs again in a fresh
pool; one that kills every worker is reported lost (not failed), and the others finish."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import actscope.sweep.executors as ex
from actscope.sweep import execute


def _crash_once(payload: dict) -> dict:
    """Kills its own worker process the first time (a marker file), then returns."""
    marker = Path(payload["marker"])
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return {"id": payload["id"], "meta": {}, "pid": os.getpid()}


def _crash_if(payload: dict) -> dict:
    if payload["crash"]:
        os.kill(os.getpid(), signal.SIGKILL)
    return {"id": payload["id"], "meta": {}}


def test_a_killed_pool_worker_is_retried(tmp_path):
    payloads = [{"id": "c0", "marker": str(tmp_path / "m0")}]
    (res,) = list(execute("processes", _crash_once, payloads, workers=1))
    assert res["id"] == "c0" and res["pid"] != int((tmp_path / "m0").read_text())


def test_a_cell_that_kills_every_worker_is_lost_and_the_others_finish(monkeypatch):
    monkeypatch.setattr(ex, "MAX_RETRIES", 1)
    payloads = [{"id": "bad", "crash": True}, {"id": "ok", "crash": False}]
    results = {r["id"]: r for r in execute("processes", _crash_if, payloads, workers=1)}
    assert set(results) == {"bad", "ok"}
    assert results["bad"]["lost"] == ("BrokenProcessPool: its worker process died each of the 2 times "
                                      "it ran alone")
    assert "lost" not in results["ok"]


def test_only_the_cell_that_kills_its_worker_is_blamed(monkeypatch):
    """Cells in flight beside it go down with the pool, then run again alone and finish."""
    monkeypatch.setattr(ex, "MAX_RETRIES", 0)
    payloads = [{"id": "bad", "crash": True}, {"id": "ok1", "crash": False}, {"id": "ok2", "crash": False}]
    results = {r["id"]: r for r in execute("processes", _crash_if, payloads, workers=2)}
    assert set(results) == {"bad", "ok1", "ok2"}
    assert "lost" in results["bad"] and "lost" not in results["ok1"] and "lost" not in results["ok2"]
