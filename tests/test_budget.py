"""The resource estimate before the work: its arithmetic, the limit and its knobs, and the
refusals (exit 2, one line naming the estimate, the field and the knob, nothing written)."""

from __future__ import annotations

import os

import pytest
import tomli_w
from click.testing import CliRunner

from actscope.cli import main
from actscope.config import parse_spec
from actscope.config.budget import (
    ENV,
    Shape,
    check_budget,
    estimate,
    format_bytes,
    limit_memory,
    memory_limit,
    parse_size,
    spec_shape,
    split_sizes,
)
from actscope.errors import InputError
from actscope.experiment import run_experiment

BASE = {"name": "tiny", "data": {"n_samples": 80}, "model": {"hidden": [8, 8]},
        "train": {"epochs": 10, "batch_size": 16}, "arms": [{"name": "relu", "activation": "relu"}],
        "probes": {"include": []}}


def _spec(**sections):
    d = {k: dict(v) if isinstance(v, dict) else v for k, v in BASE.items()}
    for key, value in sections.items():
        d[key] = {**d[key], **value} if isinstance(value, dict) and isinstance(d.get(key), dict) else value
    return parse_spec(d)


@pytest.mark.parametrize("text, n", [("8G", 8 * 2**30), ("512M", 512 * 2**20), ("1.5GiB", 3 * 2**29),
                                     ("2tb", 2 * 2**40), ("1000", 1000), ("64 K", 64 * 2**10)])
def test_sizes_are_read_as_written(text, n):
    assert parse_size(text) == n


@pytest.mark.parametrize("text", ["8X", "-1G", "0", "", "lots", "1e3G"])
def test_a_bad_size_names_the_option(text):
    with pytest.raises(InputError, match=r"^--max-memory = .*: a size such as 8G"):
        parse_size(text)


def test_the_estimate_is_the_sum_of_its_parts_computed_from_the_spec():
    """2-8-8-1 network: (2+1)*8 + (8+1)*8 + (8+1)*1 = 105 parameters per member."""
    spec = _spec(seeds={"count": 3})
    shape = Shape(n_train=60, n_val=0, n_test=20, n_features=2, n_classes=2)
    est = estimate(spec, shape)
    assert est.parameters == 105 * 3 * 8 * 3  # parameters, gradients, updates (sgd: no state)
    assert est.activations == 4 * 16 * 17 * 3 * 8  # a minibatch's z, a and their gradients, 17 units
    assert est.history == 10 * 3 * (2 + 2 + 2 + 1) * 8  # epochs x members x history arrays
    assert est.data == 3 * 80 * 3 * 8
    assert est.total == est.parameters + est.activations + est.history + est.data
    assert est.model_epochs == 3 * 1 * 10


def test_the_estimate_grows_with_what_it_should():
    shape = Shape(60, 0, 20, 2, 2)
    one = estimate(_spec(), shape)
    more_seeds = estimate(_spec(seeds={"count": 2}), shape)
    more_epochs = estimate(_spec(train={"epochs": 20}), shape)
    adam = estimate(_spec(train={"optimizer": "adam"}), shape)
    arms = [{"name": "a", "activation": "relu"}, {"name": "b", "activation": "tanh"}]
    two_arms = estimate(_spec(arms=arms), shape)
    float32 = estimate(_spec(train={"dtype": "float32"}), shape)
    assert more_seeds.parameters == 2 * one.parameters and more_seeds.history == 2 * one.history
    assert more_epochs.history == 2 * one.history and more_epochs.parameters == one.parameters
    assert more_epochs.model_epochs == 2 * one.model_epochs
    assert adam.parameters == one.parameters * 5 // 3  # two more arrays per parameter
    assert two_arms.history == 2 * one.history and two_arms.model_epochs == 2 * one.model_epochs
    assert float32.parameters * 2 == one.parameters and float32.history * 2 == one.history
    tuned = estimate(_spec(train={"lr": "tune", "lr_grid": [0.01, 0.1, 1.0]}), Shape(48, 12, 20, 2, 2))
    assert tuned.model_epochs == 3 * one.model_epochs


def test_the_shape_is_known_from_the_spec_where_the_spec_tells_it():
    assert spec_shape(_spec(data={"n_samples": 80, "val_size": 0.25})) == Shape(45, 15, 20, 2, 2)
    assert spec_shape(_spec(data={"name": "iris"})) == Shape(*split_sizes(150, 0.25, 0.0), 4, 3)
    assert spec_shape(_spec(data={"name": "blobs", "centers": 5})).n_classes == 5


def test_the_limit_comes_from_the_option_the_environment_or_the_available_memory(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    limit, where = memory_limit()
    assert limit is None or (limit > 0 and "available" in where)
    monkeypatch.setenv(ENV, "3G")
    assert memory_limit() == (3 * 2**30, f"{ENV}=3G")
    with limit_memory("1M"):
        assert memory_limit() == (2**20, "--max-memory 1M")
    assert memory_limit()[0] == 3 * 2**30
    assert format_bytes(1536) == "1.5 KiB" and format_bytes(10) == "10 B"


@pytest.mark.parametrize("section, field", [
    ({"model": {"hidden": [10_000_000]}}, "model.hidden = [10000000]"),
    ({"seeds": {"count": 1_000_000_000}}, "seeds.count = 1000000000"),
    ({"train": {"epochs": 10**12}}, "train.epochs = 1000000000000"),
    ({"data": {"n_samples": 10**12}}, "data.n_samples = 1000000000000"),
])
def test_runs_beyond_the_limit_are_refused_in_one_line_naming_field_and_knob(tmp_path, section, field):
    d = {**BASE, **{k: {**BASE.get(k, {}), **v} for k, v in section.items()}}
    cfg = tmp_path / "big.toml"
    cfg.write_text(tomli_w.dumps(d))
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        res = CliRunner().invoke(main, ["run", str(cfg), "--quiet", "--max-memory", "4G"])
    finally:
        os.chdir(old)
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {cfg}: {field}: the run needs an estimated ")
    assert "more than the limit 4 GiB (--max-memory 4G)" in lines[0] and "--max-memory SIZE" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.toml"]


def test_a_tiny_limit_refuses_a_small_run_and_a_bad_size_is_a_usage_error(tmp_path):
    cfg = tmp_path / "small.toml"
    cfg.write_text(tomli_w.dumps(BASE))
    runner, out = CliRunner(), ["--out", str(tmp_path / "o")]
    res = runner.invoke(main, ["run", str(cfg), "--quiet", "--max-memory", "1K", *out])
    assert res.exit_code == 2 and "more than the limit 1 KiB" in res.stderr
    res = runner.invoke(main, ["run", str(cfg), "--quiet", "--max-memory", "lots", *out])
    assert res.exit_code == 2 and res.stderr.startswith("error: --max-memory = 'lots': a size such as")
    assert not (tmp_path / "o").exists()


def test_data_known_only_after_loading_is_checked_before_training(tmp_path):
    """A CSV file's size is known once it is read: the estimate runs then, before any arm."""
    rows = [f"{i % 7},{i % 5},{i % 2}" for i in range(40)]
    (tmp_path / "d.csv").write_text("a,b,label\n" + "\n".join(rows) + "\n")
    spec = _spec(data={"name": "csv", "path": str(tmp_path / "d.csv"), "label": "label", "n_samples": 400})
    assert spec_shape(spec) is None and check_budget(spec) is None
    with limit_memory("2K"), pytest.raises(InputError, match=r"^config: .*more than the limit 2 KiB"):
        run_experiment(spec)


def test_a_sweep_is_refused_by_its_largest_cell(tmp_path):
    from actscope.sweep import parse_sweep, plan_cells

    base = {k: v for k, v in BASE.items() if k not in ("arms", "name")}
    sweep = parse_sweep({**base, "seeds": {"count": 2},
                         "sweep": {"name": "s", "grid": {"activation": ["relu"], "model.width": [4, 2000]}}})
    assert len(plan_cells(sweep)) == 2
    with limit_memory("64M"), pytest.raises(InputError, match=r"cell \(activation = 'relu', model.width = "
                                                                r"2000\): model.hidden = \[2000, 2000\]"):
        plan_cells(sweep)


def test_the_history_estimate_follows_what_the_history_keeps():
    """Per-member rows while members x epochs is at most PER_MEMBER_LIMIT; above it a row of
    statistics per epoch and the last row per key (training.history)."""
    from actscope.training.history import PER_MEMBER_LIMIT, STATS

    keys = 2 + 2 + 2 + 1  # running loss/accuracy, test loss/accuracy, 2 batch gradient norms
    small = _spec(seeds={"count": 100}, train={"epochs": 800, "dtype": "float32"})
    assert 100 * 800 <= PER_MEMBER_LIMIT
    assert estimate(small, Shape(300, 0, 100, 2, 2)).history == 800 * 100 * 4 * keys
    large = _spec(seeds={"count": 100_000}, train={"epochs": 800, "dtype": "float32"})
    est = estimate(large, Shape(300, 0, 100, 2, 2))
    assert est.history == (800 * len(STATS) * 8 + 100_000 * 4) * keys
    assert est.model_epochs == 80_000_000


def test_the_sweep_command_refuses_a_grid_beyond_the_limit_and_writes_nothing(tmp_path):
    cfg = tmp_path / "grid.toml"
    cfg.write_text('[sweep]\nname = "g"\nlatency = false\n[sweep.grid]\nactivation = ["relu"]\n'
                   'model.width = [4, 2000]\n[data]\nn_samples = 80\n[train]\nepochs = 2\n')
    res = CliRunner().invoke(main, ["sweep", str(cfg), "--quiet", "--max-memory", "64M",
                                    "--out", str(tmp_path / "out")])
    assert res.exit_code == 2
    assert res.stderr.startswith(f"error: {cfg}: cell (activation = 'relu', model.width = 2000): "
                                 "model.hidden = [2000, 2000]: the run needs an estimated ")
    assert res.stderr.count("\n") == 1 and sorted(p.name for p in tmp_path.iterdir()) == ["grid.toml"]
