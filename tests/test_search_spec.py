"""The search file: every bad field refused in one line naming field, value and what is
allowed; the presets; the resolved TOML round trip; and `cell_spec`, the plain
``actscope run`` spec of one cell."""

from __future__ import annotations

import copy
import importlib.util
import re
import tomllib
from pathlib import Path

import pytest

from actscope.config import list_presets, load_spec
from actscope.config.overrides import load_spec_with
from actscope.errors import InputError
from actscope.search.spec import SearchSpec, Stage, cell_spec, is_search_file, load_search, parse_search
from tiny_specs import TINY_SEARCH

TINY = TINY_SEARCH


def tiny() -> dict:
    return tomllib.loads(TINY)


def _set(data: dict, path: str, value) -> dict:
    """A copy of ``data`` with the dotted ``path`` (list entries by index) set, or removed
    when ``value`` is ``DROP``."""
    out = copy.deepcopy(data)
    node = out
    parts = path.split(".")
    for p in parts[:-1]:
        node = node[int(p)] if isinstance(node, list) else node.setdefault(p, {})
    if value is DROP:
        del node[parts[-1]]
    else:
        node[parts[-1]] = value
    return out


DROP = object()

# (path, value, what the one line must say: field = value and a word of the rule)
BAD = [
    ("search.strategy", "grid", ["search.strategy = 'grid'", "exhaustive", "evolution", "random"]),
    ("search.max_size", 0, ["search.max_size = 0", "greater than or equal to 1"]),
    ("search.max_size", 2.5, ["search.max_size = 2.5", "integer"]),
    ("search.candidates", 0, ["search.candidates = 0", "greater than 0"]),
    ("search.candidates", "many", ["search.candidates = 'many'", "integer"]),
    ("search.references", ["relu", "swishy"], ["search.references[1] = 'swishy'", "known: ", "silu"]),
    ("search.references", [], ["search.references = []", "at least 1"]),
    ("search.references", ["relu", "relu"], ["search.references[1] = 'relu'", "each once"]),
    ("search.seed", -1, ["search.seed = -1", "greater than or equal to 0"]),
    ("search.population", 1, ["search.population = 1", "greater than or equal to 2"]),
    ("search.sample", 200, ["search.sample = 200", "at most 100"]),
    ("search.chunk", 0, ["search.chunk = 0", "greater than 0"]),
    ("search.name", "../up", ["search.name = '../up'", "a name is"]),
    ("search.tasks", [], ["search.tasks = []", "at least 1"]),
    ("search.tasks", ["moons", "spiral"], ["search.tasks[1] = 'spiral'", "no [tasks.spiral] table",
                                           "defined: moons, circles"]),
    ("search.tasks", ["moons", "moons"], ["search.tasks[1] = 'moons'", "each once"]),
    ("search.stages", [], ["search.stages = []", "at least 1"]),
    ("search.stages", DROP, ["missing required key 'search.stages'"]),
    ("tasks", {}, ["tasks = {}", "at least 1"]),
    ("search.stages.0.seeds", 0, ["search.stages[0].seeds = 0", "greater than 0"]),
    ("search.stages.1.epochs", 0, ["search.stages[1].epochs = 0", "greater than 0"]),
    ("search.stages.0.keep", 0, ["search.stages[0].keep = 0", "a fraction in (0, 1) or a whole count"]),
    ("search.stages.0.keep", 1.5, ["search.stages[0].keep = 1.5", "a fraction in (0, 1)"]),
    ("search.stages.0.keep", True, ["search.stages[0].keep = true", "a fraction in (0, 1)"]),
    ("search.stages.0.keep", DROP, ["search.stages[0].keep is missing", "every stage but the last"]),
    ("search.stages.1.keep", 0.5, ["search.stages[1].keep = 0.5", "last stage promotes nothing"]),
    ("search.stages.0.lr", 0.1, ["search.stages[0].lr = 0.1", "unknown key", "allowed: seeds, epochs, keep"]),
    ("search.budget", 3, ["search.budget = 3", "unknown key", "allowed: name"]),
    ("tasks.moons.val_size", 0.0, ["tasks.moons.val_size = 0.0", "tuned on validation"]),
    ("tasks.moons.noise", -1, ["tasks.moons.noise = -1", "greater than or equal to 0"]),
    ("tasks.moons.name", "nope", ["tasks.moons.name = 'nope'", "unknown dataset"]),
    ("tasks.moons", {"name": "digits", "val_size": 0.2}, ["tasks.moons.name = 'digits'", "10 classes",
                                                          "binary tasks only"]),
    ("tasks.moons", {"name": "blobs", "centers": 3, "val_size": 0.2},
     ["tasks.moons.name = 'blobs'", "3 classes", "binary"]),
    ("tasks.moons.n_samples", 3, ["tasks.moons.val_size = 0.2: leaves 1 of 3 rows for training"]),
    ("tasks.bad/name", {"name": "moons"}, ["tasks.bad/name", "a name is"]),
    ("model.hidden", [], ["model.hidden = []", "at least 1"]),
    ("model.hidden", [4, 0], ["model.hidden[1] = 0", "greater than 0"]),
    ("model.activation", "relu", ["model.activation = 'relu'", "unknown key", "allowed: hidden, init"]),
    ("model.init", "nope", ["model.init = 'nope'", "unknown init scheme"]),
    ("train.lr_grid", [], ["train.lr_grid = []", "at least 1"]),
    ("train.lr_grid", [0.1, -1], ["train.lr_grid[1] = -1", "greater than 0"]),
    ("train.lr_grid", [0.1, 0.1], ["train.lr_grid = [0.1, 0.1]", "each rate once"]),
    ("train.dtype", "float16", ["train.dtype = 'float16'", "float32", "float64"]),
    ("train.optimizer", "lion", ["train.optimizer = 'lion'", "unknown optimizer", "sgd"]),
    ("train.batch_size", 0, ["train.batch_size = 0", "greater than 0"]),
    ("train.momentum", 1.0, ["train.momentum = 1.0", "less than 1"]),
    ("train.epochs", 10, ["train.epochs = 10", "unknown key", "allowed: optimizer",
                                   "epochs per stage"]),
    ("arms", [], ["arms = []", "unknown key", "allowed: search, tasks, model, train"]),
]


@pytest.mark.parametrize(("path", "value", "says"), BAD, ids=[f"{p}={v!r}"[:40] for p, v, _ in BAD])
def test_a_bad_field_is_refused_in_one_line(path, value, says):
    with pytest.raises(InputError) as err:
        parse_search(_set(tiny(), path, value), source="s.toml")
    line = str(err.value)
    assert "\n" not in line and line.startswith("s.toml: ")
    for part in says:
        assert part in line, (part, line)


def test_the_tiny_spec_resolves_every_field():
    spec = parse_search(tiny(), source="s.toml")
    assert spec.strategy == "random" and spec.references == ("relu", "tanh")
    assert spec.stages == (Stage(seeds=2, epochs=3, keep=0.5), Stage(seeds=3, epochs=4, keep=None))
    assert list(spec.tasks) == ["moons", "circles"] and spec.tasks["circles"].factor == 0.5
    assert spec.hidden == (4,) and spec.lr_grid == (0.1, 0.5) and spec.dtype == "float32"


def test_keep_may_be_a_count():
    spec = parse_search(_set(tiny(), "search.stages.0.keep", 3))
    assert spec.stages[0].keep == 3


@pytest.mark.parametrize(("keep", "n", "promoted"), [
    (0.05, 2000, 100), (0.05, 10, 1), (0.25, 10, 3), (0.5, 1, 1), (3, 10, 3), (30, 10, 10), (None, 10, 0)])
def test_promoted_rounds_a_fraction_up_and_caps_a_count(keep, n, promoted):
    assert Stage(seeds=1, epochs=1, keep=keep).promoted(n) == promoted


def test_tasks_are_in_the_order_the_search_names_them():
    spec = parse_search(_set(tiny(), "search.tasks", ["circles", "moons"]))
    assert list(spec.tasks) == ["circles", "moons"]


def test_a_task_not_named_is_not_part_of_the_search():
    data = _set(tiny(), "tasks.spiral", {"name": "spiral", "val_size": 0.2})
    assert "spiral" not in parse_search(data).tasks
    every = parse_search(_set(data, "search.tasks", DROP))  # none named: every task, in file order
    assert list(every.tasks) == ["moons", "circles", "spiral"]


def test_a_file_without_a_search_table_is_refused_and_a_sweep_is_named():
    with pytest.raises(InputError, match=r"^x: not a search config: it has no \[search\] table$"):
        parse_search({"tasks": {}}, source="x")
    with pytest.raises(InputError, match="run it with `actscope sweep`"):
        parse_search({"sweep": {}}, source="x")
    assert is_search_file(tiny()) and not is_search_file({"sweep": {}})


@pytest.mark.parametrize("name", ["search-small", "search-large"])
def test_the_presets_load_and_round_trip(name):
    spec = load_search(name)
    assert spec.name == name.removeprefix("search-") and spec.stages[-1].keep is None  # runs/<name>
    assert parse_search(tomllib.loads(spec.to_toml())) == spec
    assert name in list_presets("search") and name not in list_presets() + list_presets("sweep")


@pytest.mark.parametrize("name", ["search-small", "search-large"])
def test_the_last_stage_has_seeds_enough_to_pass_holm(name):
    """Every candidate of the last stage is compared with every reference, Holm-corrected as
    one family: its seeds must let the most extreme result pass the first step."""
    from actscope.analysis.decisions import ALPHA, min_p, min_pairs

    spec = load_search(name)
    n = spec.candidates
    for stage in spec.stages[:-1]:
        n = stage.promoted(n)
    tests = n * len(spec.references)
    assert spec.stages[-1].seeds >= min_pairs(ALPHA, tests)
    assert min_p(spec.stages[-1].seeds) <= ALPHA / tests


def test_search_small_fits_the_issue():
    """2,000 candidates, three tasks, at least 5 seeds everywhere and at least 10 at the end,
    relu/silu/gelu/tanh, tuned rates."""
    spec = load_search("search-small")
    assert spec.strategy == "exhaustive" and spec.candidates >= 2000
    assert len(spec.tasks) == 3 and min(s.seeds for s in spec.stages) >= 5
    assert spec.stages[-1].seeds >= 10 and len(spec.lr_grid) >= 2
    assert {"relu", "silu", "gelu", "tanh"} <= set(spec.references)
    moons = spec.tasks["moons"]
    assert (moons.n_samples, moons.noise, moons.test_size, moons.standardize) == (400, 0.18, 0.25, "all")


def test_search_large_uses_evolution_on_a_larger_space():
    small, large = load_search("search-small"), load_search("search-large")
    assert large.strategy == "evolution" and large.max_size > small.max_size
    assert large.candidates > small.candidates and large.stages[-1].seeds > small.stages[-1].seeds


def test_to_toml_round_trips_every_field():
    spec = parse_search(tiny())
    again = parse_search(tomllib.loads(spec.to_toml()))
    assert again == spec and isinstance(again, SearchSpec)


def test_set_overrides_apply_before_validation():
    spec = load_search("search-small", ["search.candidates=10", "search.stages.0.epochs=7",
                                        "tasks.moons.n_samples=100"])
    assert spec.candidates == 10 and spec.stages[0].epochs == 7 and spec.tasks["moons"].n_samples == 100
    with pytest.raises(InputError, match=r"^--set = 'search.candidates=0': search.candidates = 0: "):
        load_search("search-small", ["search.candidates=0"])
    with pytest.raises(InputError, match="search has no field 'cands'"):
        load_search("search-small", ["search.cands=1"])


def test_a_csv_task_path_is_relative_to_the_search_file(tmp_path):
    (tmp_path / "d.csv").write_text("a,b,label\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(40)))
    text = TINY.replace('[tasks.circles]\nname = "circles"\nn_samples = 80',
                        '[tasks.circles]\nname = "csv"\npath = "d.csv"')
    (tmp_path / "s.toml").write_text(text)
    assert load_search(tmp_path / "s.toml").tasks["circles"].path == str(tmp_path / "d.csv")


def test_cell_spec_is_a_plain_fast_engine_run():
    spec = parse_search(tiny())
    exp = cell_spec(spec, "tanh", "circles", 0.5, seeds=3, epochs=4)
    assert exp.data == spec.tasks["circles"] and exp.model.hidden == [4]
    assert [a.activation for a in exp.arms] == ["tanh"] and exp.train.lr == 0.5
    t = exp.train
    assert (t.engine, t.dtype, t.epochs, t.eval_every) == ("fast", "float32", 4, 4)
    assert exp.seeds.as_list() == [0, 1, 2] and exp.probes.include == [] and not exp.report.enabled
    assert (exp.train.optimizer, exp.train.batch_size, exp.train.momentum) == ("sgd", 16, 0.9)


def test_cell_spec_with_a_formula_defines_the_activation(tmp_path):
    spec = parse_search(tiny())
    exp = cell_spec(spec, "cand_0123", "moons", 0.1, seeds=2, epochs=3, formula="x*tanh(x)",
                    family="smooth")
    assert exp.activations is not None and exp.activations["cand_0123"].formula == "x*tanh(x)"
    assert exp.arms[0].activation == "cand_0123"
    path = tmp_path / "cell.toml"
    path.write_text(exp.to_toml())
    assert load_spec(path) == exp


def test_cell_spec_toml_is_what_actscope_run_loads(tmp_path):
    spec = parse_search(tiny())
    exp = cell_spec(spec, "relu", "moons", 0.1, seeds=2, epochs=3)
    path = tmp_path / "cell.toml"
    path.write_text(exp.to_toml())
    assert load_spec_with(path) == exp


def test_cell_spec_refuses_an_unknown_task():
    with pytest.raises(InputError, match="task = 'spiral': not a task of the search; tasks: moons, circles"):
        cell_spec(parse_search(tiny()), "relu", "spiral", 0.1, seeds=2, epochs=3)


def test_an_experiment_loader_names_the_search_command(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(TINY)
    with pytest.raises(InputError, match="a search config .* run it with `actscope search`"):
        load_spec(path)


# the documentation: the spec reference and the design name every field of a search file ----

ROOT = Path(__file__).resolve().parents[1]


def _gen_ref():
    spec = importlib.util.spec_from_file_location("_gen_ref", ROOT / "docs" / "gen_ref.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_spec_reference_lists_every_search_field_with_its_default():
    from actscope.cli.spec_reference import SEARCH_SECTIONS, rows

    gen = _gen_ref()
    page = gen.spec_page()
    search_part = page[page.index("## The search format"):page.index("## Templates")]
    for _section, key, default, meaning in rows(SEARCH_SECTIONS):
        assert f"| `{key}` | {gen._default(default)} | {meaning.replace('|', '&#124;')} |" in search_part
    assert {s for s, _m in SEARCH_SECTIONS} == {"search", "[search.stages]", "search/model", "search/train"}
    assert "## `[[search.stages]]`" in search_part and "## `[train]` of a search file" in search_part


def test_the_design_names_every_search_field():
    from actscope.search.spec import SearchModel, SearchTable, SearchTrain, StageTable

    design = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    para = design[design.index("A search file (`actscope search`"):]
    para = para[:para.index("\n\n")]
    named = set(re.findall(r"`\[*([\w.]+)\]*`", para))
    missing = [f"{m.__name__}.{f}" for m in (SearchTable, StageTable, SearchModel, SearchTrain)
               for f in m.model_fields if f not in named]
    assert missing == []
