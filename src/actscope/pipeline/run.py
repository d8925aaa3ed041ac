"""An experiment end to end: train, save the run directory, write its report (drawn by a
worker process forked before the training stack loads, where that saves time)."""

from __future__ import annotations

import shutil
from contextlib import nullcontext
from pathlib import Path

from actscope.config import ExperimentSpec, load_spec
from actscope.experiment import run_experiment as train_and_measure
from actscope.experiment.rundir import Run, load_run, save_run
from actscope.pipeline.report_worker import ReportWorker, worker_pays


def run_experiment(
    spec: ExperimentSpec | str | Path,
    out: str | Path | None = None,
    report: bool | None = None,
    progress=None,
    save: bool = True,
) -> Run:
    """Train every arm of ``spec``, save the run directory and (by default) its report.

    ``spec`` is an ExperimentSpec, a TOML path or a preset name. ``report=None`` follows
    ``[report] enabled``. With ``save=False`` nothing is written and the Run is returned.
    Ctrl-C while the report is drawn keeps the trained run, without its report, and marks
    it ``interrupted``.
    """
    if not isinstance(spec, ExperimentSpec):
        spec = load_spec(spec)
    want_report = save and (spec.report.enabled if report is None else report)
    # the report stack loads in a worker forked now, while this process trains (scikit-learn
    # loads with the first dataset)
    worker = ReportWorker(spec) if want_report and worker_pays() else None
    with worker or nullcontext():
        loading = _load_report_modules if want_report and worker is None else None
        run = train_and_measure(spec, progress=progress, while_training=loading)
        if not save:
            return run

        def extra(r: Run, tmp: Path) -> None:
            if not want_report:
                return
            try:
                if worker is not None:
                    worker.write_report(r, tmp)
                else:  # deferred: matplotlib loads only when a report is drawn here
                    from actscope.report import write_report

                    write_report(r, tmp)
            except KeyboardInterrupt:  # the trained run is kept; `actscope report` draws it later
                shutil.rmtree(tmp / "figures", ignore_errors=True)
                (tmp / "report.html").unlink(missing_ok=True)
                r.interrupted = True

        save_run(run, out, extra=extra)
    return run


def _load_report_modules() -> None:
    """Import matplotlib and the figure modules (over a second) while arms train."""
    from actscope import report  # noqa: F401 - deferred: loading it is the point


def rewrite_report(run_dir: str | Path) -> Path:
    """Redraw the figures and report of an existing run directory."""
    from actscope.report import write_report  # deferred: matplotlib

    run = load_run(run_dir)
    return write_report(run, run.path)
