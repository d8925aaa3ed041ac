"""An MLflow adapter: a finished run directory logged as one MLflow run.

What is logged, read from the run directory alone (so a run trained in forked processes, on
a GPU or long ago logs alike):

- parameters: the resolved spec (config.toml), flattened to ``section.field`` (``train.lr``,
  ``model.hidden``, ``arms.0.activation``, ``activations.mish2.formula``);
- per-epoch metrics with their step (the epoch, 1-based): for every arm and every history
  key, the mean over the members at each epoch the key was evaluated
  (``relu/train/running_loss``, ``relu/test/accuracy``, ...);
- summaries: each arm's summary of every member metric, ``<arm>/summary/<metric>`` (the mean)
  and ``.../ci95_low``, ``.../ci95_high`` where metrics.json has an interval;
- tags ``actscope_version``, ``actscope_run_dir``, ``actscope_status``; the whole run
  directory as artifacts.

MLflow names allow letters, digits and ``_ - . / : space``; any other character of an arm's
name (``+``) is written ``_``.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np

from actscope.errors import InputError, shorten, shown

_BATCH = 900  # MLflow takes at most 1000 metrics and 100 parameters per log_batch
_PARAM_BATCH = 90
_MAX_PARAM = 6000  # MLflow's longest parameter value
_UNSAFE = re.compile(r"[^\w\-./: ]")


def _mlflow():
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise InputError("--mlflow: tracking needs MLflow, which is not installed: "
                         "pip install 'actscope[mlflow]'") from None
    return MlflowClient


def client(tracking_uri: str | None):
    """An ``MlflowClient`` for ``tracking_uri`` (None: MLflow's own default, which reads
    ``MLFLOW_TRACKING_URI``), its store opened now, so a bad URI is refused before any work:
    an InputError naming ``--mlflow``."""
    MlflowClient = _mlflow()
    from mlflow.exceptions import MlflowException

    try:
        c = MlflowClient(tracking_uri=tracking_uri)  # opens the store: checks the URI
    except (MlflowException, ValueError, OSError, ImportError) as err:
        raise InputError(f"--mlflow = {shown(tracking_uri or '')}: {shorten(str(err), 300)}") from None
    return c


def safe(name: str) -> str:
    """``name`` with the characters MLflow refuses in keys written ``_``."""
    return _UNSAFE.sub("_", name)


def flatten(value, prefix: str = "") -> dict[str, str]:
    """Nested tables as ``a.b.c`` keys; lists of tables by index (``arms.0.name``); other
    lists and scalars as text (longest values shortened to MLflow's limit)."""
    out: dict[str, str] = {}
    if isinstance(value, dict):
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for i, v in enumerate(value):
            out.update(flatten(v, f"{prefix}.{i}"))
    else:
        text = str(value) if not isinstance(value, bool) else str(value).lower()
        out[safe(prefix)] = shorten(text, _MAX_PARAM)
    return out


def epoch_metrics(arm: str, history) -> list[tuple[str, float, int]]:
    """(key, mean over members, epoch) at every epoch each history key was evaluated."""
    out = []
    for key in history.keys():
        mean = history.stat(key, "mean")
        for e in np.flatnonzero(np.isfinite(mean)):
            out.append((f"{safe(arm)}/{safe(key)}", float(mean[e]), int(e) + 1))
    return out


def summary_metrics(arm: str, summary: dict) -> list[tuple[str, float]]:
    """(key, value) of an arm's summaries: means and, where there is one, the 95% interval."""
    out = []
    for metric, s in summary.items():
        if not isinstance(s, dict):
            continue
        base = f"{safe(arm)}/summary/{safe(metric)}"
        if s.get("mean") is not None:
            out.append((base, float(s["mean"])))
        ci = s.get("ci95")
        if ci:
            out += [(f"{base}/ci95_low", float(ci[0])), (f"{base}/ci95_high", float(ci[1]))]
    return out


def log_run(run_dir: str | Path, tracking_uri: str | None = None, experiment: str | None = None,
            mlflow_client=None) -> str:
    """Log a run directory as one MLflow run; returns its run id.

    Parameters
    ----------
    run_dir : path
        A run directory (read back with `actscope.experiment.load_run`).
    tracking_uri : str, optional
        The MLflow store (``sqlite:///mlflow.db``, ``http://host:5000``, ...); None:
        MLflow's default, which honours ``MLFLOW_TRACKING_URI``.
    experiment : str, optional
        The MLflow experiment (created when missing); default: the spec's name.
    mlflow_client : MlflowClient, optional
        One already opened (`client`), instead of ``tracking_uri``.
    """
    from mlflow.entities import Metric, Param, RunTag

    from actscope._util.version import __version__
    from actscope.experiment.rundir import load_run
    from actscope.experiment.runfiles import run_state

    run = load_run(run_dir)
    c = mlflow_client or client(tracking_uri)
    name = experiment or run.spec.name
    found = c.get_experiment_by_name(name)
    exp_id = found.experiment_id if found is not None else c.create_experiment(name)
    path = Path(run_dir).resolve()
    tags = {"actscope_version": __version__, "actscope_run_dir": str(path),
            "actscope_status": str(run_state(path) or "unknown")}
    mlrun = c.create_run(exp_id, run_name=path.name, tags=tags)
    rid, now = mlrun.info.run_id, int(time.time() * 1000)
    params = [Param(k, v) for k, v in flatten(run.spec.model_dump(mode="json", exclude_none=True)).items()]
    metrics = []
    for arm_name, arm in run.arms.items():
        metrics += [Metric(k, v, now, step) for k, v, step in epoch_metrics(arm_name, arm.history)]
        summary = run.metrics["arms"][arm_name].get("summary", {})
        metrics += [Metric(k, v, now, 0) for k, v in summary_metrics(arm_name, summary)]
    try:
        for i in range(0, len(params), _PARAM_BATCH):
            c.log_batch(rid, params=params[i:i + _PARAM_BATCH])
        for i in range(0, len(metrics), _BATCH):
            c.log_batch(rid, metrics=metrics[i:i + _BATCH])
        c.log_batch(rid, tags=[RunTag(k, v) for k, v in tags.items()])
        c.log_artifacts(rid, str(path))
    except BaseException:
        c.set_terminated(rid, "FAILED")
        raise
    c.set_terminated(rid, "FINISHED")
    return rid


__all__ = ["client", "epoch_metrics", "flatten", "log_run", "safe", "summary_metrics"]
