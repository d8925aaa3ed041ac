"""One error format everywhere: ``error: FILE: field = value: reason``, values as the user
wrote them, long values shortened, Click's usage errors in the same form, the formula caret
at the right column (issue 16 item 7); the sweep's name in its resolved config (issue 20)."""

from __future__ import annotations

import math
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from actscope.activations.formula import FormulaError, parse_formula
from actscope.cli import main
from actscope.config import parse_spec
from actscope.errors import MAX_SHOWN, input_error, shorten, shown
from tiny_specs import TINY_ONE_ARM

GOOD = TINY_ONE_ARM


@pytest.mark.parametrize("value, text", [
    (True, "true"), (False, "false"), (math.inf, "inf"), (-math.inf, "-inf"), (math.nan, "nan"),
    (Path("myrun"), "'myrun'"), ("tanhh", "'tanhh'"), (0.99, "0.99"), ([3, 3, 4], "[3, 3, 4]"),
    ({"name": "a", "lr": 0.1}, "{name = 'a', lr = 0.1}"), (None, "None"),
])
def test_values_are_shown_as_the_user_wrote_them(value, text):
    assert shown(value) == text


def test_long_values_are_shortened_with_their_length():
    text = shown("x" * 10_000)
    assert len(text) <= MAX_SHOWN and text.endswith("… (10,002 characters)")
    assert shown(list(range(1000))).endswith("... (1,000 values)]")
    assert shorten("a\nb") == "a\\nb"  # one line, always
    err = input_error("f.toml", "train.lr", "x" * 5000, "must be a number")
    assert str(err).startswith("f.toml: train.lr = 'xxx") and len(str(err)) < 140


def _invoke(args, cwd: Path):
    import os

    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(main, args)
    finally:
        os.chdir(old)


USAGE = [
    (["run", "{cfg}", "--seeds", "0"], r"^error: --seeds = '0': 0 is not in the range x>=1$"),
    (["run", "{cfg}", "--seeds=abc"], r"^error: --seeds = 'abc': 'abc' is not a valid integer"),
    (["run", "{cfg}", "--rng", "nope"], r"^error: --rng = 'nope': 'nope' is not one of 'default', 'article'"),
    (["run", "{cfg}", "--engine", "bogus"], r"^error: --engine = 'bogus': unknown engine; known: .*numpy"),
    (["run", "{cfg}", "--bogus"], r"^error: --bogus: no such option \(`\w+ run --help` lists"),
    (["run"], r"^error: \w+ run: CONFIG is missing \(`\w+ run --help`"),
    (["sweep", "{cfg}", "--executor", "nope"], r"^error: --executor = 'nope': 'nope' is not one of"),
    (["theory", "critical"], r"^error: \w+ theory critical: --activation is missing"),
    (["nocommand"], r"^error: \w+: no such command 'nocommand'"),
    (["run", "{cfg}", "--max-memory", "lots"], r"^error: --max-memory = 'lots': a size such as 8G"),
    (["reproduce", "nope"], r"^error: PRESET = 'nope': not a built-in preset; known: .*sigmoid-vs-relu"),
]


@pytest.mark.parametrize("args, pattern", USAGE, ids=[" ".join(a[:3]) for a, _ in USAGE])
def test_usage_errors_are_one_line_in_the_project_format_exit_2(tmp_path, args, pattern):
    (tmp_path / "exp.toml").write_text(GOOD)
    args = [a.format(cfg=tmp_path / "exp.toml") for a in args]
    res = _invoke(args, tmp_path)
    assert res.exit_code == 2, res.output
    assert re.search(pattern, res.stderr.rstrip("\n")), res.stderr
    assert res.stderr.count("\n") == 1 and "Error:" not in res.stderr and "Usage:" not in res.stderr
    assert res.stdout == "" and sorted(p.name for p in tmp_path.iterdir()) == ["exp.toml"]


def test_the_real_entry_point_prints_no_blank_line_and_no_click_banner(tmp_path):
    (tmp_path / "exp.toml").write_text(GOOD)
    res = subprocess.run([sys.executable, "-m", "actscope", "run", "exp.toml", "--engine", "bogus"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.startswith("error: --engine = 'bogus': unknown engine") and res.stderr.count("\n") == 1
    ok = subprocess.run([sys.executable, "-m", "actscope", "--help"], capture_output=True, text=True,
                        timeout=120)
    assert ok.returncode == 0 and "Usage:" in ok.stdout


def test_paths_are_shown_as_text_not_as_python_objects(tmp_path):
    (tmp_path / "exp.toml").write_text(GOOD)
    (tmp_path / "myrun").mkdir()
    (tmp_path / "myrun" / "keep.txt").write_text("x")
    res = _invoke(["run", "exp.toml", "--out", "myrun", "--quiet"], tmp_path)
    assert res.exit_code == 2
    assert "PosixPath" not in res.stderr and "'myrun'" in res.stderr


def test_a_10000_character_formula_is_not_echoed_whole(tmp_path):
    formula = "f(x) = " + " + ".join(["x"] * 3000)
    (tmp_path / "exp.toml").write_text(GOOD.replace('activation = "relu"', f'activation = "{formula}"'))
    res = _invoke(["run", "exp.toml"], tmp_path)
    assert res.exit_code == 2 and res.stderr.count("\n") == 1
    assert len(res.stderr) < 400 and "characters" in res.stderr


CARETS = [("x ^ 2", 2), ("  x ^ 2", 4), ("x*x + 1 ^ x", 8), ("x / 0", 2), ("x * tanhh(x)", 4),
          ("exp(x) + foo", 9), ("x +* 2", 3), ("é * x ^ 2", 6), ("sigmoid(x) * y", 13)]


@pytest.mark.parametrize("text, col", CARETS)
def test_the_caret_points_at_the_offending_character(text, col):
    with pytest.raises(FormulaError) as info:
        parse_formula(text)
    m = re.search(r"column (\d+) \((.*)‸(.*)\):", str(info.value))
    assert m is not None, str(info.value)
    assert int(m.group(1)) == col + 1
    assert m.group(2) == text[:col] and m.group(3) == text[col:]


def test_an_inline_formula_is_shown_without_its_leading_space():
    with pytest.raises(Exception, match=r"formula 'x \^ 2', column 3 \(x ‸\^ 2\)"):
        parse_spec({"arms": [{"name": "a", "activation": "f(x) = x ^ 2"}]})


SWEEP = """
[sweep]
latency = false
[sweep.grid]
activation = ["relu", "tanh"]
[data]
n_samples = 60
[model]
hidden = [3]
[train]
epochs = 2
"""


def test_the_sweep_name_is_carried_into_every_resolved_config(tmp_path):
    from actscope.sweep import parse_sweep, plan_cells

    for data in (tomllib.loads('name = "mine"\n' + SWEEP),
                 tomllib.loads(SWEEP.replace("[sweep]\n", '[sweep]\nname = "mine"\n'))):
        sweep = parse_sweep(data)
        assert sweep.name == "mine" and tomllib.loads(sweep.to_toml())["name"] == "mine"
        assert {c["spec"]["name"] for c in plan_cells(sweep)} == {"mine"}
    clash = tomllib.loads('name = "other"\n' + SWEEP.replace("[sweep]\n", '[sweep]\nname = "mine"\n'))
    with pytest.raises(Exception, match=r"^sweep: name = 'other': differs from sweep.name = 'mine'"):
        parse_sweep(clash)
    with pytest.raises(Exception, match=r"sweep\.name = '\.\.': a name is"):
        parse_sweep(tomllib.loads(SWEEP.replace("[sweep]\n", '[sweep]\nname = ".."\n')))


@pytest.mark.parametrize("args", [["theory"], ["playground"]])
def test_a_group_without_its_command_prints_its_help_not_an_error_line(args):
    res = CliRunner().invoke(main, args, prog_name="actscope")
    assert res.exit_code == 2
    assert "Usage: actscope " + args[0] in res.output and "Commands:" in res.output
    assert "\\n" not in res.output and not res.output.startswith("error:")
