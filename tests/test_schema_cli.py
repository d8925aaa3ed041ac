"""`actscope schema`, `actscope init` and unknown keys that list the allowed ones (issue 17)."""

from __future__ import annotations

import json
import tomllib

import pytest
from click.testing import CliRunner

from actscope.cli import main
from actscope.cli.schema import TEMPLATE_GRID, template
from actscope.cli.spec_reference import MEANINGS, SECTIONS, rows
from actscope.config import (
    ArmSpec,
    CustomActivationSpec,
    DataSpec,
    ExperimentSpec,
    ModelSpec,
    PointSpec,
    ProbesSpec,
    ReportSpec,
    SeedsSpec,
    TrainSpec,
    load_spec,
    parse_spec,
)
from actscope.errors import InputError
from actscope.sweep import SweepTable, load_sweep, parse_sweep

MODELS = [ExperimentSpec, CustomActivationSpec, DataSpec, ModelSpec, TrainSpec, ArmSpec, SeedsSpec,
          ProbesSpec, PointSpec, ReportSpec, SweepTable]
ARM = {"name": "relu", "activation": "relu"}


def _keys(model) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def _invoke(args):
    return CliRunner().invoke(main, args)


def _schema(kind: str) -> dict:
    result = _invoke(["schema", kind])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# the reference table ----------------------------------------------------------------------

def test_every_field_of_every_spec_model_has_a_meaning():
    assert sorted(m.__name__ for _s, m in SECTIONS) == sorted(m.__name__ for m in MODELS)
    listed = {(s, k) for s, k, _d, _m in rows()}
    for section, model in SECTIONS:
        assert {(section, k) for k in _keys(model)} <= listed


def test_a_field_without_a_meaning_fails_the_reference(monkeypatch):
    monkeypatch.delitem(MEANINGS, "train.lr")
    with pytest.raises(KeyError, match=r"TrainSpec\.lr has no meaning"):
        rows()


# actscope schema --------------------------------------------------------------------------

def test_schema_describes_every_property_and_forbids_unknown_keys():
    schema = _schema("experiment")
    assert schema["title"] == "ExperimentSpec" and schema["required"] == ["arms"]
    train = schema["$defs"]["TrainSpec"]
    assert train["additionalProperties"] is False
    assert train["properties"]["lr"]["description"] == MEANINGS["train.lr"]
    assert train["properties"]["epochs"]["default"] == 800
    for name, sub in [("(top level)", schema), *schema["$defs"].items()]:
        missing = [k for k, p in sub.get("properties", {}).items() if "description" not in p]
        assert missing == [], name


def test_the_templates_are_valid_against_the_schema_and_bad_ones_are_not():
    jsonschema = pytest.importorskip("jsonschema")
    for kind, sweep in (("experiment", False), ("sweep", True)):
        validator = jsonschema.Draft202012Validator(_schema(kind))
        data = tomllib.loads(template(sweep))
        assert list(validator.iter_errors(data)) == []
        bad = {**data, "train": {**data["train"], "epochs": "3"}}
        assert [e.json_path for e in validator.iter_errors(bad)] == ["$.train.epochs"]
        unknown = {**data, "train": {**data["train"], "epoks": 3}}
        assert "epoks" in next(validator.iter_errors(unknown)).message


def test_the_sweep_schema_adds_the_sweep_table_and_makes_arms_optional():
    schema = _schema("sweep")
    assert schema["required"] == ["sweep"]
    grid = schema["$defs"]["SweepTable"]["properties"]["grid"]
    assert grid["description"] == MEANINGS["sweep.grid"]
    assert [k for k, p in schema["properties"].items() if "description" not in p] == []


def test_schema_refuses_an_unknown_kind_in_one_line():
    result = _invoke(["schema", "experimnet"])
    assert result.exit_code == 2
    assert "experiment" in result.output and "sweep" in result.output


# actscope init ----------------------------------------------------------------------------

def test_init_writes_a_template_that_runs_as_the_defaults(tmp_path):
    path = tmp_path / "exp.toml"
    result = _invoke(["init", str(path)])
    assert result.exit_code == 0 and result.stdout.strip().splitlines()[-1] == str(path)
    spec = load_spec(path)
    expected = ExperimentSpec(arms=[ARM, {"name": "tanh", "activation": "tanh"}])
    assert spec.model_dump() == expected.model_dump()
    text = path.read_text(encoding="utf-8")
    written = {"", "data", "model", "train", "[arms]", "seeds", "probes", "report"}
    tables = {"activations", "data", "model", "train", "arms", "seeds", "probes", "report", "points"}
    for section, key, _default, meaning in rows():  # every field is there, with its meaning
        if section in written and key not in tables:
            assert f"# {meaning}" in text, (section, key)


def test_init_sweep_writes_a_sweep_with_its_grid(tmp_path):
    path = tmp_path / "grid.toml"
    assert _invoke(["init", "--sweep", str(path)]).exit_code == 0
    sweep = load_sweep(path)
    assert dict(sweep.axes) == {**TEMPLATE_GRID, "activation": ["relu", "tanh"]}
    assert sweep.table.model_dump() == SweepTable(grid=sweep.table.grid).model_dump()
    assert "[[arms]]" not in path.read_text(encoding="utf-8")


def test_init_never_overwrites(tmp_path):
    path = tmp_path / "exp.toml"
    path.write_text("mine\n", encoding="utf-8")
    result = _invoke(["init", str(path)])
    assert result.exit_code == 2
    assert result.output.strip() == (f"error: FILE = {str(path)!r}: it exists; give a new path "
                                     "(init never overwrites)")
    assert path.read_text(encoding="utf-8") == "mine\n"


def test_init_into_a_missing_folder_is_refused_and_writes_nothing(tmp_path):
    path = tmp_path / "nope" / "exp.toml"
    result = _invoke(["init", str(path)])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert "does not exist" in result.output and not (tmp_path / "nope").exists()


def test_init_defaults_to_experiment_toml_in_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert _invoke(["init"]).exit_code == 0 and _invoke(["init", "--sweep"]).exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["experiment.toml", "sweep.toml"]


# unknown keys -----------------------------------------------------------------------------

@pytest.mark.parametrize("where, data, model", [
    ("colour", {"colour": 1, "arms": [ARM]}, ExperimentSpec),
    ("data.colour", {"data": {"colour": 1}, "arms": [ARM]}, DataSpec),
    ("train.epoks", {"train": {"epoks": 1}, "arms": [ARM]}, TrainSpec),
    ("arms[1].colour", {"arms": [ARM, {"name": "b", "activation": "tanh", "colour": 1}]}, ArmSpec),
    ("probes.points[0].colour", {"probes": {"points": [{"name": "p", "x": [0, 0], "colour": 1}]},
                                 "arms": [ARM]}, PointSpec),
    ("activations.sq.colour", {"activations": {"sq": {"formula": "x*x", "colour": 1}}, "arms": [ARM]},
     CustomActivationSpec),
])
def test_an_unknown_key_lists_the_keys_its_table_allows(where, data, model):
    with pytest.raises(InputError) as err:
        parse_spec(data, source="f.toml")
    assert str(err.value) == f"f.toml: {where} = 1: unknown key; allowed: {', '.join(_keys(model))}"


def test_the_natural_guess_at_a_sweep_axis_names_the_grid():
    with pytest.raises(InputError) as err:
        parse_sweep({"sweep": {"model.width": [4, 8]}, "arms": [ARM]}, source="s.toml")
    message = str(err.value)
    assert message.startswith("s.toml: sweep.model.width = [4, 8]: unknown key; allowed: ")
    assert message.split("allowed: ")[1].split(", ") == _keys(SweepTable)


@pytest.mark.parametrize("value", [0.05, 1e-08, "tab\there", 'say "hi"', True, [8, 8], (0.9, 0.999),
                                   {}, {"model.width": [4, 8], "train": {"lr": [0.1]}}])
def test_a_default_is_written_as_toml_that_reads_back_the_same(value):
    from actscope.cli.schema import toml_value

    read = tomllib.loads(f"v = {toml_value(value)}")["v"]
    assert read == (list(value) if isinstance(value, tuple) else value)
    assert "\n" not in toml_value(value)
