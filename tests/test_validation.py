"""Everything a spec can be checked for is checked before any work: each bad spec is one
line naming its field, exit status 2, and nothing written (issue 16 item 1, issue 20 item 3)."""

from __future__ import annotations

import math
import os
import re
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import tomli_w
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actscope.cli import main
from actscope.config import parse_spec
from actscope.config.against_data import check_splits, check_with_data
from actscope.config.validation import MAX_NAME, MAX_SEED
from actscope.data import Dataset
from actscope.errors import InputError

BASE = {"name": "tiny", "data": {"n_samples": 80}, "model": {"hidden": [4]},
        "train": {"epochs": 2, "batch_size": 16}, "arms": [{"name": "relu", "activation": "relu"}]}


def _spec(path: str, value) -> dict:
    """BASE with the field at dotted ``path`` (``arms.0.name``) set to ``value``."""
    import copy

    d = copy.deepcopy(BASE)
    *head, last = path.split(".")
    node = d
    for key in head:
        node = node[int(key)] if key.isdigit() else node.setdefault(key, {})
    node[int(last) if last.isdigit() else last] = value
    return d


def _field_text(path: str) -> str:
    """How a message names the field at ``path``: ``arms[0].name``."""
    return ".".join(f"[{p}]" if p.isdigit() else p for p in path.split(".")).replace(".[", "[")


def _run_cli(tmp: Path, spec: dict, *options: str):
    """``actscope run`` on ``spec`` written as TOML in ``tmp``, in-process."""
    cfg = tmp / "exp.toml"
    cfg.write_text(tomli_w.dumps(spec))
    old = os.getcwd()
    os.chdir(tmp)
    try:
        return CliRunner().invoke(main, ["run", str(cfg), "--quiet", "--no-report", *options])
    finally:
        os.chdir(old)


BAD_NAMES = st.one_of(
    st.sampled_from([".", "..", ".hidden", "a/b", "../up", "a\x00b", "", "x" * (MAX_NAME + 1), "x" * 300,
                     "with space", "ünïcode"]),
    st.text(min_size=1, max_size=8).filter(lambda s: s.startswith(".") or "/" in s or "\x00" in s),
)
NOT_FINITE = st.sampled_from([math.inf, -math.inf, math.nan])
NOT_POSITIVE = st.one_of(st.integers(max_value=0), st.floats(max_value=0, allow_nan=False))
NOT_AN_INT = st.one_of(st.booleans(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=4))
OUT_OF_RANGE = st.one_of(
    st.tuples(st.just("name"), BAD_NAMES),
    st.tuples(st.just("arms.0.name"), BAD_NAMES),
    st.tuples(st.just("train.lr"), st.one_of(NOT_FINITE, NOT_POSITIVE, st.booleans(), st.just("0.1"))),
    st.tuples(st.just("train.lr_grid"), st.lists(st.floats(0.001, 1), max_size=3).flatmap(
        lambda g: st.permutations(g + [math.inf]))),
    st.tuples(st.just("train.epochs"), st.one_of(NOT_AN_INT, st.integers(max_value=0))),
    st.tuples(st.just("train.batch_size"), st.one_of(NOT_AN_INT, st.integers(max_value=0))),
    st.tuples(st.just("train.shuffle"), st.one_of(st.integers(), st.sampled_from(["yes", "true"]))),
    st.tuples(st.just("train.momentum"), st.one_of(NOT_FINITE, st.floats(1, 1e9), st.booleans())),
    st.tuples(st.just("data.n_samples"), st.one_of(NOT_AN_INT, st.integers(max_value=0))),
    st.tuples(st.just("data.noise"), st.one_of(NOT_FINITE, st.floats(max_value=-1e-9))),
    st.tuples(st.just("data.val_size"), st.one_of(NOT_FINITE, st.floats(1, 10), st.floats(max_value=-1e-9))),
    st.tuples(st.just("model.hidden"), st.lists(st.integers(max_value=0), min_size=1, max_size=3)),
    st.tuples(st.just("seeds.start"),
              st.one_of(st.integers(max_value=-1), st.integers(min_value=MAX_SEED + 1), st.booleans())),
    st.tuples(st.just("seeds.values"), st.lists(st.integers(0, 50), min_size=1, max_size=5).map(
        lambda v: v + [v[0]])),
    st.tuples(st.just("seeds.values"), st.lists(st.integers(-50, -1), min_size=1, max_size=3)),
    st.tuples(st.just("report.dpi"), st.one_of(st.booleans(), st.floats(30, 600), st.integers(max_value=29))),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=OUT_OF_RANGE)
def test_every_out_of_range_spec_is_one_line_naming_its_field_exit_2_and_nothing_written(
        tmp_path_factory, case):
    path, value = case
    tmp = tmp_path_factory.mktemp("bad")
    res = _run_cli(tmp, _spec(path, value))
    assert res.exit_code == 2, (case, res.output)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), (case, res.stderr)
    assert re.search(rf"{re.escape(_field_text(path))}(\[\d+\])? = ", lines[0]), (case, lines[0])
    assert len(lines[0]) < 600 and "Traceback" not in res.stderr
    assert sorted(p.name for p in tmp.iterdir()) == ["exp.toml"], "nothing may be written"


@pytest.mark.parametrize("path, value, shown", [
    ("name", ".", "name = '.'"),
    ("arms.0.name", "..", "arms[0].name = '..'"),
    ("seeds.values", [3, 3, 4], "seeds.values = [3, 3, 4]: seeds must be distinct"),
    ("seeds.start", -5, "seeds.start = -5"),
    ("train.lr", math.inf, "train.lr = inf: Input should be a finite number"),
    ("train.epochs", True, "train.epochs = true: Input should be a valid integer"),
])
def test_the_issue_cases_are_refused_with_the_value_as_written(path, value, shown):
    with pytest.raises(InputError) as info:
        parse_spec(_spec(path, value))
    assert shown in str(info.value)


def test_a_legal_name_of_the_longest_length_and_dotted_names_are_accepted():
    spec = parse_spec(_spec("name", "a" * MAX_NAME))
    assert spec.name == "a" * MAX_NAME
    assert parse_spec(_spec("arms.0.name", "v1.2-b+c_d")).arms[0].name == "v1.2-b+c_d"
    assert parse_spec(_spec("seeds", {"values": [0, MAX_SEED]})).seeds.as_list() == [0, MAX_SEED]


def test_a_huge_seed_count_is_validated_without_listing_the_seeds():
    """count = 10**9 is a number to check, not a list to build (tracemalloc: a list of 10**9
    ints would be gigabytes); the resource estimate then refuses it."""
    tracemalloc.start()
    try:
        spec = parse_spec(_spec("seeds", {"count": 10**9}))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert spec.seeds.n == 10**9 and peak < 50 * 2**20
    with pytest.raises(InputError, match=r"^config: seeds\.count = 2: the seeds from start would reach "
                                         r"4294967296; seeds are 0 to 4294967295$"):
        parse_spec(_spec("seeds", {"start": MAX_SEED, "count": 2}))


def test_many_arms_are_checked_in_one_pass_and_a_late_duplicate_is_named():
    """120,000 arms (quadratic checking hung on these): every name is kept in order and the
    one repeated name, at the very end, is the one reported."""
    arms = [{"name": f"a{i}", "activation": "relu"} for i in range(120_000)]
    spec = parse_spec({**BASE, "arms": arms})
    assert len(spec.arms) == 120_000 and spec.arms[-1].name == "a119999"
    with pytest.raises(InputError, match=r"^config: arms\[120000\]\.name = 'a7': arm names must be unique "
                                         r"\(arms\[7\] has it too\)$") as info:
        parse_spec({**BASE, "arms": arms + [{"name": "a7", "activation": "tanh"}]})
    assert "\n" not in str(info.value) and len(str(info.value)) < 400


def test_a_probe_point_of_the_wrong_dimension_is_refused_before_training(tmp_path):
    spec = {**BASE, "probes": {"points": [{"name": "p", "x": [0.0, 1.0, 2.0]}]}}
    res = _run_cli(tmp_path, spec)
    assert res.exit_code == 2
    assert res.stderr.strip() == (f"error: {tmp_path / 'exp.toml'}: probes.points[0].x = [0.0, 1.0, 2.0]: "
                                  "3 coordinates for 2-feature data (moons): give 2")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exp.toml"]


def test_probe_points_are_checked_again_against_the_loaded_data(small_moons):
    """Where only loading tells the shape (a CSV file), the same check runs on the Dataset."""
    ok = parse_spec({**BASE, "probes": {"points": [{"name": "p", "farthest_from": [0.0, 1.0], "class": 1}]}})
    check_with_data(ok, small_moons)
    bad = parse_spec({**BASE, "probes": {"points": [{"name": "q", "x": [0.0]}]}})
    with pytest.raises(InputError, match=r"^data: probes\.points\[0\]\.x = \[0\.0\]: 1 coordinates for "
                                         r"2-feature data \(moons\): give 2$"):
        check_with_data(bad, small_moons)
    klass = parse_spec({**BASE, "probes": {"points": [{"name": "r", "x": [0.0, 0.0], "class": 2}]}})
    with pytest.raises(InputError, match=r"probes\.points\[0\]\.class = 2: the data has classes 0 to 1"):
        check_with_data(klass, small_moons)


def test_a_split_without_training_points_is_refused_before_training(tmp_path):
    res = _run_cli(tmp_path, _spec("data.val_size", 0.99))
    assert res.exit_code == 2
    assert res.stderr.startswith("error: data: data.val_size = 0.99: leaves 0 of 80 rows for training")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exp.toml"]


def _dataset(y_train, y_test, y_val=None) -> Dataset:
    def X(y):
        return None if y is None else np.zeros((len(y), 2))
    return Dataset("t", X(y_train), np.array(y_train), X(y_test), np.array(y_test), X(y_val),
                   None if y_val is None else np.array(y_val), n_classes=3,
                   class_names=["a", "b", "c"])


def test_every_split_must_hold_every_class():
    spec = parse_spec({**BASE, "data": {"n_samples": 80, "val_size": 0.2}})
    check_splits(spec, _dataset([0, 1, 2], [2, 1, 0], [0, 1, 2]))  # all present: no error
    with pytest.raises(InputError, match=r"^data: data\.test_size = 0\.25: the test split \(2 points\) has "
                                         r"no point of class 'b'"):
        check_splits(spec, _dataset([0, 1, 2], [0, 2], [0, 1, 2]))
    with pytest.raises(InputError, match=r"data\.val_size = 0\.2: the train split \(3 points\) has no point "
                                         r"of class 'c'"):
        check_splits(spec, _dataset([0, 1, 1], [0, 1, 2], [0, 1, 2]))


def test_a_csv_class_lost_by_the_split_is_refused_after_loading_and_before_training(tmp_path):
    rows = [f"{i % 7},{i % 5},{i % 2}" for i in range(40)] + ["9,9,rare"]
    (tmp_path / "d.csv").write_text("a,b,label\n" + "\n".join(rows) + "\n")
    spec = {**BASE, "data": {"name": "csv", "path": "d.csv", "label": "label"}}
    res = _run_cli(tmp_path, spec)
    assert res.exit_code == 2, res.output
    assert "has no point of class 'rare'" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv", "exp.toml"]
