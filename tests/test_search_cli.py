"""``actscope search``: bad input refused before any work (one line, exit 2, nothing
written), ``--set``, Ctrl-C (exit 130, one line naming the folder), what it prints, and a
tiny search end to end."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from actscope.cli import main
from tiny_specs import TINY_SEARCH as TINY
from tiny_specs import TINY_SEARCH_E2E, TINY_SEARCH_SLOW


def _invoke(args):
    return CliRunner().invoke(main, args)


def _file(tmp_path: Path, text: str = TINY, name: str = "s.toml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def _stand_in(monkeypatch, calls: list, *, raises: type[BaseException] | None = None, summary=None):
    """Replace `run_search` with a stand-in recording its arguments (and raising, or
    returning a result with ``summary``)."""
    import actscope.search.run as run

    def fake(spec, out, *, progress=None, executor="local", address=None, workers=None):
        calls.append({"spec": spec, "out": Path(out), "executor": executor, "address": address,
                      "workers": workers})
        if progress is not None:
            progress({"stage": 0, "stages": 2, "cells_done": 1, "cells_total": 4, "candidates": 6,
                      "members": 24, "computed": 1, "reused": 0, "elapsed_s": 0.1})
        if raises is not None:
            raise raises()
        return run.SearchResult(path=Path(out), candidates=[], stage_candidates=[6], cells=4,
                                computed=4, reused=0, members=24, elapsed_s=0.1,
                                summary=summary or {})

    monkeypatch.setattr(run, "run_search", fake)


BAD_ARGS = [
    (["--set", "search.candidates=0"], "--set = 'search.candidates=0': search.candidates = 0: "),
    (["--set", "search.stages.1.keep=0.5"], "search.stages[1].keep = 0.5: the last stage promotes nothing"),
    (["--set", "search.nope=1"], "search has no field 'nope'"),
    (["--address", "ray://x:10001"], "--address = 'ray://x:10001': only with --executor ray"),
    (["--executor", "dask"], "--executor = 'dask'"),
    (["--workers", "0"], "--workers = '0'"),
    (["--workers", "2"], "--workers = 2: only with --executor ray"),
]


@pytest.mark.parametrize(("extra", "says"), BAD_ARGS, ids=[" ".join(a) for a, _ in BAD_ARGS])
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, monkeypatch, extra, says):
    calls: list = []
    _stand_in(monkeypatch, calls)
    out = tmp_path / "out"
    res = _invoke(["search", str(_file(tmp_path)), "--out", str(out), *extra])
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], res.stderr
    assert res.stdout == "" and not out.exists() and calls == []


def test_a_bad_field_in_the_file_names_the_file(tmp_path):
    cfg = _file(tmp_path, TINY.replace('strategy = "random"', 'strategy = "grid"'))
    res = _invoke(["search", str(cfg), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2
    assert res.stderr.startswith(f"error: {cfg}: search.strategy = 'grid': ") and res.stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_an_experiment_file_or_unknown_preset_is_refused(tmp_path):
    exp = _file(tmp_path, 'name = "e"\n[[arms]]\nname = "relu"\nactivation = "relu"\n', "e.toml")
    res = _invoke(["search", str(exp)])
    assert res.exit_code == 2 and "not a search config: it has no [search] table" in res.stderr
    res = _invoke(["search", "search-medium"])
    assert res.exit_code == 2 and "presets: " in res.stderr and "search-small" in res.stderr


def test_run_and_reproduce_name_the_search_command_for_a_search(tmp_path):
    res = _invoke(["reproduce", "search-small"])
    assert res.exit_code == 2 and "run it with `actscope search search-small`" in res.stderr
    res = _invoke(["run", "search-small", "--out", str(tmp_path / "r")])
    assert res.exit_code == 2 and "a search config (it has a [search] table): run it with `actscope search`" \
        in res.stderr and not (tmp_path / "r").exists()


def test_help_lists_the_search_presets():
    text = " ".join(_invoke(["search", "--help"]).stdout.split())
    assert "Presets: search-large, search-small." in text
    reproduce = " ".join(_invoke(["reproduce", "--help"]).stdout.split())
    assert "search-small" not in reproduce


def test_set_reaches_the_search_and_the_options_are_passed(tmp_path, monkeypatch):
    calls: list = []
    _stand_in(monkeypatch, calls)
    res = _invoke(["search", "search-small", "--set", "search.candidates=10", "--out",
                   str(tmp_path / "o"), "--executor", "ray", "--workers", "3", "--quiet"])
    assert res.exit_code == 0, res.output
    (call,) = calls
    assert call["spec"].candidates == 10 and call["spec"].name == "small"
    assert call["out"] == tmp_path / "o" and call["workers"] == 3 and call["executor"] == "ray"
    assert call["address"] is None


def test_the_default_folder_is_named_for_the_search(tmp_path, monkeypatch):
    calls: list = []
    _stand_in(monkeypatch, calls)
    monkeypatch.chdir(tmp_path)
    res = _invoke(["search", str(_file(tmp_path)), "--quiet"])
    assert res.exit_code == 0 and calls[0]["out"] == Path("runs") / "search-tiny"
    assert res.stdout.strip().splitlines()[-1] == str(Path("runs") / "search-tiny")


def test_ctrl_c_exits_130_with_one_line_naming_the_folder(tmp_path, monkeypatch):
    _stand_in(monkeypatch, [], raises=KeyboardInterrupt)
    out = tmp_path / "o"
    res = _invoke(["search", str(_file(tmp_path)), "--out", str(out)])
    assert res.exit_code == 130
    line = [ln for ln in res.stderr.splitlines() if "interrupted" in ln]
    assert len(line) == 1 and str(out) in line[0] and "resume" in line[0]


SUMMARY = {
    "top": [{"rank": 1, "name": "cand_00ff", "formula": "x*tanh(x)", "stage": 1,
             "overall": {"mean": 0.9512, "ci95": [0.94, 0.96], "n": 10}},
            {"rank": 2, "name": "relu", "formula": "max(x, 0)", "stage": 0,
             "overall": {"mean": 0.9, "ci95": None, "n": 3}}],
    "counts": {"candidates": 6},
    "paths": {"report.html": "R/report.html", "found.toml": "R/found.toml"}}


def test_the_end_prints_the_top_of_the_leaderboard_and_the_paths(tmp_path, monkeypatch):
    _stand_in(monkeypatch, [], summary=SUMMARY)
    out = tmp_path / "o"
    res = _invoke(["search", str(_file(tmp_path)), "--out", str(out), "--quiet"])
    lines = res.stdout.splitlines()
    assert lines[1].split() == ["1", "cand_00ff", "2", "0.951", "[0.940,", "0.960]", "10", "x*tanh(x)"]
    assert lines[2].split() == ["2", "relu", "1", "0.900", "3", "max(x,", "0)"]  # no interval: none shown
    assert lines[-3:] == ["report: R/report.html", "found: R/found.toml", str(out)]


def test_json_is_the_whole_stdout(tmp_path, monkeypatch):
    _stand_in(monkeypatch, [], summary=SUMMARY)
    out = tmp_path / "o"
    res = _invoke(["search", str(_file(tmp_path)), "--out", str(out), "--json"])
    doc = json.loads(res.stdout)
    assert doc["search_dir"] == str(out) and doc["top"][0]["name"] == "cand_00ff"
    assert (doc["cells"], doc["computed"], doc["reused"]) == (4, 4, 0)
    assert doc["paths"]["found.toml"] == "R/found.toml"


END_TO_END, SLOW = TINY_SEARCH_E2E, TINY_SEARCH_SLOW


def _interrupt_mid_search(tmp_path, signum: int, status: int):
    """Start the real search in a child, send ``signum`` once a cell is stored; the child
    exits with ``status`` and one line naming the folder, finished cells kept, nothing
    half-written. Returns (config, folder, kept cells)."""
    cfg, out = _file(tmp_path, SLOW), tmp_path / "o"
    cmd = [sys.executable, "-m", "actscope.cli", "search", str(cfg), "--out", str(out), "--quiet"]
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 600  # the first cell may compile the generic kernels
        while not list(out.glob("cells/s*.npz")) and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert child.poll() is None, child.communicate()[1][-2000:]
        assert list(out.glob("cells/s*.npz")), "no cell was stored in 600 s"
        child.send_signal(signum)
        stdout, stderr = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == status, stderr[-2000:]
    assert stderr.strip().splitlines() == [f"interrupted: every finished cell is saved in {out}; run the "
                                           "same command again to resume"]
    assert stdout == ""
    kept = list(out.glob("cells/s*.npz"))
    assert kept and not list(out.glob("cells/.*"))
    return cfg, out, kept


def test_sigterm_is_an_interrupt(tmp_path):
    """SIGTERM (a scheduler, `timeout`, `kill`) keeps what Ctrl-C keeps; exit 143."""
    _interrupt_mid_search(tmp_path, signal.SIGTERM, 143)


def test_sigint_then_resume_then_rerun_end_to_end(tmp_path):
    """The real `run_search`. A Ctrl-C (SIGINT) mid-search: exit 130, one line on stderr
    naming the folder, finished cells kept. The same command resumes, reusing every one of
    them; run once more it trains nothing and prints leaderboard.json's top rows and the
    paths of the report and found.toml, then the folder."""
    cfg, out, kept = _interrupt_mid_search(tmp_path, signal.SIGINT, 130)

    resumed = _invoke(["search", str(cfg), "--out", str(out), "--json"])
    assert resumed.exit_code == 0, resumed.output
    doc = json.loads(resumed.stdout)
    assert doc["reused"] == len(kept) and doc["computed"] == doc["cells"] - len(kept) > 0

    again = _invoke(["search", str(cfg), "--out", str(out)])
    assert again.exit_code == 0 and f"0 cells trained, {doc['cells']} reused" in again.stderr
    lines = again.stdout.splitlines()
    rows = json.loads((out / "leaderboard.json").read_text())["rows"]
    shown = lines[1:-3]
    assert 0 < len(shown) <= 10 and [ln.split()[1] for ln in shown] == [r["name"] for r in rows][:len(shown)]
    for ln, r in zip(shown, rows):
        assert ln.split()[2:4] == [str(r["stage"] + 1), f"{r['overall']['mean']:.3f}"]
    assert lines[-3:] == [f"report: {out / 'report.html'}", f"found: {out / 'found.toml'}", str(out)]
    assert (out / "report.html").is_file() and (out / "found.toml").is_file()
