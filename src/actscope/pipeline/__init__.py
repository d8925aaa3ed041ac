"""Run an experiment end to end: claim the run directory, train, save, write its report.

Modules: ``run`` (`run_experiment`, `rewrite_report`), ``report_worker`` (the forked
process that draws the report while the arms train).
"""

from actscope.pipeline.report_worker import ReportWorker, worker_pays
from actscope.pipeline.run import rewrite_report, run_experiment

__all__ = ["ReportWorker", "rewrite_report", "run_experiment", "worker_pays"]
