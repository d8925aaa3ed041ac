"""CSV data: a named label column, validated; every bad file is one clear InputError."""

from __future__ import annotations

import string

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from actscope.cli import main
from actscope.config import load_spec
from actscope.data.csv_files import load_csv, parse_csv
from actscope.data.generators import load_dataset
from actscope.errors import InputError

GOOD = "a,b,kind\n1,2,cat\n3,4.5,dog\n-1,0,cat\n2,2,dog\n0,1,cat\n5,5,dog\n1e-3,7,bird\n4,4,bird\n"


def test_good_csv_loads_with_string_labels(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text(GOOD)
    X, y, features, classes = load_csv(p, label="kind")
    assert features == ["a", "b"] and classes == ["bird", "cat", "dog"]
    assert X.shape == (8, 2) and X[6, 0] == pytest.approx(1e-3)
    np.testing.assert_array_equal(y, [1, 2, 1, 2, 1, 2, 0, 0])


def test_numeric_labels_sort_numerically_and_label_may_be_any_column():
    X, y, features, classes = parse_csv("y,f\n10,1\n2,2\n10,3\n2,4\n", label="y")
    assert classes == ["2", "10"] and features == ["f"]
    np.testing.assert_array_equal(y, [1, 0, 1, 0])


@pytest.mark.parametrize(("text", "pattern"), [
    ("", r"empty file"),
    ("\n\n", r"empty file"),
    ("a,b,label\n", r"no data rows"),
    ("a,b,y\n1,2,0\n", r"label column 'label' not found; columns: 'a', 'b', 'y'"),
    ("a,b,label\n1,2,0\n3,,1\n", r"line 3, column 'b': missing value"),
    ("a,b,label\n1,2,0\n3,NA,1\n", r"line 3, column 'b': missing value"),
    ("a,b,label\n1,2,0\n3,x7,1\n", r"line 3, column 'b': 'x7' is not a number"),
    ("a,b,label\n1,2,0\n3,4\n", r"line 3: 2 fields, the header has 3"),
    ("a,b,label\n1,2,0\n3,4,1,9\n", r"line 3: 4 fields, the header has 3"),
    ("a,b,label\n1,2,0\n3,4,0\n", r"single class \('0'\)"),
    ("a,b,label\n1,2,0\n3,4,\n", r"line 3, column 'label': missing label"),
    ("a,a,label\n1,2,0\n3,4,1\n", r"column 'a' appears more than once"),
    ("label\n0\n1\n", r"no feature columns"),
    ("a,,label\n1,2,0\n", r"column 2 has an empty name"),
    ("a,b,label\n1,inf,0\n2,3,1\n", r"line 2, column 'b': 'inf' is not finite"),
    ('a,b,label\n1,"2,0\n', r"not readable as CSV|fields"),
])
def test_bad_csv_is_one_clear_line(text, pattern):
    with pytest.raises(InputError, match=pattern) as info:
        parse_csv(text, label="label", source="d.csv")
    assert "\n" not in str(info.value) and str(info.value).startswith("d.csv")


def test_file_problems(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        load_csv(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="not a file"):
        load_csv(tmp_path)
    bad = tmp_path / "bin.csv"
    bad.write_bytes(b"a,label\n\xff\xfe,1\n")
    with pytest.raises(InputError, match="not UTF-8"):
        load_csv(bad)


def _config(tmp_path, csv_name="data.csv", label="kind"):
    cfg = tmp_path / "exp.toml"
    cfg.write_text(f'name = "csvtest"\n[data]\nname = "csv"\npath = "{csv_name}"\nlabel = "{label}"\n'
                   'test_size = 0.25\n[model]\nhidden = [4]\n[train]\nepochs = 2\nbatch_size = 4\n'
                   '[[arms]]\nname = "relu"\nactivation = "relu"\n')
    return cfg


def test_csv_path_is_relative_to_the_config_and_runs(tmp_path):
    (tmp_path / "data.csv").write_text(GOOD + "".join(GOOD.splitlines(keepends=True)[1:]) * 3)
    spec = load_spec(_config(tmp_path))
    assert spec.data.path == str((tmp_path / "data.csv").resolve())
    d = load_dataset(spec.data)
    assert d.n_classes == 3 and d.n_features == 2 and d.class_names == ["bird", "cat", "dog"]
    out = tmp_path / "run"
    res = CliRunner().invoke(main, ["run", str(_config(tmp_path)), "--out", str(out), "--quiet",
                                    "--no-report"])
    assert res.exit_code == 0, res.output
    assert (out / "metrics.json").is_file()


def test_bad_csv_in_a_run_exits_2_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.csv").write_text("a,b,kind\n1,2,cat\n3,oops,dog\n")
    out = tmp_path / "run"
    res = CliRunner().invoke(main, ["run", str(_config(tmp_path)), "--out", str(out), "--quiet"])
    assert res.exit_code == 2
    assert "line 3, column 'b': 'oops' is not a number" in res.output
    assert "Traceback" not in res.output
    assert not out.exists() and not (tmp_path / "runs").exists()


CELLS = st.one_of(st.sampled_from(["1", "-2.5", "0", "1e3", "", "NA", "x", "nan", "inf", "a,b",
                                   '"q"', "3", "cat", "dog"]),
                  st.text(alphabet=string.printable, max_size=5))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(CELLS, min_size=0, max_size=4), min_size=0, max_size=7),
       st.sampled_from(["label", "a"]))
def test_every_csv_loads_or_is_refused_cleanly(rows, label):
    header = ["a", "b", "label"]
    lines = [",".join(header)] + [",".join(r) for r in rows]
    text = "\n".join(lines) + "\n"
    try:
        X, y, features, classes = parse_csv(text, label=label, source="f.csv")
    except InputError as err:
        assert str(err).startswith("f.csv") and "\n" not in str(err)
        return
    assert X.shape == (len(y), len(features)) and np.all(np.isfinite(X))
    assert len(classes) >= 2 and set(np.unique(y)) <= set(range(len(classes)))


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=60))
def test_any_text_loads_or_is_refused_cleanly(text):
    try:
        parse_csv(text, label="label", source="f.csv")
    except InputError as err:
        assert "\n" not in str(err)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                HealthCheck.too_slow])
@given(st.lists(st.one_of(st.tuples(st.sampled_from(["1", "2.5", "-3"]), st.sampled_from(["0", "4", "1e2"]),
                                    st.sampled_from(["cat", "dog"])).map(list),
                          st.lists(CELLS, min_size=3, max_size=3)), min_size=0, max_size=12))
@example(rows=[["1", "0", "dog"], ["1", "0", "cat"], ["1", "0", "cat"]])  # one class to train on
def test_cli_on_any_csv_runs_or_exits_2_writing_nothing(tmp_path_factory, rows):
    tmp = tmp_path_factory.mktemp("csvcli")
    lines = ["a,b,kind"] + [",".join(r) for r in rows]
    (tmp / "data.csv").write_text("\n".join(lines) + "\n")
    out = tmp / "run"
    res = CliRunner().invoke(main, ["run", str(_config(tmp)), "--out", str(out), "--quiet", "--no-report"])
    assert "Traceback" not in res.output
    if res.exit_code == 0:
        assert (out / "metrics.json").is_file()
    else:
        assert res.exit_code == 2, res.output
        assert len(res.output.strip().splitlines()) == 1
        assert not out.exists()
