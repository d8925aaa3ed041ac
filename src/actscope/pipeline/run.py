"""An experiment end to end: claim the run directory, train, save, write its report (drawn
by a worker process forked before the training stack loads, where that saves time).

The run directory is claimed before anything else (`experiment.rundir.RunWriter`): a path
that cannot be written, or that another run holds, is refused before any data loads; the
trained state is on disk before anything that can fail runs.
"""

from __future__ import annotations

import logging
import os
from contextlib import nullcontext
from functools import partial
from pathlib import Path

from actscope._util.runlock import holder, try_lock
from actscope.analysis.probes.representation import preload as preload_probes
from actscope.config import ExperimentSpec, load_spec
from actscope.errors import RunDirError
from actscope.experiment import run_experiment as train_and_measure
from actscope.experiment import runfiles as rf
from actscope.experiment.notebook import notebook_progress
from actscope.experiment.run import measure
from actscope.experiment.rundir import Run, check_run_dir, load_run, load_trained, open_run, staged
from actscope.pipeline.report_worker import ReportWorker, worker_pays

log = logging.getLogger("actscope")


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
    ``out`` (default ``runs/<name>-<stamp>``) is claimed first: a file in the way, a folder
    that cannot be written, one that is not empty or one another run holds is an InputError
    before any work. Ctrl-C while the report is drawn keeps the trained run, without its
    report, and marks it ``interrupted``; an error after training keeps the trained state,
    marked failed, and raises `RunFailedError` saying where it is. ``progress``: an object
    with ``start(arm, epochs)`` and ``advance(arm, loss)``; None shows a table in a Jupyter
    notebook (`experiment.notebook.NotebookProgress`) and nothing elsewhere; False: none.
    """
    if not isinstance(spec, ExperimentSpec):
        spec = load_spec(spec)
    progress = notebook_progress() if progress is None else (None if progress is False else progress)
    if not save:
        return train_and_measure(spec, progress=progress)
    want_report = spec.report.enabled if report is None else report
    with open_run(out, spec) as writer:
        # the report stack loads in a worker forked now, while this process trains
        worker = ReportWorker(spec) if want_report and worker_pays() else None
        with worker or nullcontext():
            run = train_and_measure(spec, progress=progress,
                                    while_training=partial(_preload, spec, want_report and worker is None),
                                    on_trained=partial(_trained, writer, worker))
            writer.save_metrics(run)
            if want_report:
                try:
                    with writer.staging() as tmp:
                        _draw(run, tmp, worker)
                except KeyboardInterrupt:  # the trained run is kept; `actscope report` draws it later
                    run.interrupted = True
            writer.finish(run)
    return run


def _trained(writer, worker: ReportWorker | None, run: Run) -> None:
    """The arms are in: save them, then let the report worker start on the figures that
    need nothing more (it draws them while this process measures the run)."""
    writer.save_trained(run)
    if worker is not None:
        worker.trained(run)


def _draw(run: Run, folder: Path, worker: ReportWorker | None) -> None:
    if worker is not None:
        worker.write_report(run, folder)
    else:  # deferred: matplotlib loads only when a report is drawn here
        from actscope.report import write_report

        write_report(run, folder)


def _preload(spec: ExperimentSpec, report_here: bool) -> None:
    """Import, while the arms train, what measuring them and drawing here will load: the
    logistic probes' SciPy optimiser when the representation probe runs, and matplotlib
    with the figure modules (over a second) when the report is drawn here."""
    if "representation" in spec.probes.include:
        preload_probes()
    if report_here:
        from actscope import report  # noqa: F401 - deferred: loading it is the point


def _load_or_rebuild(run_dir: Path) -> Run:
    """The run of ``run_dir``; metrics.json rebuilt first when it is missing or corrupt."""
    try:
        rf.read_metrics(run_dir)
    except RunDirError as err:
        run = load_trained(run_dir)  # a RunDirError of its own when the trained state is damaged
        run.metrics = rf.flag_nonfinite(measure(run))
        rf.write_json(run_dir / rf.METRICS, run.metrics)
        rf.record_digests(run_dir, rf.METRICS)
        what = str(err).split("; `actscope report")[0]
        log.warning("%s; rebuilt from params.npz, the history and config.toml", what)
    return load_run(run_dir)


def rewrite_report(run_dir: str | Path) -> Path:
    """Redraw the figures and report.html of an existing run directory.

    metrics.json is rebuilt first when it is missing or corrupt; a run that was abandoned
    or failed after training is marked complete once it is whole again. A damaged trained
    state (config.toml, params.npz, the history) is a `RunDirError` of one line.
    """
    from actscope.report import write_report  # deferred: matplotlib

    run_dir = Path(run_dir)
    check_run_dir(run_dir)
    state = rf.run_state(run_dir)
    lock = try_lock(run_dir) if os.access(run_dir, os.W_OK) else None
    if lock is None:
        who = holder(run_dir)
        raise RunDirError(f"{run_dir}: " + (f"a run (pid {who}) is writing it" if who is not None
                                            else "the folder is not writable"))
    try:
        for p in run_dir.glob(".*.tmp"):  # half-written files of a killed writer: we hold the lock
            if p.is_file():
                p.unlink()
        run = _load_or_rebuild(run_dir)
        with staged(run_dir) as tmp:
            write_report(run, tmp)
        if state in ("failed", "abandoned", "running") and rf.read_status(run_dir, strict=False):
            rf.write_status(run_dir, "interrupted" if run.interrupted else "complete", rebuilt=True)
    finally:
        lock.release()
    return run_dir / "report.html"
