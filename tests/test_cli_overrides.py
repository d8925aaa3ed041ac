"""``--set section.field=value``: any spec field from the command line, checked as the file's
own values are; an unknown field or a bad value is one line naming the ``--set``, exit 2,
nothing written."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from actscope.cli import main
from actscope.config import TrainSpec
from actscope.config.overrides import apply_sets, load_spec_with, parse_value, split_set
from actscope.errors import InputError
from tiny_specs import TINY_SWEEP, TINY_TWO_ARMS

GOOD = TINY_TWO_ARMS

SWEEP = TINY_SWEEP


def _file(tmp_path: Path, text: str = GOOD, name: str = "exp.toml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("text, value", [
    ("0.1", 0.1), ("[16, 16]", [16, 16]), ('"tanh"', "tanh"), ("tanh", "tanh"), ("true", True),
    ("3", 3), ('{name = "a", activation = "relu"}', {"name": "a", "activation": "relu"}),
])
def test_values_are_toml_literals_and_a_bare_word_is_a_string(text, value):
    got = parse_value(text)
    assert got == value and type(got) is type(value)


def test_the_spec_gets_every_set_and_keeps_the_rest(tmp_path):
    spec = load_spec_with(_file(tmp_path), ["train.lr=0.25", "model.hidden=[16,16]",
                                            'arms.1.activation="sigmoid"', "data.noise=0.3"])
    assert spec.train.lr == 0.25 and spec.model.hidden == [16, 16] and spec.data.noise == 0.3
    assert [a.activation for a in spec.arms] == ["relu", "sigmoid"]
    assert spec.train.epochs == 2 and spec.data.n_samples == 80  # untouched fields as in the file


def test_a_later_set_wins_and_the_input_is_not_changed():
    data = tomllib.loads(GOOD)
    out = apply_sets(data, ["train.epochs=5", "train.epochs=7"])
    assert out["train"]["epochs"] == 7 and data["train"]["epochs"] == 2


def test_a_table_the_file_leaves_out_is_made():
    out = apply_sets(tomllib.loads(GOOD), ["seeds.count=4"])
    assert out["seeds"] == {"count": 4}


@pytest.mark.parametrize("sets, message", [
    (["train.lrr=1"], "--set = 'train.lrr=1': train has no field 'lrr'; it has: batch_size, "),
    (["trian.lr=1"], "--set = 'trian.lr=1': the spec has no field 'trian'; it has: activations, arms, "),
    (["model.hidden.x=1"], "--set = 'model.hidden.x=1': model.hidden is a value, not a table: set it whole"),
    (["train.lr=-1"], "--set = 'train.lr=-1': train.lr = -1: Input should be greater than 0"),
    (["arms.5.activation=relu"], "--set = 'arms.5.activation=relu': arms has 2 entries (0 to 1)"),
    (["arms.activation=relu"], "--set = 'arms.activation=relu': arms is a list of tables: name one"),
    (["arms.0.colour=red"], "--set = 'arms.0.colour=red': arms.0 has no field 'colour'; it has: "),
    (["train.lr"], "--set = 'train.lr': write section.field=value"),
    (["=1"], "--set = '=1': write section.field=value"),
])
def test_a_bad_set_is_one_line_naming_it(tmp_path, sets, message):
    with pytest.raises(InputError) as err:
        load_spec_with(_file(tmp_path), sets)
    line = str(err.value)
    assert "\n" not in line and line.startswith(message), line


def test_the_allowed_fields_are_listed_in_full(tmp_path):
    with pytest.raises(InputError) as err:
        load_spec_with(_file(tmp_path), ["train.nope=1"])
    listed = str(err.value).split("it has: ")[1].split(", ")
    assert listed == sorted(TrainSpec.model_fields)


def test_a_table_of_any_keys_takes_paths_below_it(tmp_path):
    spec = load_spec_with(_file(tmp_path), ['activations.sq.formula="x * x / (1 + x * x)"',
                                            'arms.1.activation="sq"'])
    assert spec.arms[1].activation == "sq" and "sq" in spec.activations


def test_a_bad_value_below_a_set_table_names_that_set(tmp_path):
    with pytest.raises(InputError) as err:
        load_spec_with(_file(tmp_path), ['activations.sq.formula="x +* 2"'])
    assert str(err.value).startswith("--set = 'activations.sq.formula=\"x +* 2\"': activations.sq")


def test_an_error_in_the_file_itself_still_names_the_file(tmp_path):
    cfg = _file(tmp_path, GOOD.replace("epochs = 2", "epochs = 0"))
    with pytest.raises(InputError) as err:
        load_spec_with(cfg, ["train.lr=0.5"])
    assert str(err.value).startswith(f"{cfg}: train.epochs = 0: ")


def test_split_set_keeps_equals_signs_in_the_value():
    assert split_set('activations.a.formula="f(x) = x"') == (["activations", "a", "formula"], "f(x) = x")


def test_run_refuses_a_bad_set_before_any_work(tmp_path):
    cfg = _file(tmp_path)
    out = tmp_path / "r"
    res = CliRunner().invoke(main, ["run", str(cfg), "--out", str(out), "--set", "train.lrr=0.1"])
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines() == [
        "error: --set = 'train.lrr=0.1': train has no field 'lrr'; it has: "
        + ", ".join(sorted(TrainSpec.model_fields))]
    assert not out.exists() and res.stdout == ""


def test_run_trains_with_the_set_values(tmp_path):
    out = tmp_path / "r"
    res = CliRunner().invoke(main, ["run", str(_file(tmp_path)), "--out", str(out), "--no-report",
                                    "--quiet", "--set", "train.epochs=3", "--set", "model.hidden=[5,3]",
                                    "--set", "arms.1.activation=sigmoid"])
    assert res.exit_code == 0, res.output
    resolved = tomllib.loads((out / "config.toml").read_text())
    assert resolved["train"]["epochs"] == 3 and resolved["model"]["hidden"] == [5, 3]
    assert resolved["arms"][1]["activation"] == "sigmoid"
    assert res.stdout.strip().splitlines()[-1] == str(out)


def test_the_shortcuts_still_apply_after_the_sets(tmp_path):
    spec_out = tmp_path / "r"
    res = CliRunner().invoke(main, ["run", str(_file(tmp_path)), "--out", str(spec_out), "--no-report",
                                    "--quiet", "--set", "seeds.count=3", "--seeds", "2"])
    assert res.exit_code == 0, res.output
    assert tomllib.loads((spec_out / "config.toml").read_text())["seeds"]["count"] == 2


def test_reproduce_takes_sets_and_refuses_a_bad_one(tmp_path):
    out = tmp_path / "r"
    res = CliRunner().invoke(main, ["reproduce", "sigmoid-vs-relu", "--out", str(out),
                                    "--set", "train.epochs=0"])
    assert res.exit_code == 2 and not out.exists()
    assert res.stderr.strip() == ("error: --set = 'train.epochs=0': train.epochs = 0: "
                                  "Input should be greater than 0")


def test_sweep_sets_its_own_table_and_the_base_experiment(tmp_path):
    cfg = _file(tmp_path, SWEEP, "sweep.toml")
    out = tmp_path / "s"
    res = CliRunner().invoke(main, ["sweep", str(cfg), "--out", str(out), "--no-report", "--quiet",
                                    "--set", "sweep.target_accuracy=0.6", "--set", "train.epochs=1"])
    assert res.exit_code == 0, res.output
    resolved = tomllib.loads((out / "sweep.toml").read_text())
    assert resolved["sweep"]["target_accuracy"] == 0.6 and resolved["train"]["epochs"] == 1


def test_sweep_refuses_an_unknown_sweep_field(tmp_path):
    cfg = _file(tmp_path, SWEEP, "sweep.toml")
    out = tmp_path / "s"
    res = CliRunner().invoke(main, ["sweep", str(cfg), "--out", str(out), "--set", "sweep.targett=0.6"])
    assert res.exit_code == 2 and not out.exists()
    assert res.stderr.startswith("error: --set = 'sweep.targett=0.6': sweep has no field 'targett'; "
                                 "it has: ")
