"""Figures drawn from the trained arms before the run is measured (`report.start_early`):
they never read the metrics, and the report holds the files drawing them later writes."""

from __future__ import annotations

import dataclasses

import pytest

from actscope._util import parallel
from actscope.config import parse_spec
from actscope.experiment import run_experiment
from actscope.pipeline.report_worker import ReportWorker
from actscope.report import html as report_html
from actscope.report import write_report
from actscope.report.html import start_early

pytestmark = pytest.mark.skipif(not parallel.can_fork(), reason="early figures are drawn by a fork")

SPEC = {
    "name": "early",
    "data": {"n_samples": 80},
    "model": {"hidden": [4, 4]},
    "train": {"epochs": 4, "batch_size": 16},
    "arms": [{"name": "relu", "activation": "relu"}, {"name": "sigmoid", "activation": "sigmoid"}],
    "seeds": {"count": 2},
    "probes": {"points": [{"name": "p", "x": [0.5, 0.5]}]},
}


@pytest.fixture(scope="module")
def small_run():
    return run_experiment(parse_spec(SPEC))


def _unmeasured(run):
    return dataclasses.replace(run, metrics={})


def _files(d):
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_figures_from_the_arms_do_not_read_the_metrics(small_run):
    early = sorted(report_html._FROM_ARMS)
    assert {"dataset", "decision_boundaries", "theory_phase_diagram"} <= set(early)
    bare = _unmeasured(small_run)
    dpi = small_run.spec.report.dpi
    for name in early:
        png, note = report_html.render(small_run, name, dpi)
        assert png is not None and png.startswith(b"\x89PNG"), name
        assert report_html.render(bare, name, dpi) == (png, note), name


def test_a_figure_that_reads_the_metrics_is_not_drawn_early(small_run):
    bare = _unmeasured(small_run)
    dpi = small_run.spec.report.dpi
    # the signal trace reads metrics.json's points: without them it is not drawn at all
    assert report_html.render(bare, "signal_trace", dpi)[0] is None
    assert report_html.render(small_run, "signal_trace", dpi)[0] is not None
    assert "signal_trace" not in report_html._FROM_ARMS


def test_the_worker_drawing_early_writes_the_report_this_process_would(small_run, tmp_path, monkeypatch):
    monkeypatch.setenv("ACTSCOPE_REPORT_WORKERS", "2")
    here, there = tmp_path / "here", tmp_path / "there"
    write_report(small_run, here)
    with ReportWorker(small_run.spec) as worker:
        worker.trained(_unmeasured(small_run))
        worker.write_report(small_run, there)
    mine, its = _files(here), _files(there)
    assert sorted(mine) == sorted(its)
    for name in mine:
        assert mine[name] == its[name], name


def test_early_figures_are_drawn_once_and_taken_from_the_early_process(small_run, tmp_path, monkeypatch):
    monkeypatch.setenv("ACTSCOPE_REPORT_WORKERS", "2")
    early = start_early(_unmeasured(small_run))
    assert early is not None and "decision_boundaries" in early.names
    drawn_later = []
    real = report_html._draw_one
    monkeypatch.setattr(report_html, "_draw_one", lambda task: drawn_later.append(task[0]) or real(task))
    monkeypatch.setenv("ACTSCOPE_REPORT_WORKERS", "1")  # the rest here, so the spy sees them
    paths, _, _ = report_html.write_figures(small_run, tmp_path, dpi=small_run.spec.report.dpi, early=early)
    assert not set(drawn_later) & set(early.names)
    assert {p.stem for p in paths} >= set(early.names) | {"signal_trace"}


def test_one_worker_draws_nothing_early(small_run, monkeypatch):
    monkeypatch.setenv("ACTSCOPE_REPORT_WORKERS", "1")
    assert start_early(small_run) is None


def test_an_early_figure_error_is_raised_when_the_report_is_written(small_run, tmp_path, monkeypatch):
    def broken(run):
        raise ValueError("this early figure cannot be drawn")

    monkeypatch.setitem(report_html._EXTRA_FIGURES, "broken", (broken, False))
    monkeypatch.setattr(report_html, "_FROM_ARMS", report_html._FROM_ARMS | {"broken"})
    monkeypatch.setenv("ACTSCOPE_REPORT_WORKERS", "2")
    early = start_early(_unmeasured(small_run))
    assert early is not None and "broken" in early.names
    with pytest.raises(ValueError, match="cannot be drawn"):
        report_html.write_figures(small_run, tmp_path, early=early)
