"""Notebooks: short reprs, HTML views and DataFrames of runs, sweeps and specs, and the example
notebook under docs/, executed."""

from __future__ import annotations

import html
import sys
from pathlib import Path

import numpy as np
import pytest

import actscope
from actscope.config import parse_spec
from actscope.sweep import load_sweep, read_frame, read_table, run_sweep

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "docs" / "examples" / "getting-started.ipynb"
SPEC = {"name": "nb", "data": {"n_samples": 160}, "model": {"hidden": [5]},
        "train": {"optimizer": "adam", "lr": 0.05, "epochs": 25},
        "arms": [{"name": "relu", "activation": "relu"}, {"name": "tanh", "activation": "tanh"}],
        "seeds": {"count": 6}, "probes": {"include": []}}
SWEEP = """
[sweep]
name = "nb-sweep"
latency = false
shared_lr = 0.1

[sweep.grid]
activation = ["tanh", "relu"]
model.width = [2, 4]

[data]
n_samples = 80

[model]
hidden = [4]

[train]
epochs = 6

[seeds]
count = 2
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("nb") / "run"
    return actscope.run_experiment(parse_spec(SPEC), out=out, report=False)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    d = tmp_path_factory.mktemp("sweep")
    (d / "sweep.toml").write_text(SWEEP)
    return run_sweep(load_sweep(d / "sweep.toml"), out=d / "out", progress=False, report=False,
                     echo=lambda m: None)


def test_run_repr_is_one_short_line(run):
    text = repr(run)
    assert "\n" not in text and len(text) < 200
    assert text == f"Run('nb', arms=[relu, tanh], members=6, epochs=25, complete, path={str(run.path)!r})"
    assert repr(actscope.load_run(run.path)) == text


def _cell(s: dict, percent: bool) -> str:
    f = (lambda v: f"{100 * v:.1f}%") if percent else (lambda v: f"{v:.4f}")
    return f"{f(s['mean'])} [{f(s['ci95'][0])}, {f(s['ci95'][1])}]"


def test_run_html_shows_each_arms_intervals_and_the_verdicts(run):
    page = run._repr_html_()
    for arm in run.metrics["arms"].values():
        s = arm["summary"]
        assert _cell(s["test_accuracy"], True) in page
        assert _cell(s["final_train_loss"], False) in page
    verdicts = [c["verdict"] for c in run.metrics["comparisons"]]
    assert verdicts and all(html.escape(v) in page for v in verdicts)
    assert "No figure: no report figures in" in page  # drawn without a report
    assert "<script" not in page


def test_run_html_embeds_the_key_figure(run, tmp_path):
    figures = tmp_path / "figures"
    figures.mkdir()
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(40))
    (figures / "decision_boundaries.png").write_bytes(png)
    moved = actscope.Run(run.spec, run.dataset, run.arms, run.metrics, path=tmp_path)
    import base64

    assert f"data:image/png;base64,{base64.b64encode(png).decode()}" in moved._repr_html_()


def test_members_frame_has_every_member_of_metrics(run):
    pytest.importorskip("pandas")
    frame = run.members_frame()
    assert len(frame) == 12 and list(frame.columns[:3]) == ["arm", "activation", "seed"]
    for name, arm in run.metrics["arms"].items():
        rows = frame[frame.arm == name]
        assert rows.seed.tolist() == [m["seed"] for m in arm["members"]]
        np.testing.assert_array_equal(rows.test_accuracy, [m["test_accuracy"] for m in arm["members"]])
        np.testing.assert_array_equal(rows["hidden_std.L1"], [m["hidden_std"][0] for m in arm["members"]])


def test_history_frame_summaries_and_members(run):
    pytest.importorskip("pandas")
    frame = run.history_frame()
    hist = run.arms["tanh"].history
    loss = frame[(frame.arm == "tanh") & (frame.metric == "train/running_loss")]
    assert loss.epoch.tolist() == list(range(1, 26))
    np.testing.assert_allclose(loss["mean"], hist.stat("train/running_loss", "mean"))
    test_acc = frame[(frame.arm == "tanh") & (frame.metric == "test/accuracy")]
    assert 1 in test_acc.epoch.values and 25 in test_acc.epoch.values and len(test_acc) < 25  # log schedule
    members = run.history_frame(per_member=True)
    row = members[(members.arm == "relu") & (members.metric == "train/running_loss") & (members.epoch == 7)]
    np.testing.assert_array_equal(row.value, run.arms["relu"].history.values["train/running_loss"][6])
    assert row.seed.tolist() == run.arms["relu"].seeds


def test_without_pandas_one_line_names_the_extra(run, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"^DataFrames need pandas: pip install 'actscope\[notebook\]'$"):
        run.members_frame()


def test_progress_is_a_notebook_table_only_in_a_kernel(monkeypatch):
    from actscope.experiment.notebook import notebook_progress

    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    assert notebook_progress() is None  # plain Python: no table (the CLI has its own bar)


def test_spec_html_states_the_spec():
    spec = parse_spec({**SPEC, "activations": {"mish2": "x * tanh(log(1 + exp(x)))"},
                       "arms": [{"name": "m", "activation": "mish2", "lr": 0.2}]})
    page = spec._repr_html_()
    assert "adam, lr 0.05, 25 epochs, batch 64, engine numpy" in page
    assert "<td>m</td><td>mish2</td><td>auto (model)</td><td>0.2</td>" in page
    assert "mish2 = x * tanh(log(1 + exp(x)))" in page


def test_sweep_result_repr_html_and_frames(sweep):
    pytest.importorskip("pandas")
    assert repr(sweep) == (f"SweepResult('nb-sweep', cells=4 (run 4, skipped 0, failed 0, lost 0), rows=8, "
                           f"path={str(sweep.path)!r})")
    page = sweep._repr_html_()
    for c in sweep.analysis["configs"]:
        assert f"{100 * c['naive']['mean']:.1f}%" in page
    assert f"No figure: {sweep.path / 'figures' / 'pareto.png'} was not drawn." in page
    frame = read_frame(sweep.path)
    assert frame.to_dict("records") == read_table(sweep.path)
    assert sweep.results_frame().shape == (8, frame.shape[1])
    sweep_file = load_sweep(sweep.path / "sweep.toml")
    assert "<td>model.width</td><td>2, 4</td><td>2</td>" in sweep_file._repr_html_()


def test_example_notebook_runs(tmp_path):
    for module in ("nbclient", "nbformat", "ipykernel", "pandas"):
        pytest.importorskip(module)
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()  # raises on any error
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    pages = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    run_page = next(p for p in pages if "actscope run getting-started" in p)
    assert "data:image/png;base64," in run_page and "relu > sigmoid" in html.unescape(run_page)
    assert (tmp_path / "runs" / "getting-started" / "report.html").is_file()
    progress = next(p for p in pages if "<caption style='text-align:left'>training</caption>" in p)
    assert progress.count("<td>60/60</td>") == 2  # both arms, every epoch, shown when done
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the loss curves
    search = next(o["data"]["text/plain"] for o in outputs
                  if "mean_test_score" in o.get("data", {}).get("text/plain", ""))
    assert all(a in search for a in ("relu", "tanh", "x * tanh(log(1 + exp(x)))"))
