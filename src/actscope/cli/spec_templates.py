"""What `actscope schema` and `actscope init` print: the JSON Schema of an experiment or a
sweep file, and an annotated TOML template (every field with its default and meaning).
Kept apart from the commands so that `actscope --help` loads neither pydantic nor numpy."""

from __future__ import annotations

import json
from typing import Any

import tomli_w
from pydantic import BaseModel, create_model

from actscope.cli.spec_reference import MEANINGS, SECTIONS, default_of, is_required
from actscope.config import DATA_FIELDS, ArmSpec, ExperimentSpec
from actscope.sweep import SweepTable

# commented-out example values of fields that are off (None) by default
EXAMPLES: dict[str, Any] = {
    "train.lr_grid": [0.01, 0.03, 0.1, 0.3], "seeds.values": [0, 1, 2], "[arms].init": "xavier",
    "[arms].lr": 0.1, "sweep.shared_lr": 0.05, "sweep.reference": "relu", "sweep.focus": [8, 8],
}
# what the template's [[arms]] and [sweep.grid] hold
TEMPLATE_ARMS = [{"name": "relu", "activation": "relu"}, {"name": "tanh", "activation": "tanh"}]
TEMPLATE_GRID = {"model.depth": [1, 2], "model.width": [4, 8]}
# fields that are tables of their own, written apart
TABLES = {"": {"activations", "data", "model", "train", "arms", "seeds", "probes", "report"},
          "probes": {"points"}, "sweep": {"grid"}}


def spec_model(kind: str) -> type[BaseModel]:
    """The model whose JSON Schema `actscope schema KIND` prints."""
    if kind == "experiment":
        return ExperimentSpec
    return create_model("SweepSpec", __base__=ExperimentSpec, __doc__="A sweep file: an experiment "
                        "spec plus a [sweep] table (no [[arms]] when the grid sweeps `activation`).",
                        arms=(list[ArmSpec] | None, None), sweep=(SweepTable, ...))


def json_schema(kind: str) -> dict:
    """The JSON Schema of a spec, every property described (`spec_reference.MEANINGS`)."""
    schema = spec_model(kind).model_json_schema(by_alias=True)
    tables = {model.__name__: section for section, model in SECTIONS}
    for name, sub in [(schema.get("title"), schema), *schema.get("$defs", {}).items()]:
        section = "" if name in ("ExperimentSpec", "SweepSpec") else tables.get(name)
        for key, prop in sub.get("properties", {}).items():
            meaning = MEANINGS.get(f"{section}.{key}")
            if section is not None and meaning:
                prop["description"] = meaning
    return schema


def toml_value(value: Any) -> str:
    """A value as TOML writes it, on one line (``[8, 8]``, ``"relu"``, ``0.05``)."""
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):  # an inline table
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    return tomli_w.dumps({"v": value}).strip().removeprefix("v = ")


def _line(key: str, value: Any, meaning: str, off: bool = False) -> str:
    head = f"{'# ' if off else ''}{json.dumps(key) if '.' in key else key} = {toml_value(value)}"
    return f"{head:<29} # {meaning}"


def _table_lines(section: str, model: type[BaseModel], values: dict | None = None) -> list[str]:
    """One line per field of ``model`` that is not a table of its own: its value (the default
    unless ``values`` gives one) and its meaning. A field off by default, or one dataset's own
    field, is commented out, with its dataset's default or an example value."""
    lines = []
    for name, info in model.model_fields.items():
        key = info.alias or name
        if key in TABLES.get(section, ()):
            continue
        meaning = MEANINGS[f"{section}.{key}"]
        value = (values or {}).get(key, default_of(section, name, info))
        if section == "data" and key in DATA_FIELDS:
            lines.append(_line(key, "data.csv" if value is None else value, meaning, off=True))
        elif value is None or is_required(value):
            if f"{section}.{key}" in EXAMPLES:
                lines.append(_line(key, EXAMPLES[f"{section}.{key}"], meaning, off=True))
        else:
            lines.append(_line(key, value, meaning))
    return lines


def template(sweep: bool = False) -> str:
    """An annotated TOML file: every field with its default and meaning, valid as it is."""
    kind = "sweep" if sweep else "experiment"
    out = [f"# An actscope {kind}: `actscope {'sweep' if sweep else 'run'} FILE`. Every field is shown "
           "with its default;", "# a line starting with `#` is off. `actscope schema` prints the "
           "JSON Schema.", ""]
    models = dict(SECTIONS)
    out += _table_lines("", ExperimentSpec, {"name": kind})
    out += ["", "# [activations.mish2]        # an activation of your own, usable by name below",
            '# formula = "x * tanh(log(1 + exp(x)))"', ""]
    for section in ("data", "model", "train"):
        out += [f"[{section}]", *_table_lines(section, models[section]), ""]
    if not sweep:
        for arm in TEMPLATE_ARMS:
            out += ["[[arms]]", *_table_lines("[arms]", models["[arms]"], arm), ""]
    out += ["[seeds]", *_table_lines("seeds", models["seeds"]), ""]
    if not sweep:  # a sweep records accuracies only, unless it has a [probes] table
        out += ["[probes]", *_table_lines("probes", models["probes"]), "",
                "# [[probes.points]]            # a named point of the signal trace", '# name = "far"',
                "# farthest_from = [-1.2, -0.3]", "# class = 0", ""]
    out += ["[report]", *_table_lines("report", models["report"]), ""]
    if sweep:
        out += ["[sweep]", *_table_lines("sweep", SweepTable, {"name": kind}), "",
                "[sweep.grid]                  # axes: a spec field -> its values; one cell per "
                "combination, one arm per activation",
                *(_line(k, v, "an axis") for k, v in TEMPLATE_GRID.items()),
                _line("activation", ["relu", "tanh"], "one arm per activation"), ""]
    return "\n".join(out)
