"""Figures that hold any number of arms (issue 20): the 8-arm spiral report keeps every
figure within 1,600 px and every panel above 300 px; per-arm panels wrap into 3-4
columns; legends stay off the axes; empty panels are left out and the report says why;
confusion matrices are labelled with the data's classes."""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from actscope.config import load_spec, parse_spec, with_overrides
from actscope.experiment import run_experiment
from actscope.report import html as report_html
from actscope.report import write_report
from actscope.report.figures import decision_boundaries_figure, loss_curves_figure, signal_trace_figure
from actscope.report.layout import MAX_WIDTH_PX, MIN_PANEL_PX, grid_shape, legend_overlaps, panel_sizes
from actscope.report.probe_figures import over_epochs_figure

SLACK = 1.02  # "about" 1,600 px: what rounding to whole pixels may add


@pytest.fixture(scope="module")
def spiral_run():
    spec = with_overrides(load_spec("spiral-activations"), seeds=2, epochs=4)
    spec = spec.model_copy(update={"probes": spec.probes.model_copy(update={"epochs": [2]})})
    assert len(spec.arms) == 8
    return run_experiment(spec)


@pytest.fixture(scope="module")
def spiral_report(spiral_run, tmp_path_factory):
    """The report written, with every figure's panel sizes and covering legends measured
    as it is saved (drawn here, in order: one process)."""
    out = tmp_path_factory.mktemp("spiral")
    measured, drawing = {}, []
    save, render = report_html.write_figure, report_html.render

    def naming(run, name, dpi):
        drawing[:] = [name]
        return render(run, name, dpi)

    def measuring(fig, out, dpi, **kw):
        measured[drawing[0]] = (panel_sizes(fig, dpi), legend_overlaps(fig, dpi))
        save(fig, out, dpi, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(report_html, "render", naming)
        mp.setattr(report_html, "write_figure", measuring)
        mp.setenv("ACTSCOPE_REPORT_WORKERS", "1")
        write_report(spiral_run, out)
    return out, measured


@pytest.mark.parametrize("n, shape", [(1, (1, 1)), (3, (1, 3)), (4, (1, 4)), (5, (2, 3)), (6, (2, 3)),
                                      (7, (2, 4)), (8, (2, 4)), (9, (3, 3)), (16, (4, 4))])
def test_panels_wrap_into_three_or_four_columns(n, shape):
    assert grid_shape(n) == shape


def test_every_png_of_the_8_arm_spiral_report_is_at_most_1600_px_wide(spiral_report):
    pngs = sorted((spiral_report[0] / "figures").glob("*.png"))
    assert len(pngs) >= 10
    widths = {p.stem: Image.open(p).size[0] for p in pngs}
    too_wide = {k: w for k, w in widths.items() if w > MAX_WIDTH_PX * SLACK}
    assert not too_wide


def test_every_panel_of_the_8_arm_spiral_report_is_at_least_300_px_and_no_legend_covers_one(spiral_report):
    out, measured = spiral_report
    assert len(measured) == len(list((out / "figures").glob("*.png")))
    assert {"decision_boundaries", "hidden_space", "probe_heatmaps", "loss_curves"} <= set(measured)
    small = {name: [(round(w), round(h)) for w, h in sizes] for name, (sizes, _) in measured.items()
             if min(w for w, _ in sizes) < MIN_PANEL_PX or min(h for _, h in sizes) < 0.9 * MIN_PANEL_PX}
    covered = {name: bad for name, (_, bad) in measured.items() if bad}
    assert not small
    assert not covered


def test_decision_boundaries_of_eight_arms_are_two_rows_of_four_with_classes_and_split_named(spiral_run):
    fig = decision_boundaries_figure(spiral_run)
    panel_sizes(fig, 100)  # lay it out
    lefts = sorted({round(ax.get_position().x0, 3) for ax in fig.axes})
    bottoms = {round(ax.get_position().y0, 3) for ax in fig.axes}
    assert len(fig.axes) == 8 and len(lefts) == 4 and len(bottoms) == 2
    labels = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    names = spiral_run.dataset.class_names
    assert all(any(n in lab for lab in labels) for n in names)
    n_test = len(spiral_run.dataset.y_test)
    assert f"test split ({n_test} points)" in fig._suptitle.get_text()
    plt.close(fig)


def test_final_losses_sit_in_the_legend_not_on_the_curves(spiral_run):
    fig = loss_curves_figure(spiral_run)
    ax = fig.axes[0]
    assert not [t for t in ax.texts if "final" in t.get_text()]
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert len(labels) == 8 and all("final:" in lab for lab in labels)
    finals = [float(lab.rsplit(" ", 1)[1].rstrip(")")) for lab in labels]
    for f, arm in zip(finals, spiral_run.arms.values()):
        assert f == pytest.approx(np.nanmean(arm.history.values["train/running_loss"][-1]), abs=1e-4)
    plt.close(fig)


def test_a_trace_without_named_points_is_not_drawn_and_the_report_says_why(spiral_run, spiral_report):
    assert not spiral_run.metrics.get("points")
    assert isinstance(signal_trace_figure(spiral_run), str)
    assert not (spiral_report[0] / "figures" / "signal_trace.png").exists()
    page = (spiral_report[0] / "report.html").read_text()
    assert "Figure &#39;signal_trace&#39; not drawn: no points are named" in page


SMALL = {
    "name": "small",
    "data": {"name": "spiral", "n_samples": 120, "noise": 0.05},
    "model": {"hidden": [6, 6]},
    "train": {"epochs": 3, "batch_size": 32},
    "arms": [{"name": "relu", "activation": "relu"}, {"name": "sigmoid", "activation": "sigmoid"}],
    "seeds": {"count": 2},
    "probes": {"include": ["signal", "context"], "epochs": [1]},
}


def test_probes_left_out_leave_no_empty_panel_and_the_note_says_which_and_why():
    run = run_experiment(parse_spec(SMALL))
    fig, note = over_epochs_figure(run)
    for ax in fig.axes:
        assert ax.lines, ax.get_title()  # every panel drawn has data
    titles = {ax.get_title() for ax in fig.axes}
    assert len(fig.axes) == 4 and not any("probe accuracy" in t or "participation" in t for t in titles)
    assert "participation ratio" in note and "not in [probes] include" in note
    plt.close(fig)


def test_confusion_matrices_have_integer_ticks_named_by_the_data():
    spec = parse_spec({"name": "iris", "data": {"name": "iris"}, "model": {"hidden": [5]},
                       "train": {"epochs": 2}, "seeds": {"count": 1},
                       "arms": [{"name": "relu", "activation": "relu"}], "probes": {"include": []}})
    run = run_experiment(spec)
    fig = report_html._all_figures()["confusion"][0](run)
    ax = fig.axes[0]
    assert list(ax.get_xticks()) == [0, 1, 2] and list(ax.get_yticks()) == [0, 1, 2]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["setosa", "versicolor", "virginica"]
    plt.close(fig)


FIXED_LR_SWEEP = """
[sweep]
name = "fixed"
target_accuracy = 0.8
latency = false

[sweep.grid]
activation = ["sigmoid", "relu"]
model.depth = [1, 2]
model.width = [2, 4]

[data]
n_samples = 60

[model]
hidden = [4]

[train]
lr = 0.1
epochs = 3

[seeds]
count = 2
"""


def test_a_sweep_at_one_fixed_rate_never_says_tuned(tmp_path):
    from actscope.report.sweep_report import accuracy_map_figure
    from actscope.sweep import load_sweep, run_sweep

    cfg = tmp_path / "sweep.toml"
    cfg.write_text(FIXED_LR_SWEEP)
    res = run_sweep(load_sweep(cfg), out=tmp_path / "out", progress=False, report=True, echo=lambda m: None)
    page = (tmp_path / "out" / "report.html").read_text().lower()
    body = page.split("<h2>configuration</h2>")[0]  # the spec itself may name its keys
    assert "tuned" not in body and "naive" not in body
    assert "<th>lr</th><th>acc</th>" in page
    analysis = json.loads((tmp_path / "out" / "analysis.json").read_text())
    fig = accuracy_map_figure(analysis)
    assert "at lr 0.1" in fig._suptitle.get_text() and "tuned" not in fig._suptitle.get_text()
    plt.close(fig)
    assert res is not None


def test_heatmap_tiles_of_units_dead_on_the_training_split_are_labelled(spiral_run):
    from actscope.analysis import probes
    from actscope.engines import NumpyEngine
    from actscope.report.map_figures import heatmaps_figure

    fig = heatmaps_figure(spiral_run)
    cells = [(n, i) for n, a in spiral_run.arms.items() for i in range(a.mlp.depth)]
    assert len(fig.axes) == len(cells)
    for ax, (name, i) in zip(fig.axes, cells):
        arm = spiral_run.arms[name]
        dead = probes.dead_units(NumpyEngine(), arm.mlp, arm.member(arm.first_finite()),
                                 spiral_run.dataset.X_train, spiral_run.spec.probes.saturation)[i][0]
        labelled = [t for t in ax.texts if t.get_text().startswith("dead")]
        assert len(labelled) == int(dead.sum()), (name, i)
        assert f"({int(dead.sum())} dead" in ax.get_title()
    plt.close(fig)


def test_without_saturating_or_relu_layers_the_fractions_panel_is_left_out_and_said_so():
    from actscope.report.probe_figures import signal_figure

    arms = [{"name": "gelu", "activation": "gelu"}, {"name": "silu", "activation": "silu"}]
    smooth = {**SMALL, "arms": arms, "probes": {"include": ["signal"]}}
    fig, note = signal_figure(run_experiment(parse_spec(smooth)))
    assert len(fig.axes) == 2 and "No saturated or dead fractions" in note
    plt.close(fig)
    fig = signal_figure(run_experiment(parse_spec({**smooth, "arms": SMALL["arms"]})))
    assert len(fig.axes) == 3  # relu and sigmoid: dead and saturated fractions drawn
    plt.close(fig)
