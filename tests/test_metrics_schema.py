"""metrics.json against its JSON Schema (experiment/metrics.schema.json, docs/design.md).

Real runs are written to disk by the pipeline and their metrics.json validated; corrupted
documents must fail. The schema allows keys to be added, so a further test checks that every
key a run writes is declared in the schema (and documented in docs/design.md).
"""

from __future__ import annotations

import copy
import json
from importlib.resources import files
from pathlib import Path

import pytest

from actscope.config import load_spec as load_preset
from actscope.config import parse_spec, with_overrides
from actscope.pipeline import run_experiment

jsonschema = pytest.importorskip("jsonschema")  # the dev extra

SCHEMA_FILE = files("actscope") / "experiment" / "metrics.schema.json"
DESIGN = Path(__file__).resolve().parents[1] / "docs" / "design.md"

_BASE = {"data": {"n_samples": 80}, "model": {"hidden": [4]}, "train": {"epochs": 3, "batch_size": 16},
         "seeds": {"count": 2}}
# small experiments (well under a second each) that together write every optional part
SPECS = {
    # binary, probes on, named points, a validation split, two arms compared
    "probes": {**_BASE, "name": "probes", "data": {"n_samples": 80, "val_size": 0.2},
               "model": {"hidden": [4, 3]},
               "arms": [{"name": "sigmoid", "activation": "sigmoid"}, {"name": "relu", "activation": "relu"}],
               "probes": {"points": [{"name": "far", "farthest_from": [-1.0, 0.0], "class": 0}], "every": 2}},
    # three classes (softmax, per-class metrics), lr = "tune", one seed (null intervals), one arm
    "multiclass-tuned": {**_BASE, "name": "multiclass-tuned", "data": {"name": "blobs", "n_samples": 90,
                                                                      "val_size": 0.2},
                         "train": {"epochs": 3, "batch_size": 16, "lr": "tune", "lr_grid": [0.01, 0.1]},
                         "seeds": {"count": 1}, "arms": [{"name": "tanh", "activation": "tanh"}],
                         "probes": {"include": ["signal"]}},
    # members that diverge (null metrics, diverged_epoch), probes off (probes: null, no timing)
    "diverged": {**_BASE, "name": "diverged", "model": {"hidden": [16, 16, 16]}, "seeds": {"count": 3},
                 "train": {"epochs": 20, "batch_size": 16, "lr": 50.0, "optimizer": "momentum"},
                 "arms": [{"name": "relu", "activation": "relu"},
                          {"name": "identity", "activation": "identity"}],
                 "probes": {"include": []}},
}


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def validator(schema):
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture(scope="module")
def documents(tmp_path_factory) -> dict[str, dict]:
    """metrics.json of each small run, as written to its run directory."""
    out = {}
    for name, data in SPECS.items():
        path = tmp_path_factory.mktemp("runs") / name
        run_experiment(parse_spec(data), out=path, report=False)
        out[name] = json.loads((path / "metrics.json").read_text())
    return out


def _errors(validator, doc) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


def test_the_schema_is_a_valid_draft_2020_12_schema_shipped_in_the_package(schema):
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert SCHEMA_FILE.is_file()


@pytest.mark.parametrize("name", sorted(SPECS))
def test_real_runs_validate(validator, documents, name):
    assert _errors(validator, documents[name]) == []


def test_the_small_runs_cover_the_optional_parts(documents):
    """What the SPECS are for: each optional part of the schema is exercised by a real run."""
    probes, tuned, diverged = documents["probes"], documents["multiclass-tuned"], documents["diverged"]
    assert probes["probes"] is not None and probes["comparisons"] and "timing" in probes
    assert probes["points"] and all(m["signal_trace"] for m in probes["arms"]["relu"]["members"])
    assert "val_accuracy" in probes["arms"]["relu"]["members"][0]
    arm = tuned["arms"]["tanh"]
    assert arm["n_classes"] == 3 and "lr_tuning" in arm and arm["summary"]["test_accuracy"]["ci95"] is None
    assert diverged["probes"] is None and "timing" not in diverged
    assert all(c["decision"] == "too_few" for c in probes["comparisons"])  # two seeds
    assert probes["statistics"]["warning"] and tuned["statistics"]["warning"] is None  # one arm
    members = [m for a in diverged["arms"].values() for m in a["members"]]
    assert any(m["diverged"] for m in members) and any(not m["diverged"] for m in members)


def test_a_preset_run_validates(validator, tmp_path):
    """The second article's preset as shipped (two seeds instead of five, a few seconds)."""
    spec = with_overrides(load_preset("with-vs-without"), seeds=2)
    run_experiment(spec, out=tmp_path / "run", report=False)
    assert _errors(validator, json.loads((tmp_path / "run" / "metrics.json").read_text())) == []


def _declared(schema: dict, ref: str | None = None) -> set[str]:
    node = schema if ref is None else schema["$defs"][ref]
    return set(node["properties"])


def test_every_key_a_run_writes_is_declared_in_the_schema_and_the_design(schema, documents):
    top, arm, member = _declared(schema), _declared(schema, "arm"), _declared(schema, "member")
    design = DESIGN.read_text(encoding="utf-8")
    for doc in documents.values():
        assert set(doc) <= top, set(doc) - top
        for a in doc["arms"].values():
            assert set(a) <= arm, set(a) - arm
            for m in a["members"]:
                assert set(m) <= member, set(m) - member
    undocumented = sorted(k for k in top | arm | member if f"`{k}`" not in design)
    assert undocumented == [], "keys of the schema that docs/design.md does not name"


def _corruptions(doc: dict):
    """(label, corrupted copy) pairs of a valid document, each breaking one rule."""

    def edit(label, fn):
        d = copy.deepcopy(doc)
        fn(d)
        return label, d

    arm = next(iter(doc["arms"]))
    yield edit("no arms", lambda d: d.pop("arms"))
    yield edit("no arm at all", lambda d: d.update(arms={}))
    yield edit("accuracy above 1", lambda d: d["arms"][arm]["members"][0].update(test_accuracy=1.5))
    yield edit("accuracy as text", lambda d: d["arms"][arm]["members"][0].update(test_accuracy="0.9"))
    yield edit("member without seed", lambda d: d["arms"][arm]["members"][0].pop("seed"))
    yield edit("diverged member with a loss", lambda d: d["arms"][arm]["members"][0].update(
        diverged=True, diverged_epoch=3))
    yield edit("diverged_epoch on a healthy member", lambda d: d["arms"][arm]["members"][0].update(
        diverged_epoch=2))
    yield edit("summary without test_accuracy", lambda d: d["arms"][arm]["summary"].pop("test_accuracy"))
    yield edit("interval of three numbers", lambda d: d["arms"][arm]["summary"]["test_accuracy"].update(
        ci95=[0.1, 0.2, 0.3]))
    yield edit("negative std", lambda d: d["arms"][arm]["summary"]["test_accuracy"].update(std=-1.0))
    yield edit("bad arm name", lambda d: d["arms"].update({"no spaces allowed": d["arms"][arm]}))
    yield edit("unknown dtype", lambda d: d["engine"].update(dtype="float16"))
    yield edit("no engine", lambda d: d.pop("engine"))
    yield edit("comparison without verdict", lambda d: d["comparisons"][0].pop("verdict"))
    yield edit("p above 1", lambda d: d["comparisons"][0].update(p=2.0))
    yield edit("a '>' whose Holm p is above alpha", lambda d: d["comparisons"][0].update(
        decision="greater", p=0.01, p_adjusted=0.2, ci95=[0.1, 0.2]))
    yield edit("a '>' whose interval holds 0", lambda d: d["comparisons"][0].update(
        decision="greater", p=0.01, p_adjusted=0.01, ci95=[-0.1, 0.2]))
    yield edit("a '<' without an interval", lambda d: d["comparisons"][0].update(
        decision="less", p=0.01, p_adjusted=0.01, ci95=None))
    yield edit("equivalent without TOST", lambda d: d["comparisons"][0].update(
        decision="equivalent", p_equivalence_adjusted=0.3))
    yield edit("unknown decision", lambda d: d["comparisons"][0].update(decision="maybe"))
    yield edit("comparison without decision", lambda d: d["comparisons"][0].pop("decision"))
    yield edit("negative excluded count", lambda d: d["arms"][arm]["summary"]["test_accuracy"].update(
        n_excluded=-1))
    yield edit("unknown correction", lambda d: d["statistics"].update(correction="none"))
    yield edit("unknown probe", lambda d: d["probes"].update(include=["signal", "telepathy"]))
    yield edit("probe value as text", lambda d: d["arms"][arm]["members"][0]["probes"].update(x="high"))
    yield edit("stage name", lambda d: d["stages"].append("h3"))
    yield edit("interrupted as text", lambda d: d.update(interrupted="no"))


def test_corrupted_documents_fail(validator, documents):
    doc = documents["probes"]
    assert _errors(validator, doc) == []
    passed = [label for label, bad in _corruptions(doc) if not _errors(validator, bad)]
    assert passed == [], "corruptions the schema let through"
