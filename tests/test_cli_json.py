"""``--json`` (one JSON document on stdout, nothing else there), the ``actscope`` logger, and
the command line's documented behaviours: presets in ``reproduce --help``, whole short
help lines, where theory figures go, a sweep's report path, its folder redrawn by
``report``, and the core install without pyarrow."""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from actscope.cli import main
from tiny_specs import TINY_SWEEP, TINY_TWO_ARMS

GOOD = TINY_TWO_ARMS + "[seeds]\ncount = 5\n"

SWEEP = TINY_SWEEP


def _file(tmp_path: Path, text: str, name: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def _invoke(args):
    return CliRunner().invoke(main, args)


# --json -----------------------------------------------------------------------------------

def test_run_json_is_the_whole_stdout_and_agrees_with_metrics(tmp_path):
    out = tmp_path / "r"
    res = _invoke(["run", str(_file(tmp_path, GOOD, "exp.toml")), "--out", str(out), "--no-report",
                   "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)  # fails if anything but the document is on stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert doc["run_dir"] == str(out) and doc["report"] is None and doc["interrupted"] is False
    assert list(doc["arms"]) == ["relu", "tanh"]
    for name, arm in doc["arms"].items():
        s = metrics["arms"][name]["summary"]["test_accuracy"]
        assert arm["test_accuracy"]["mean"] == s["mean"] and arm["test_accuracy"]["n"] == 5
        assert arm["test_accuracy"]["ci95"] == s["ci95"] and len(s["ci95"]) == 2
    verdicts = [c["verdict"] for c in metrics["comparisons"] if c["metric"] == "test_accuracy"]
    assert [v["verdict"] for v in doc["verdicts"]] == verdicts and verdicts
    assert "━" not in res.stderr  # no progress bar drawn with --json


def test_run_text_prints_the_same_numbers_as_json(tmp_path):
    cfg = _file(tmp_path, GOOD, "exp.toml")
    text = _invoke(["run", str(cfg), "--out", str(tmp_path / "a"), "--no-report", "--quiet"])
    doc = json.loads(_invoke(["run", str(cfg), "--out", str(tmp_path / "b"), "--no-report",
                              "--json"]).stdout)
    first = text.stdout.splitlines()[0]
    assert first.startswith("relu") and f"{doc['arms']['relu']['test_accuracy']['mean']:.4f}" in first


def test_reproduce_json_names_its_report(tmp_path):
    out = tmp_path / "r"
    res = _invoke(["reproduce", "sigmoid-vs-relu", "--out", str(out), "--seeds", "2", "--json",
                   "--set", "train.epochs=2", "--set", "data.n_samples=80"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["report"] == str(out / "report.html") and Path(doc["report"]).is_file()
    assert set(doc["arms"]) == {"sigmoid", "relu"}


def test_activations_json_lists_the_registry():
    from actscope.activations import list_activations

    doc = json.loads(_invoke(["activations", "--json"]).stdout)
    names = [r["name"] for r in doc["activations"]]
    assert names == list_activations()
    relu = doc["activations"][names.index("relu")]
    assert relu["range"] == [0.0, None] and relu["f0"] == 0.0  # inf as null: JSON has no inf
    assert doc["aliases"]


def test_theory_json_holds_what_the_text_shows():
    text = _invoke(["theory", "critical", "--activation", "tanh", "--sigma-b2", "0.05"]).stdout
    doc = json.loads(_invoke(["theory", "critical", "--activation", "tanh", "--sigma-b2", "0.05",
                              "--json"]).stdout)
    assert doc["sigma_w2"] == pytest.approx(float(text.splitlines()[-1]), rel=1e-9)
    assert doc["activation"] == "tanh" and doc["sigma_b2"] == 0.05
    fp = json.loads(_invoke(["theory", "fixed-point", "--activation", "tanh", "--sigma-w2", "2.5",
                             "--sigma-b2", "0.05", "--json"]).stdout)
    assert fp["phase"] == "chaotic" and fp["chi1"] > 1
    stable = [r for r in fp["roots"] if r["kind"] == "stable"]
    assert stable and math.isclose(stable[0]["q"], fp["q_star"])


# sweeps: --json, the report path, no pyarrow, `report` on a sweep folder ------------------

def test_sweep_json_and_its_report_path(tmp_path):
    out = tmp_path / "s"
    res = _invoke(["sweep", str(_file(tmp_path, SWEEP, "sweep.toml")), "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["sweep_dir"] == str(out) and doc["report"] == str(out / "report.html")
    assert (doc["cells"], doc["run"], doc["skipped"], doc["failed"]) == (2, 2, 0, 0)
    assert all(Path(p).is_file() for p in doc["results"])
    again = _invoke(["sweep", str(tmp_path / "sweep.toml"), "--out", str(out)])  # resumes: text
    assert again.stdout.splitlines()[-2:] == [f"report: {out / 'report.html'}", str(out)]
    assert "0 cells run, 2 skipped" in again.stderr


def test_sweep_without_pyarrow_says_so_once_and_its_report_names_only_the_csv(tmp_path, monkeypatch):
    import actscope.sweep.run

    # what write_parquet does when `import pyarrow` fails (the core install); hiding pyarrow
    # itself from sys.modules would break scikit-learn, which probes for it
    monkeypatch.setattr(actscope.sweep.run, "write_parquet", lambda path, rows: False)
    out = tmp_path / "s"
    res = _invoke(["sweep", str(_file(tmp_path, SWEEP, "sweep.toml")), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert not (out / "results.parquet").exists()
    assert res.stderr.count("results.parquet was skipped: pyarrow is not installed") == 1
    html = (out / "report.html").read_text()
    assert "rows in results.csv." in html and "results.parquet" not in html
    doc = json.loads(_invoke(["sweep", str(tmp_path / "sweep.toml"), "--out", str(out), "--json"]).stdout)
    assert doc["results"] == [str(out / "results.csv")]


def test_report_redraws_a_sweep_folder(tmp_path):
    out = tmp_path / "s"
    res = _invoke(["sweep", str(_file(tmp_path, SWEEP, "sweep.toml")), "--out", str(out), "--no-report",
                   "--quiet"])
    assert res.exit_code == 0 and not (out / "report.html").exists()
    res = _invoke(["report", str(out)])
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == str(out / "report.html")
    assert "Sweep: tiny" in (out / "report.html").read_text()


def test_report_on_a_sweep_folder_with_no_table_is_one_line(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "sweep.toml").write_text(SWEEP)
    res = _invoke(["report", str(tmp_path / "s")])
    assert res.exit_code == 2 and len(res.stderr.strip().splitlines()) == 1
    assert "no results table" in res.stderr


# logging -----------------------------------------------------------------------------------

def test_the_library_configures_no_handler_of_its_own():
    code = ("import logging, actscope; h = logging.getLogger('actscope').handlers; "
            "print([type(x).__name__ for x in h])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['NullHandler']"


@pytest.mark.parametrize("flags, level", [([], logging.INFO), (["-q"], logging.WARNING),
                                          (["-v"], logging.DEBUG), (["--quiet"], logging.WARNING)])
def test_quiet_and_verbose_set_the_level(flags, level):
    assert _invoke([*flags, "activations"]).exit_code == 0
    assert logging.getLogger("actscope").getEffectiveLevel() == level


def test_info_messages_go_to_stderr_unless_quiet(tmp_path):
    cfg = _file(tmp_path, SWEEP, "sweep.toml")
    loud = _invoke(["sweep", str(cfg), "--out", str(tmp_path / "a"), "--no-report"])
    quiet = _invoke(["-q", "sweep", str(cfg), "--out", str(tmp_path / "b"), "--no-report"])
    assert "cells run" in loud.stderr and "cells run" not in loud.stdout
    assert "cells run" not in quiet.stderr and quiet.stdout == loud.stdout.replace("/a", "/b")


# help texts, theory figures, the torch hint -----------------------------------------------

def test_reproduce_help_names_every_preset():
    from actscope.config import list_presets

    text = " ".join(_invoke(["reproduce", "--help"]).stdout.split())  # unwrapped
    assert all(name in text.replace("- ", "-") for name in list_presets())


def test_top_level_help_cuts_no_command_line():
    lines = _invoke(["--help"]).stdout.split("Commands:")[1].splitlines()
    ours = ("activations", "demo", "export", "playground", "report", "reproduce", "run", "serve",
            "sweep", "theory", "track")
    shown = {ln.split()[0]: ln for ln in lines if ln.strip()}
    assert [c for c in ours if shown[c].endswith("...")] == []


def test_theory_propagate_says_where_its_figure_is(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = _invoke(["theory", "propagate", "--activation", "tanh", "--sigma-w2", "1.5", "--depth", "3",
                   "--width", "40", "--networks", "1"])
    assert res.exit_code == 0, res.output
    last = res.stdout.strip().splitlines()[-1]
    assert last == f"figure: {tmp_path / 'theory-propagate-tanh.png'}"
    assert (tmp_path / "theory-propagate-tanh.png").stat().st_size > 0


def test_the_torch_hint_gives_the_cpu_build(monkeypatch):
    from actscope.engines import MissingExtraError, get_engine

    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(MissingExtraError) as err:
        get_engine("torch")
    assert "--index-url https://download.pytorch.org/whl/cpu" in str(err.value)
    assert str(err.value).index("whl/cpu") < str(err.value).index("'actscope[torch]'")
