"""MLflow tracking (issue 17, item 4): a run directory logged to a real local MLflow store
(SQLite, in tmp_path) and read back with MlflowClient."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("mlflow")
pytest.importorskip("sqlalchemy")
from mlflow.tracking import MlflowClient  # noqa: E402

from actscope.interop.tracking import flatten, log_run, safe  # noqa: E402

SPEC = """
name = "tracked"
[data]
name = "moons"
n_samples = 100
[model]
hidden = [4]
[train]
epochs = 9
lr = 0.1
batch_size = 16
[[arms]]
name = "relu"
activation = "relu"
[[arms]]
name = "tanh+"
activation = "tanh"
[seeds]
count = 5
[probes]
include = []
[report]
enabled = false
"""


def _cli(args, cwd):
    from actscope.cli import main

    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(main, args)
    finally:
        os.chdir(old)


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    """One run through `actscope run --mlflow`, in a folder of its own (MLflow puts a SQLite
    store's artifacts under ./mlruns)."""
    root = tmp_path_factory.mktemp("tracked")
    (root / "exp.toml").write_text(SPEC)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    res = _cli(["run", "exp.toml", "--out", "r1", "--quiet", "--mlflow", uri], root)
    assert res.exit_code == 0, res.output
    return root, uri, res


def _the_run(uri):
    c = MlflowClient(tracking_uri=uri)
    exp = c.get_experiment_by_name("tracked")
    (run,) = c.search_runs([exp.experiment_id])
    return c, run


def test_spec_is_logged_as_flat_parameters(tracked):
    root, uri, res = tracked
    assert res.stdout.strip().splitlines()[-1] == "r1"  # stdout's last line stays the run directory
    c, run = _the_run(uri)
    p = run.data.params
    assert p["train.lr"] == "0.1" and p["train.epochs"] == "9" and p["model.hidden"] == "[4]"
    assert p["arms.1.name"] == "tanh+" and p["arms.1.activation"] == "tanh"
    assert p["seeds.count"] == "5" and p["data.name"] == "moons"
    assert run.info.status == "FINISHED"
    assert run.data.tags["actscope_run_dir"] == str((root / "r1").resolve())
    assert run.data.tags["actscope_status"] == "complete"


def test_per_epoch_metrics_with_their_steps(tracked):
    from actscope.experiment import load_run

    root, uri, _ = tracked
    c, run = _the_run(uri)
    hist = load_run(root / "r1").arms["tanh+"].history
    want = hist.stat("train/running_loss", "mean")
    got = sorted(c.get_metric_history(run.info.run_id, "tanh_/train/running_loss"), key=lambda m: m.step)
    assert [m.step for m in got] == list(range(1, 10))
    np.testing.assert_allclose([m.value for m in got], want, rtol=1e-12)
    acc = c.get_metric_history(run.info.run_id, "relu/test/accuracy")
    steps = sorted(m.step for m in acc)
    assert steps[-1] == 9 and len(steps) == np.isfinite(load_run(root / "r1").arms["relu"].history
                                                        .stat("test/accuracy", "mean")).sum()


def test_summaries_and_artifacts(tracked):
    root, uri, _ = tracked
    c, run = _the_run(uri)
    metrics = json.loads((root / "r1" / "metrics.json").read_text())
    s = metrics["arms"]["relu"]["summary"]["test_accuracy"]
    m = run.data.metrics
    assert m["relu/summary/test_accuracy"] == pytest.approx(s["mean"], rel=1e-12)
    if s["ci95"] is not None:
        assert m["relu/summary/test_accuracy/ci95_low"] == pytest.approx(s["ci95"][0], rel=1e-12)
    else:
        assert "relu/summary/test_accuracy/ci95_low" not in m
    names = {a.path for a in c.list_artifacts(run.info.run_id)}
    assert {"config.toml", "metrics.json", "params.npz", "history.npz", "status.json"} <= names


def test_track_command_logs_an_existing_run_again(tracked, monkeypatch):
    root, uri, _ = tracked
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)  # `track` without --mlflow: the variable
    res = _cli(["track", "r1", "--experiment", "again"], root)
    assert res.exit_code == 0, res.output
    c = MlflowClient(tracking_uri=uri)
    (run,) = c.search_runs([c.get_experiment_by_name("again").experiment_id])
    assert run.info.run_id == res.stdout.strip().splitlines()[-1]
    assert run.data.params["train.lr"] == "0.1"


def test_missing_uri_is_refused_before_any_work(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (tmp_path / "exp.toml").write_text(SPEC)
    res = _cli(["run", "exp.toml", "--out", "r", "--quiet", "--mlflow"], tmp_path)
    assert res.exit_code == 2
    assert res.stderr.strip() == ("error: --mlflow: no URI given and MLFLOW_TRACKING_URI is not set; "
                                  "write --mlflow sqlite:///mlflow.db (or set the variable)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exp.toml"]


def test_env_variable_is_honoured_only_when_asked(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    (tmp_path / "exp.toml").write_text(SPEC.replace("epochs = 9", "epochs = 2"))
    assert _cli(["run", "exp.toml", "--out", "plain", "--quiet"], tmp_path).exit_code == 0
    assert not (tmp_path / "env.db").exists()  # not asked: nothing tracked
    assert _cli(["run", "exp.toml", "--out", "asked", "--quiet", "--mlflow"], tmp_path).exit_code == 0
    _, run = _the_run(uri)
    assert Path(run.data.tags["actscope_run_dir"]).name == "asked"


def test_flatten_and_safe_names():
    flat = flatten({"train": {"lr": 0.1, "betas": [0.9, 0.999], "shuffle": True},
                    "arms": [{"name": "a"}, {"name": "b", "activation": ["relu", "tanh"]}], "name": "x"})
    assert flat == {"train.lr": "0.1", "train.betas": "[0.9, 0.999]", "train.shuffle": "true",
                    "arms.0.name": "a", "arms.1.name": "b", "arms.1.activation": "['relu', 'tanh']",
                    "name": "x"}
    assert safe("elu+/test/accuracy") == "elu_/test/accuracy" and safe("a-b.c d:e") == "a-b.c d:e"


def test_log_run_api(tracked, tmp_path, monkeypatch):
    root, _, _ = tracked
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'api.db'}"
    rid = log_run(root / "r1", uri, experiment="api")
    run = MlflowClient(tracking_uri=uri).get_run(rid)
    assert run.data.params["arms.0.name"] == "relu" and run.info.status == "FINISHED"


def test_a_store_failure_after_the_run_is_one_line_and_keeps_the_run(tracked, monkeypatch):
    import actscope.interop.tracking as tracking

    root, uri, _ = tracked

    def broken(*a, **k):
        raise ConnectionError("store went away")

    monkeypatch.setattr(tracking, "log_run", broken)
    res = _cli(["track", "r1", "--mlflow", uri], root)
    assert res.exit_code == 1
    assert res.stderr.strip() == ("error: r1: logging to MLflow failed (ConnectionError: store went away); "
                                  "the run is kept; `actscope track r1 --mlflow URI` logs it again")
    assert (root / "r1" / "params.npz").is_file()
