"""Commands that hand a run to other tools: ``export`` (one member as ONNX or a torch
program) and ``track`` (a run directory logged to MLflow)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import click

from actscope.cli.group import fail, main
from actscope.errors import InputError, shorten

log = logging.getLogger(__name__)

MLFLOW_HELP = ("Log the run to MLflow at URI (sqlite:///mlflow.db, http://host:5000, ...); "
               "without a URI, $MLFLOW_TRACKING_URI. Needs the extra 'mlflow'.")


def tracking_uri(value: str | None) -> str | None:
    """The URI ``--mlflow`` names (the empty value: $MLFLOW_TRACKING_URI), None when tracking
    was not asked for; an InputError when neither gives one."""
    if value is None:
        return None
    uri = value or os.environ.get("MLFLOW_TRACKING_URI", "")
    if not uri:
        raise InputError("--mlflow: no URI given and MLFLOW_TRACKING_URI is not set; "
                         "write --mlflow sqlite:///mlflow.db (or set the variable)")
    return uri


def open_tracking(value: str | None):
    """The MLflow client ``--mlflow`` asks for, its store opened before any work (None when
    tracking was not asked for)."""
    uri = tracking_uri(value)
    if uri is None:
        return None
    from actscope.interop.tracking import client

    return client(uri)


def log_to_mlflow(mlflow_client, run_dir: Path, experiment: str | None = None) -> str:
    """Log ``run_dir``; says on stderr where (stdout's last line stays the run directory)."""
    from actscope.interop.tracking import log_run

    try:
        rid = log_run(run_dir, experiment=experiment, mlflow_client=mlflow_client)
    except InputError:
        raise
    except Exception as err:  # noqa: BLE001 - the store's own failures: the run is kept
        fail(f"{run_dir}: logging to MLflow failed ({type(err).__name__}: {shorten(str(err), 200)}); "
             f"the run is kept; `actscope track {run_dir} --mlflow URI` logs it again", 1)
    log.info("mlflow: run %s at %s", rid, mlflow_client.tracking_uri)
    return rid


@main.command("export", short_help="Export one trained network (ONNX or torch).")
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--arm", type=str, help="The arm to export (may be left out when the run has one).")
@click.option("--member", type=click.IntRange(min=0), default=0, show_default=True,
              help="The member of the arm's ensemble (0 to K-1).")
@click.option("--format", "fmt", type=click.Choice(["onnx", "torch"]), default="onnx", show_default=True,
              help="onnx: an ONNX file (onnxruntime runs it); torch: a torch.export program (.pt2).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write [default: RUN_DIR/exports/ARM-memberK.onnx|.pt2].")
@click.option("--dtype", type=click.Choice(["float32", "float64"]),
              help="Precision [default: float32 for onnx, float64 for torch].")
def export_command(run_dir, arm, member, fmt, out, dtype) -> None:
    """Export one member of one arm of RUN_DIR as ONNX or a torch program.

    The file takes raw features (the run's standardisation is inside it) and gives class
    probabilities; before it is written its predictions are checked against actscope's own
    on the run's test split. The last line printed is the file's path.
    """
    from actscope.engines import MissingExtraError
    from actscope.interop.export import TOLERANCE, export

    try:
        path, err = export(run_dir, arm, member, fmt, out, dtype)
    except MissingExtraError as e:
        raise InputError(f"--format = {fmt!r}: {e}") from None
    log.info(f"largest difference from actscope's probabilities on the test split: {err:.2g} "
             f"(tolerance {TOLERANCE[dtype or ('float32' if fmt == 'onnx' else 'float64')]:g})")
    click.echo(str(path))


@main.command("track", short_help="Log a run directory to MLflow.")
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--mlflow", "uri", metavar="URI", default="", help=MLFLOW_HELP)
@click.option("--experiment", type=str, help="MLflow experiment [default: the spec's name].")
def track(run_dir, uri, experiment) -> None:
    """Log the run directory RUN_DIR to MLflow: the resolved spec as parameters, per-epoch
    metrics, summaries, and the directory's files as artifacts. Prints the MLflow run id."""
    from actscope.experiment.rundir import check_run_dir

    check_run_dir(Path(run_dir))
    click.echo(log_to_mlflow(open_tracking(uri), run_dir, experiment))
