"""The first reference article's numbers are tests (sigmoid vs ReLU on two moons)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from actscope.cli import main
from actscope.experiment import run_experiment
from actscope.training.schedule import log_epochs


@pytest.fixture(scope="module")
def article_run():
    return run_experiment("sigmoid-vs-relu")


def _member(run, arm):
    return run.metrics["arms"][arm]["members"][0]


def test_final_training_loss(article_run):
    assert _member(article_run, "sigmoid")["final_train_loss"] == pytest.approx(0.28, abs=0.005)
    assert _member(article_run, "relu")["final_train_loss"] == pytest.approx(0.03, abs=0.006)


def test_test_accuracy(article_run):
    assert _member(article_run, "sigmoid")["test_accuracy"] == pytest.approx(0.79, abs=1e-9)
    assert _member(article_run, "relu")["test_accuracy"] == pytest.approx(0.96, abs=1e-9)


def test_hidden_std_shrinks_for_sigmoid_and_grows_for_relu(article_run):
    np.testing.assert_allclose(_member(article_run, "sigmoid")["hidden_std"], [0.26, 0.19], atol=0.006)
    np.testing.assert_allclose(_member(article_run, "relu")["hidden_std"], [1.15, 1.67], atol=0.006)


def test_relu_signal_trace_ends_near_9_and_20(article_run):
    trace = _member(article_run, "relu")["signal_trace"]
    assert trace["far_class0"][-1] == pytest.approx(9.0, abs=0.2)
    assert trace["far_class1"][-1] == pytest.approx(20.0, abs=0.3)
    sig = _member(article_run, "sigmoid")["signal_trace"]
    # sigmoid squashes the post-activations into a narrow band, as the article describes
    assert all(0 < v < 1 for v in sig["far_class0"][1:4:2])
    assert article_run.metrics["stages"] == ["z1", "a1", "z2", "a2", "z_out"]


def test_far_points_are_the_articles(article_run):
    d = article_run.dataset
    X0 = d.X_train[d.y_train == 0]
    far0 = X0[np.argmax(np.linalg.norm(X0 - [-1.2, -0.3], axis=1))]
    np.testing.assert_array_equal(article_run.metrics["points"]["far_class0"], far0)


def test_loss_curves_are_running_means_and_arms_share_batches(article_run):
    h = article_run.arms["relu"].history.values
    assert h["train/running_loss"].shape == (800, 1)
    assert h["train/running_loss"][0, 0] > h["train/running_loss"][-1, 0]
    # the splits are evaluated on the "log" schedule: every epoch up to 10, 20 per decade, the last
    evaluated = np.where(np.isfinite(h["test/accuracy"][:, 0]))[0]
    np.testing.assert_array_equal(evaluated, sorted(log_epochs(800)))
    assert evaluated[:10].tolist() == list(range(10)) and evaluated[-1] == 799 and len(evaluated) < 60


def test_reproduce_command_writes_the_run_directory(tmp_path):
    out = tmp_path / "run"
    res = CliRunner().invoke(main, ["reproduce", "sigmoid-vs-relu", "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    assert res.output.strip().splitlines()[-1] == str(out)
    for name in ["config.toml", "metrics.json", "history.npz", "params.npz", "report.html"]:
        assert (out / name).is_file(), name
    figs = sorted(p.name for p in (out / "figures").glob("*.png"))
    for name in ["dataset", "loss_curves", "decision_boundaries", "signal_trace", "hidden_space"]:
        assert f"{name}.png" in figs
        assert (out / "figures" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["arms"]["relu"]["members"][0]["test_accuracy"] == pytest.approx(0.96)
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 5 and "<script src" not in html
    assert "96.0%" in html and "79.0%" in html


def test_report_figures_keep_savefigs_bytes_with_one_draw():
    """write_figure lays a constrained figure out itself and draws it once (speed, issue 19):
    the PNG is byte for byte what matplotlib's own savefig writes after its extra draw."""
    import io

    import matplotlib.pyplot as plt

    from actscope.report.layout import outside_legend, panel_grid
    from actscope.report.style import write_figure

    def figure():
        fig, axes = panel_grid(3, 90)
        for i, ax in enumerate(axes):
            ax.plot([0, 1, 2], [i, 2 * i, i * i], label=f"arm {i}")
            mesh = ax.pcolormesh(np.arange(16.0).reshape(4, 4) * (i + 1))
            fig.colorbar(mesh, ax=ax, label="value")
            ax.set_title(f"panel {i}")
        outside_legend(fig, where="bottom")
        fig.suptitle("a constrained layout with colourbars and a legend outside")
        return fig

    ours, theirs = io.BytesIO(), io.BytesIO()
    fig = figure()
    write_figure(fig, ours, 90, format="png")
    assert fig.get_layout_engine() is None  # laid out once, here: savefig drew it once
    plt.close(fig)
    fig = figure()
    fig.savefig(theirs, dpi=90, format="png", pil_kwargs={"compress_level": 1})
    plt.close(fig)
    assert ours.getvalue() == theirs.getvalue()
