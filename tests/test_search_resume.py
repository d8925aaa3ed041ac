"""A search killed with ``kill -9`` resumes without recomputing a finished cell and ends
with the member table of an uninterrupted run; a rerun of a finished search recomputes
nothing and gives the same leaderboard."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from actscope.search.leaderboard import leaderboard
from actscope.search.run import run_search
from actscope.search.spec import parse_search
from actscope.search.store import member_table, read_candidates

pytest.importorskip("numba")

SEARCH = {"search": {"name": "tiny", "strategy": "exhaustive", "max_size": 2, "candidates": 6,
                     "references": ["relu", "tanh"], "chunk": 2, "tasks": ["moons", "circles"],
                     "stages": [{"seeds": 2, "epochs": 3, "keep": 2}, {"seeds": 3, "epochs": 3}]},
          "tasks": {"moons": {"name": "moons", "n_samples": 80, "val_size": 0.25},
                    "circles": {"name": "circles", "n_samples": 80, "val_size": 0.25}},
          "model": {"hidden": [4]}, "train": {"lr_grid": [0.1, 0.5], "batch_size": 16}}

# the search in another process, slowed after each cell so that it is surely killed mid-way
CHILD = textwrap.dedent("""
    import sys, time
    from actscope.search.run import run_search
    from actscope.search.spec import load_search
    run_search(load_search(sys.argv[1]), sys.argv[2], progress=lambda p: time.sleep(0.5),
               results=False)
""")


def _cells(out):
    return sorted(p.name for p in (out / "cells").glob("s*.npz")) if (out / "cells").exists() else []


def _same_tables(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for col in a:
        np.testing.assert_array_equal(a[col], b[col], err_msg=col)


def _board(out, spec) -> dict:
    """The leaderboard of a search's stored cells (`search.leaderboard.leaderboard`)."""
    return leaderboard(read_candidates(out), member_table(out), spec.references, list(spec.tasks))


def test_kill_9_then_restart_recomputes_no_finished_cell(tmp_path):
    spec = parse_search(SEARCH)
    whole = run_search(spec, tmp_path / "whole", results=False)
    path = tmp_path / "tiny.toml"
    path.write_text(spec.to_toml())
    out = tmp_path / "cut"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(out)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not _cells(out) and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert child.poll() is None, child.stderr.read().decode()[-2000:]
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    before = _cells(out)
    assert 1 <= len(before) < whole.cells
    resumed = run_search(spec, out, results=False)
    assert (resumed.reused, resumed.computed) == (len(before), whole.cells - len(before))
    status = json.loads((out / "status.json").read_text())
    assert status["cells"]["reused"] == len(before) and status["finished"]
    _same_tables(member_table(tmp_path / "whole"), member_table(out))
    assert _board(out, spec) == _board(tmp_path / "whole", spec)
    assert not list((out / "cells").glob(".*"))  # no half-written file left behind


def test_a_rerun_of_a_finished_search_recomputes_nothing(tmp_path):
    spec = parse_search(SEARCH)
    first = run_search(spec, tmp_path)
    table, board = member_table(tmp_path), (tmp_path / "leaderboard.json").read_text()
    again = run_search(spec, tmp_path)
    assert (again.computed, again.reused, again.members) == (0, first.cells, 0)
    _same_tables(table, member_table(tmp_path))
    assert (tmp_path / "leaderboard.json").read_text() == board
    assert again.summary["top"] == first.summary["top"]
