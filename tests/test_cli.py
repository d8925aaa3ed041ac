"""The command line: bad input is one line and exit status 2, and writes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from actscope.cli import main

GOOD = """
name = "tiny"
[data]
n_samples = 80
[model]
hidden = [4]
[train]
epochs = 3
batch_size = 16
[[arms]]
name = "relu"
activation = "relu"
[[arms]]
name = "tanh"
activation = "tanh"
"""


def _write(tmp: Path, text: str) -> Path:
    p = tmp / "exp.toml"
    p.write_text(text)
    return p


def _cli(args, cwd):
    """Run the real console entry point, as a user would."""
    return subprocess.run([sys.executable, "-m", "actscope.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


class _Result:
    def __init__(self, r):
        self.returncode, self.stdout, self.stderr = r.exit_code, r.stdout, r.stderr


def _invoke(args, cwd):
    """The CLI in-process (fast); the subprocess tests below cover the real entry point."""
    import os

    old = os.getcwd()
    os.chdir(cwd)
    try:
        return _Result(CliRunner().invoke(main, args))
    finally:
        os.chdir(old)


BAD = [
    ("unknown activation", GOOD.replace('activation = "tanh"', 'activation = "tanhh"'),
     r"arms\[1\]\.activation = 'tanhh': unknown activation 'tanhh'; known: .*relu.*sigmoid"),
    ("zero width", GOOD.replace("hidden = [4]", "hidden = [0]"),
     r"model\.hidden\[0\] = 0: .*greater than 0"),
    ("negative width", GOOD.replace("hidden = [4]", "hidden = [8, -3]"),
     r"model\.hidden\[1\] = -3"),
    ("zero lr", GOOD.replace("epochs = 3", "epochs = 3\nlr = 0"), r"train\.lr = 0"),
    ("negative lr", GOOD.replace("epochs = 3", "epochs = 3\nlr = -0.1"), r"train\.lr = -0\.1"),
    ("unknown arm init", GOOD.replace('activation = "tanh"', 'activation = "tanh"\ninit = "nope"'),
     r"arms\[1\]\.init = 'nope': unknown init scheme; known: .*he"),
    ("unknown key", GOOD.replace("epochs = 3", "epochs = 3\nepoks = 4"),
     r"train\.epoks = 4: unknown key; allowed: optimizer, lr, .*, epochs, .*, tune_val_size$"),
    ("toml syntax", GOOD.replace("epochs = 3", "epochs = = 3"), r"TOML syntax error: .*line 8"),
]


@pytest.mark.parametrize("label, text, pattern", BAD, ids=[b[0] for b in BAD])
def test_bad_config_is_one_line_exit_2_and_writes_nothing(tmp_path, label, text, pattern):
    cfg = _write(tmp_path, text)
    res = _invoke(["run", str(cfg)], cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    import re

    assert re.search(pattern, lines[0]), lines[0]
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "runs").exists()
    assert res.stdout == ""


def test_missing_config_file(tmp_path):
    res = _cli(["run", "nowhere.toml"], cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.strip().startswith("error: CONFIG = 'nowhere.toml': no such file, nor a preset; "
                                         "presets: ")


def test_bad_option_value_is_a_usage_error(tmp_path):
    cfg = _write(tmp_path, GOOD)
    res = _invoke(["run", str(cfg), "--seeds", "0"], cwd=tmp_path)
    assert res.returncode == 2 and "--seeds" in res.stderr
    assert not (tmp_path / "runs").exists()


def test_unknown_preset(tmp_path):
    res = _invoke(["reproduce", "nope"], cwd=tmp_path)
    assert res.returncode == 2 and "known:" in res.stderr and "sigmoid-vs-relu" in res.stderr


def test_run_with_twenty_seeds_reports_mean_and_interval(in_tmp):
    cfg = _write(in_tmp, GOOD)
    res = CliRunner().invoke(main, ["run", str(cfg), "--seeds", "20", "--no-report", "--quiet"])
    assert res.exit_code == 0, res.output
    run_dir = Path(res.output.strip().splitlines()[-1])
    assert run_dir.parent == Path("runs") and run_dir.name.startswith("tiny-")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for arm in ("relu", "tanh"):
        a = metrics["arms"][arm]
        assert [m["seed"] for m in a["members"]] == list(range(20))
        s = a["summary"]["test_accuracy"]
        assert s["n"] == 20 and s["ci95"][0] <= s["mean"] <= s["ci95"][1] and s["ci95"][0] < s["ci95"][1]
    assert "95% CI" in res.output
    assert not (run_dir / "report.html").exists()


def test_activations_command_lists_the_registry():
    res = CliRunner().invoke(main, ["activations"])
    assert res.exit_code == 0
    rows = {line.split()[0]: line for line in res.output.splitlines()[2:]}
    assert "piecewise-linear" in rows["relu"] and "saturating" in rows["sigmoid"]
    assert rows["sigmoid"].split()[-3:] == ["0.500", "0.250", "1.000"]


def test_report_command_redraws_a_run(in_tmp):
    cfg = _write(in_tmp, GOOD)
    res = CliRunner().invoke(main, ["run", str(cfg), "--no-report", "--quiet"])
    run_dir = Path(res.output.strip().splitlines()[-1])
    res = CliRunner().invoke(main, ["report", str(run_dir)])
    assert res.exit_code == 0, res.output
    assert (run_dir / "report.html").is_file() and (run_dir / "figures" / "loss_curves.png").is_file()
    bad = CliRunner().invoke(main, ["report", str(in_tmp)])
    assert bad.exit_code == 2


def _readme_command_block() -> str:
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = text.split("## The command line\n", 1)[1]
    return section.split("```\n", 2)[1]


def test_the_readme_command_block_lists_every_command_and_option():
    block = _readme_command_block()
    commands = [*main.commands, *(f"theory {c}" for c in main.commands["theory"].commands),
                *(f"playground {c}" for c in main.commands["playground"].commands)]
    assert [c for c in commands if f"actscope {c}" not in block and f"| actscope {c}" not in block] == []
    for option in ("--rng", "--quiet", "--set", "--json", "--seeds", "--engine", "--out", "--mlflow"):
        assert option in block, option


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_documented_completion_works(shell):
    """README's completion line names the variable Click reads; the script it gives completes."""
    import os

    assert "_ACTSCOPE_COMPLETE=bash_source actscope" in (Path(__file__).resolve().parents[1]
                                                         / "README.md").read_text()
    exe = Path(sys.executable).parent / "actscope"
    if not exe.is_file():
        pytest.skip("the actscope console script is not installed next to this Python")
    env = {**os.environ, "_ACTSCOPE_COMPLETE": f"{shell}_source"}
    script = subprocess.run([str(exe)], env=env, capture_output=True, text=True, timeout=60).stdout
    assert "_ACTSCOPE_COMPLETE" in script
    env = {**os.environ, "_ACTSCOPE_COMPLETE": "bash_complete", "COMP_WORDS": "actscope theory cr",
           "COMP_CWORD": "2"}
    out = subprocess.run([str(exe)], env=env, capture_output=True, text=True, timeout=60).stdout
    assert out.split() == ["plain,critical"]
