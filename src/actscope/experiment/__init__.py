"""Experiments: an ExperimentSpec trained arm by arm into a Run, measured, and kept in a
run directory.

Modules: ``arms`` (each arm's network, training and engine), ``run`` (`run_experiment`),
``metrics`` (metrics.json), ``rundir`` (claim, save stage by stage, load and list run
directories), ``runfiles`` (each file of a run directory, written whole, checked when read).
"""

from actscope.experiment.arms import arm_model, arm_train, make_engine
from actscope.experiment.metrics import SUMMARY_METRICS, compute_metrics, member_metrics
from actscope.experiment.run import ArmOutcome, ArmTrainer, epoch_loss, run_experiment
from actscope.experiment.rundir import ArmResult, Run, default_run_dir, list_runs, load_run, save_run

__all__ = ["SUMMARY_METRICS", "ArmOutcome", "ArmResult", "ArmTrainer", "Run", "arm_model", "arm_train",
           "compute_metrics", "default_run_dir", "epoch_loss", "list_runs", "load_run", "make_engine",
           "member_metrics", "run_experiment", "save_run"]
