"""The report worker: forked before the training stack loads, it draws the report that this
process would draw, byte for byte; its errors come back; it never outlives its use."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from actscope._util import parallel
from actscope.config import parse_spec
from actscope.experiment import run_experiment
from actscope.pipeline import report_worker as reporter
from actscope.pipeline.report_worker import ReportWorker
from actscope.report import html as report_html
from actscope.report import theory_figures, write_report

pytestmark = pytest.mark.skipif(not parallel.can_fork(), reason="the worker is forked (Linux)")

SPEC = {
    "name": "worker",
    "data": {"n_samples": 80},
    "model": {"hidden": [4, 4]},
    "train": {"epochs": 4, "batch_size": 16},
    "arms": [{"name": "relu", "activation": "relu"}, {"name": "sigmoid", "activation": "sigmoid"}],
    "seeds": {"count": 2},
}


@pytest.fixture(scope="module")
def small_run():
    return run_experiment(parse_spec(SPEC))


def _files(d):
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_the_worker_writes_the_report_this_process_would(small_run, tmp_path):
    here, there = tmp_path / "here", tmp_path / "there"
    write_report(small_run, here)
    with ReportWorker(small_run.spec) as worker:
        path = worker.write_report(small_run, there)
    assert path == there / "report.html"
    mine, its = _files(here), _files(there)
    assert sorted(mine) == sorted(its) and len([f for f in its if f.endswith(".png")]) >= 5
    for name in mine:
        assert mine[name] == its[name], name


def test_a_figure_error_in_the_worker_is_raised_here(small_run, tmp_path, monkeypatch):
    def broken(run):
        raise ValueError("this figure cannot be drawn")

    monkeypatch.setitem(report_html._EXTRA_FIGURES, "broken", (broken, False))
    monkeypatch.setenv("ACTSCOPE_REPORT_WORKERS", "1")
    with ReportWorker(small_run.spec) as worker, pytest.raises(ValueError, match="cannot be drawn"):
        worker.write_report(small_run, tmp_path / "out")


def test_an_unused_worker_ends_when_its_block_does(small_run):
    with ReportWorker(small_run.spec) as worker:
        proc = worker._proc
        assert proc.is_alive()
    assert not proc.is_alive() and proc.exitcode is not None


def test_a_worker_whose_parent_is_gone_ends(small_run):
    worker = ReportWorker(small_run.spec)
    worker._conn.close()  # what the parent's death does to the pipe
    worker._proc.join(timeout=60)
    assert not worker._proc.is_alive()


def test_prepare_computes_the_phase_diagram_the_figure_then_reuses(small_run):
    theory_figures._init_diagram.cache_clear()
    report_html.prepare(small_run.spec)
    computed = theory_figures._init_diagram.cache_info().misses
    assert computed == 2  # one diagram per activation: relu and sigmoid
    fig = theory_figures.init_phase_figure(small_run)
    info = theory_figures._init_diagram.cache_info()
    assert fig is not None and info.hits == 2 and info.misses == computed


def test_a_failing_preparer_leaves_the_report_to_its_figure(small_run, monkeypatch):
    def fails(spec):
        raise RuntimeError("no")

    monkeypatch.setattr(report_html, "_PREPARE", [fails, *report_html._PREPARE])
    report_html.prepare(small_run.spec)  # no error: preparing only saves time


def test_the_worker_pays_only_where_the_report_stack_is_not_loaded_and_a_core_is_free(monkeypatch):
    monkeypatch.setattr(parallel, "python_threads", lambda: 1)
    monkeypatch.setattr(reporter, "usable_cores", lambda: 2)
    monkeypatch.delitem(sys.modules, "matplotlib.pyplot", raising=False)
    assert reporter.worker_pays()
    monkeypatch.setattr(reporter, "usable_cores", lambda: 1)
    assert not reporter.worker_pays()
    monkeypatch.setattr(reporter, "usable_cores", lambda: 2)
    monkeypatch.setattr(parallel, "python_threads", lambda: 2)  # a notebook kernel's threads
    assert not reporter.worker_pays()
    monkeypatch.setattr(parallel, "python_threads", lambda: 1)
    import matplotlib.pyplot  # noqa: F401

    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", sys.modules["matplotlib.pyplot"])
    assert not reporter.worker_pays()


def _python(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                         check=True, timeout=600)
    return out.stdout.strip().splitlines()[-1]


def test_the_report_stack_loads_without_scikit_learn():
    assert _python("""
        import sys
        import actscope.report
        print(sorted(m for m in ("sklearn", "scipy.stats") if m in sys.modules))
    """) == "[]"


def test_a_fresh_process_draws_its_report_in_the_worker(tmp_path):
    # the run's own process never loads matplotlib: the worker drew every figure
    assert _python(f"""
        import os, sys
        os.environ["ACTSCOPE_ARM_WORKERS"] = "1"
        from actscope.config import parse_spec
        from actscope.pipeline import run_experiment
        from actscope._util import parallel
        parallel.usable_cores = lambda: 2  # a worker even on a one-core machine
        import actscope.pipeline.report_worker as r
        r.usable_cores = lambda: 2
        run = run_experiment(parse_spec({SPEC!r}), out={str(tmp_path / 'run')!r})
        pngs = list((run.path / "figures").glob("*.png"))
        print("matplotlib" in sys.modules, (run.path / "report.html").is_file(), len(pngs) >= 5)
    """) == "False True True"


def _interrupting_figure(run):
    raise KeyboardInterrupt


@pytest.mark.parametrize("in_worker", [False, True])
def test_ctrl_c_while_drawing_keeps_the_trained_run_without_a_report(tmp_path, monkeypatch, in_worker):
    from actscope.pipeline import run as pipeline  # where run_experiment looks worker_pays up

    monkeypatch.setitem(report_html._EXTRA_FIGURES, "interrupts", (_interrupting_figure, False))
    monkeypatch.setenv("ACTSCOPE_REPORT_WORKERS", "1")
    monkeypatch.setenv("ACTSCOPE_ARM_WORKERS", "1")
    monkeypatch.setattr(pipeline, "worker_pays", lambda: in_worker)
    run = pipeline.run_experiment(parse_spec(SPEC), out=tmp_path / "run")
    assert run.interrupted and run.path == tmp_path / "run"
    kept = sorted(p.name for p in run.path.iterdir())
    assert kept == ["config.toml", "history.npz", "metrics.json", "params.npz", "status.json"]
    assert not list(tmp_path.glob(".run.*"))  # no temporary folder left behind


def test_the_cli_says_how_to_draw_a_report_that_ctrl_c_stopped(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from actscope.cli import main

    config = tmp_path / "c.toml"
    config.write_text(parse_spec(SPEC).to_toml())
    monkeypatch.setitem(report_html._EXTRA_FIGURES, "interrupts", (_interrupting_figure, False))
    monkeypatch.setenv("ACTSCOPE_REPORT_WORKERS", "1")
    res = CliRunner().invoke(main, ["run", str(config), "--out", str(tmp_path / "run"), "--quiet"])
    assert res.exit_code == 130
    assert f"actscope report {tmp_path / 'run'}" in res.output
    assert res.output.strip().splitlines()[-1] == str(tmp_path / "run")


def test_write_figure_skips_the_second_layout_pass_and_writes_the_same_file(tmp_path):
    import matplotlib.pyplot as plt

    from actscope.report.style import write_figure

    def figure():
        fig, ax = plt.subplots(figsize=(4, 3))
        ax.plot([0, 1, 2], [1, 0, 2], label="a line")
        ax.set_title("a title")
        ax.legend()
        fig.tight_layout()
        return fig

    plain = figure()
    plain.savefig(tmp_path / "plain.png", dpi=80, pil_kwargs={"compress_level": 1})
    fig = figure()
    write_figure(fig, tmp_path / "written.png", 80)
    assert fig.get_layout_engine() is None  # the placeholder that costs a layout pass is gone
    assert (tmp_path / "plain.png").read_bytes() == (tmp_path / "written.png").read_bytes()
    write_figure(figure(), tmp_path / "vector.svg", 80)  # no PNG options for other formats
    assert (tmp_path / "vector.svg").read_text().lstrip().startswith("<?xml")
    plt.close("all")


def test_the_report_leaves_a_backend_the_user_chose_alone():
    """A notebook's or script's backend survives importing the report (headless Agg is the
    default only when nothing was chosen)."""
    code = ("import matplotlib; matplotlib.use('svg'); import matplotlib.pyplot; "
            "import actscope.report.style; print(matplotlib.get_backend())")
    chosen = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    alone = subprocess.run([sys.executable, "-c", "import matplotlib, actscope.report.style; "
                            "print(matplotlib.get_backend())"], capture_output=True, text=True, timeout=120)
    assert chosen.stdout.strip() == "svg", chosen.stderr
    assert alone.stdout.strip().lower() == "agg", alone.stderr
