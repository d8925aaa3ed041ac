"""Real and large CSV files: delimiters, column choice, size limits, absurd values, progress."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from click.testing import CliRunner

import actscope.data.csv_files as cf
from actscope.cli import main
from actscope.config import load_spec
from actscope.data.csv_files import detect_delimiter, load_csv, parse_csv
from actscope.data.generators import load_dataset
from actscope.errors import InputError

ROWS = [("1.5", "2", "x1", "cat"), ("3", "4.5", "x2", "dog"), ("-1", "0", "x3", "cat"),
        ("2", "7", "x4", "dog")]


def _text(delim: str, header=("a", "b", "id", "kind"), rows=ROWS) -> str:
    return "\n".join(delim.join(r) for r in [header, *rows]) + "\n"


@pytest.mark.parametrize("delim", [",", ";", "\t", "|"])
def test_delimiter_is_detected(delim, tmp_path):
    p = tmp_path / "d.csv"
    p.write_text(_text(delim))
    X, y, features, classes = load_csv(p, label="kind", drop=["id"])
    assert features == ["a", "b"] and classes == ["cat", "dog"]
    np.testing.assert_array_equal(X, [[1.5, 2], [3, 4.5], [-1, 0], [2, 7]])
    np.testing.assert_array_equal(y, [0, 1, 0, 1])


def test_detection_prefers_the_delimiter_whose_header_holds_the_label():
    # decimal commas in a ';' file: ',' splits every line into equally many fields too
    text = "a;b;kind\n1,5;2,0;cat\n3,5;4,0;dog\n"
    assert detect_delimiter(text, "kind") == ";"
    assert detect_delimiter("a,b,kind\n1,2,cat\n", "kind") == ","
    assert detect_delimiter("x\n1\n", "kind") == ","  # nothing fits: the label error names the columns


def test_decimal_commas_are_refused_with_a_hint():
    with pytest.raises(InputError, match=r"line 2, column 'a': '1,5' is not a number \(decimal commas"):
        parse_csv("a;b;kind\n1,5;2,0;cat\n3,5;4,0;dog\n", label="kind", source="d.csv")


def test_explicit_delimiter_overrides_detection():
    text = "a;b,kind\n1;2,cat\n3;4,dog\n"  # with ',' the columns are 'a;b' and 'kind'
    with pytest.raises(InputError, match=r"'1;2' is not a number"):
        parse_csv(text, label="kind", delimiter=",")
    X, _, features, _ = parse_csv("a;b;kind\n1;2;cat\n3;4;dog\n", label="kind", delimiter=";")
    assert features == ["a", "b"] and X.shape == (2, 2)


def test_features_choose_and_order_the_columns_text_columns_may_stay():
    X, _, features, _ = parse_csv(_text(","), label="kind", features=["b", "a"])
    assert features == ["b", "a"]
    np.testing.assert_array_equal(X[:, 0], [2, 4.5, 0, 7])
    X, _, features, _ = parse_csv(_text(","), label="kind", features=["a", "b"], drop=["b"])
    assert features == ["a"] and X.shape == (4, 1)


def test_a_text_column_without_drop_says_how_to_choose_columns():
    with pytest.raises(InputError, match=r"column 'id': 'x1' is not a number; only the feature columns "
                                         r"must be numeric: choose them with \[data\] features or drop"):
        parse_csv(_text(","), label="kind", source="d.csv")


@pytest.mark.parametrize(("kwargs", "pattern"), [
    ({"features": ["a", "zz"]},
     r"d.csv: data.features = 'zz': no such column; columns: 'a', 'b', 'id', 'kind'"),
    ({"drop": ["nope"]}, r"data.drop = 'nope': no such column"),
    ({"features": ["kind"]}, r"data.features = 'kind': is the label column"),
    ({"features": ["a", "a"]}, r"data.features = 'a': named more than once"),
    ({"drop": ["a", "b", "id"]}, r"no feature columns besides the label column 'kind'"),
])
def test_bad_column_choice_is_one_line(kwargs, pattern):
    with pytest.raises(InputError, match=pattern) as info:
        parse_csv(_text(","), label="kind", source="d.csv", **kwargs)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("cell", ["1e308", "-1e101", "1e400"])
def test_absurd_values_are_refused_naming_line_column_and_value(cell):
    text = f"a,b,kind\n1,2,cat\n3,{cell},dog\n"
    with pytest.raises(InputError, match=r"d.csv: line 3, column 'b'") as info:
        parse_csv(text, label="kind", source="d.csv")
    assert cell in str(info.value)


def test_values_up_to_the_bound_are_kept():
    X, *_ = parse_csv("a,kind\n1e100,cat\n-1e100,dog\n", label="kind")
    np.testing.assert_array_equal(X[:, 0], [1e100, -1e100])


def _big(path, n_rows: int, tail: str = "") -> None:
    with path.open("w") as fh:
        fh.write("a,b,c,kind\n")
        for i in range(n_rows):
            fh.write(f"{i},{i * 0.5},{-i},{'cat' if i % 2 else 'dog'}\n")
        fh.write(tail)


def test_far_too_many_values_are_refused_from_an_estimate_before_reading(tmp_path, monkeypatch):
    p = tmp_path / "big.csv"
    _big(p, 5000, tail="oops,1,2,cat\n")  # a bad row at the end: never reached
    monkeypatch.setenv("ACTSCOPE_CSV_MAX_VALUES", "3000")  # 5001 rows x 3 features is 5x that
    with pytest.raises(InputError, match=r"big.csv: about ([\d,]+) rows x 3 feature columns = about "
                                         r"[\d,]+ values \(estimated from the file size") as info:
        load_csv(p, label="kind")
    est = int(re.search(r"about ([\d,]+) rows", str(info.value)).group(1).replace(",", ""))
    assert 0.8 * 5001 < est < 1.2 * 5001


def test_too_many_values_are_refused_before_the_file_is_read_whole(tmp_path, monkeypatch):
    p = tmp_path / "big.csv"
    _big(p, 5000, tail="oops,1,2,cat\n")  # a bad row at the end: the limit must stop first
    monkeypatch.setenv("ACTSCOPE_CSV_MAX_VALUES", "12000")  # near the estimate: counted exactly
    with pytest.raises(InputError, match=r"big.csv: more than 12,000 values \(rows x feature columns\) by "
                                         r"line 4002: over the limit \$ACTSCOPE_CSV_MAX_VALUES = 12000"):
        load_csv(p, label="kind")
    monkeypatch.setenv("ACTSCOPE_CSV_MAX_VALUES", "15003")  # the same file with room: the bad row
    with pytest.raises(InputError, match=r"line 5002, column 'a': 'oops' is not a number"):
        load_csv(p, label="kind")


def test_a_file_over_the_byte_limit_is_refused_unread(tmp_path, monkeypatch):
    p = tmp_path / "big.csv"
    p.write_bytes(b"\xff\x00" * 600)  # not even text: refused by its size alone
    monkeypatch.setenv("ACTSCOPE_CSV_MAX_BYTES", "1000")
    with pytest.raises(InputError, match=r"data.path = '.*big.csv': 1,200 bytes, over the limit "
                                         r"\$ACTSCOPE_CSV_MAX_BYTES = 1000"):
        load_csv(p, label="kind")


@pytest.mark.parametrize("raw", ["0", "-3", "lots", "1.5"])
def test_bad_limit_in_the_environment_is_one_line(raw, monkeypatch, tmp_path):
    monkeypatch.setenv("ACTSCOPE_CSV_MAX_VALUES", raw)
    (tmp_path / "d.csv").write_text(_text(","))
    with pytest.raises(InputError, match=r"\$ACTSCOPE_CSV_MAX_VALUES = .*: a whole number, 1 or more"):
        load_csv(tmp_path / "d.csv", label="kind")


def test_chunks_give_the_same_array_as_one_pass(tmp_path, monkeypatch):
    p = tmp_path / "big.csv"
    _big(p, 1000)
    whole = load_csv(p, label="kind")
    monkeypatch.setattr(cf, "CHUNK_ROWS", 7)
    chunked = load_csv(p, label="kind")
    np.testing.assert_array_equal(whole[0], chunked[0])
    np.testing.assert_array_equal(whole[1], chunked[1])
    assert whole[0][999].tolist() == [999, 499.5, -999]


def test_large_file_on_a_terminal_reads_through_a_progress_bar(tmp_path, monkeypatch):
    p = tmp_path / "big.csv"
    _big(p, 2000)
    monkeypatch.setattr(cf, "PROGRESS_BYTES", 1000)
    err = io.StringIO()
    monkeypatch.setattr(cf.sys, "stderr", err)
    plain = load_csv(p, label="kind")
    assert err.getvalue() == ""  # stderr is not a terminal: no bar
    monkeypatch.setattr(err, "isatty", lambda: True, raising=False)
    shown = load_csv(p, label="kind")
    assert "reading big.csv" in err.getvalue()
    monkeypatch.setattr(cf, "PROGRESS_BYTES", p.stat().st_size + 1)  # a small file: no bar
    before = err.getvalue()
    load_csv(p, label="kind")
    assert err.getvalue() == before
    np.testing.assert_array_equal(plain[0], shown[0])


def _config(tmp_path, data_extra: str, csv_text: str, name="data.csv") -> object:
    (tmp_path / name).write_text(csv_text)
    cfg = tmp_path / "exp.toml"
    cfg.write_text(f'name = "csvtest"\n[data]\nname = "csv"\npath = "{name}"\nlabel = "kind"\n{data_extra}\n'
                   '[model]\nhidden = [4]\n[train]\nepochs = 2\nbatch_size = 4\n'
                   '[[arms]]\nname = "relu"\nactivation = "relu"\n')
    return cfg


def test_spec_fields_reach_the_loader_and_are_written_back(tmp_path):
    rows = [(str(i), str(i % 3), f"id{i}", "cat" if i % 2 else "dog") for i in range(12)]
    cfg = _config(tmp_path, 'drop = ["id"]', _text(";", rows=rows))
    spec = load_spec(cfg)
    assert spec.data.drop == ["id"] and spec.data.features == [] and spec.data.delimiter == "auto"
    d = load_dataset(spec.data)
    assert d.n_features == 2
    text = spec.to_toml()
    assert 'drop = [\n    "id",\n]' in text or 'drop = ["id"]' in text
    assert 'delimiter = "auto"' in text


def test_csv_fields_on_another_dataset_are_refused(tmp_path):
    cfg = tmp_path / "exp.toml"
    cfg.write_text('[data]\nname = "moons"\nfeatures = ["a"]\n')
    with pytest.raises(InputError, match=r"features applies only to name = 'csv'"):
        load_spec(cfg)


def test_cli_refuses_a_bad_column_choice_with_status_2_writing_nothing(tmp_path):
    rows = [(str(i), str(i % 3), f"id{i}", "cat" if i % 2 else "dog") for i in range(12)]
    cfg = _config(tmp_path, 'features = ["a", "nope"]', _text(",", rows=rows))
    out = tmp_path / "run"
    res = CliRunner().invoke(main, ["run", str(cfg), "--out", str(out), "--quiet", "--no-report"])
    assert res.exit_code == 2, res.output
    assert "data.features = 'nope': no such column" in res.output
    assert len(res.output.strip().splitlines()) == 1 and not out.exists()


def test_cli_refuses_an_absurd_value_with_status_2(tmp_path):
    rows = [(str(i), "1e308" if i == 5 else "1", "x", "cat" if i % 2 else "dog") for i in range(12)]
    cfg = _config(tmp_path, 'drop = ["id"]', _text(",", rows=rows))
    out = tmp_path / "run"
    res = CliRunner().invoke(main, ["run", str(cfg), "--out", str(out), "--quiet", "--no-report"])
    assert res.exit_code == 2, res.output
    assert "line 7, column 'b' = 1e308: out of range" in res.output and not out.exists()
