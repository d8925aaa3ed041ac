"""``actscope export``: one member of one arm of a run directory, written as an ONNX file or
a ``torch.export`` program, checked against actscope's own forward pass before it is kept.

Everything that can be wrong with the request (the run directory, the arm, the member, the
format, the output path, a missing extra) is refused before anything is written.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from actscope._util.atomic import atomic_path
from actscope.engines import MissingExtraError
from actscope.errors import InputError, shown
from actscope.interop.member import Member, pick_member, reference_proba

FORMATS = {"onnx": ".onnx", "torch": ".pt2"}
DTYPES = ("float32", "float64")
# an export must give actscope's probabilities to this (the float32 ONNX graph rounds)
TOLERANCE = {"float32": 1e-4, "float64": 1e-9}


def default_out(run_dir: Path, m: Member, fmt: str) -> Path:
    """``RUN_DIR/exports/<arm>-member<k>.<ext>``."""
    return Path(run_dir) / "exports" / f"{m.arm}-member{m.index}{FORMATS[fmt]}"


def check_out(out: Path) -> Path:
    """``out`` if a file can be written there (an InputError naming ``--out`` otherwise)."""
    out = Path(out)
    if out.is_dir():
        raise InputError(f"--out = {shown(str(out))}: is a folder; give a file name")
    parent = out.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"--out = {shown(str(out))}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"--out = {shown(str(out))}: the folder {parent} cannot be written")
    return out


def sample_inputs(m: Member, run=None, n: int = 256) -> np.ndarray:
    """Raw feature rows to check an export on: the run's test split mapped back to raw
    features when there is a run, else standard normal rows through the inverse scaler."""
    if run is not None:
        X = np.asarray(run.dataset.X_test[:n], dtype=np.float64)
    else:
        X = np.random.default_rng(0).standard_normal((n, m.mlp.n_inputs))
    return X if m.scaler is None else X * m.scaler[1] + m.scaler[0]


def onnx_proba(model_bytes: bytes, X: np.ndarray, dtype: str) -> np.ndarray:
    """Probabilities of an ONNX model by onnxruntime (what users will run it with); an
    operator onnxruntime has no kernel of this dtype for is an InputError naming ``--dtype``."""
    try:
        import onnxruntime as ort
        from onnxruntime.capi.onnxruntime_pybind11_state import NotImplemented as NoKernel
    except ImportError:
        raise MissingExtraError("checking an ONNX export needs onnxruntime: "
                                "pip install 'actscope[export]'") from None
    try:
        session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    except NoKernel as err:
        op = str(err).split("implementation for ")[-1].split(" node")[0]
        raise InputError(f"--dtype = {shown(dtype)}: onnxruntime has no {dtype} kernel for {op}; "
                         "use --dtype float32") from None
    return session.run(["probabilities"], {"x": X.astype(dtype)})[0].astype(np.float64)


def _check(name: str, got: np.ndarray, want: np.ndarray, dtype: str) -> float:
    err = float(np.max(np.abs(got - want))) if got.size else 0.0
    if not err <= TOLERANCE[dtype]:
        raise RuntimeError(f"the {name} export differs from actscope's forward pass by {err:.3g} "
                           f"(tolerance {TOLERANCE[dtype]:g}); nothing was written")
    return err


def export(run_dir: str | Path, arm: str | None = None, member: int = 0, fmt: str = "onnx",
           out: str | Path | None = None, dtype: str | None = None) -> tuple[Path, float]:
    """Export one member of one arm of a run directory.

    Parameters
    ----------
    run_dir : path
        A run directory (`actscope.experiment.load_run` reads it).
    arm : str, optional
        The arm's name (may be left out when the run has one arm).
    member : int
        The member's index in the arm's ensemble (0 to K - 1).
    fmt : {"onnx", "torch"}
        An ONNX file (onnxruntime runs it) or a ``torch.export`` program (``.pt2``).
    out : path, optional
        The file to write (default ``RUN_DIR/exports/<arm>-member<k>.onnx|.pt2``).
    dtype : {"float32", "float64"}, optional
        Default float32 for ONNX, float64 for torch.

    Returns
    -------
    (Path, float)
        The file written and the largest difference between its probabilities and
        actscope's on the run's test split (raw features in, the scaler inside).
    """
    if fmt not in FORMATS:
        raise InputError(f"--format = {shown(fmt)}: allowed: {', '.join(FORMATS)}")
    dtype = dtype or ("float32" if fmt == "onnx" else "float64")
    if dtype not in DTYPES:
        raise InputError(f"--dtype = {shown(dtype)}: allowed: {', '.join(DTYPES)}")
    from actscope.experiment.rundir import load_run

    run = load_run(run_dir)
    m = pick_member(run, arm, member)
    target = check_out(Path(out) if out is not None else default_out(Path(run_dir), m, fmt))
    X = sample_inputs(m, run)
    want = reference_proba(m, X)
    if fmt == "onnx":
        from actscope.interop.onnx_graph import to_onnx

        data = to_onnx(m, dtype).SerializeToString()
        err = _check("ONNX", onnx_proba(data, X, dtype), want, dtype)
        with atomic_path(target) as tmp:
            tmp.write_bytes(data)
        return target, err
    return target, _export_torch(m, X, want, dtype, target)


def _export_torch(m: Member, X: np.ndarray, want: np.ndarray, dtype: str, target: Path) -> float:
    import torch

    from actscope.interop.torch_module import load_program, to_torch, torch_program

    module = to_torch(m, dtype)
    try:
        data = torch_program(module, m.mlp.n_inputs)
    except Exception as err:  # noqa: BLE001 - torch.export fails in many ways
        raise InputError(f"--format = 'torch': torch.export cannot trace arm {m.arm!r} "
                         f"({type(err).__name__}); its activations must be torch operations "
                         "(one registered from NumPy is not)") from None
    with torch.no_grad():
        got = load_program(data)(torch.as_tensor(X, dtype=module.mean.dtype)).double().numpy()
    worst = _check("torch", got, want, dtype)
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return worst


__all__ = ["DTYPES", "FORMATS", "TOLERANCE", "check_out", "default_out", "export", "onnx_proba",
           "sample_inputs"]
