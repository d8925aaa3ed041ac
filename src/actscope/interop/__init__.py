"""Interoperability: actscope's trained networks and runs in other tools.

``member`` picks one network (one member of one arm) out of a run directory; ``torch_module``
makes it a ``torch.nn.Module``; ``onnx_graph`` an ONNX graph built from the activations'
scalar expressions; ``export`` writes either, checked against actscope's own forward pass
(`actscope export`); ``tracking`` logs a run to MLflow (`actscope run --mlflow`,
`actscope track`). The optional dependencies are the extras ``export``, ``torch`` and
``mlflow``; each is imported only when its function is called.
"""

from __future__ import annotations

from actscope.interop.export import export
from actscope.interop.member import Member, pick_member, reference_proba


def to_torch(member: Member, dtype: str = "float64"):
    """``member`` as a ``torch.nn.Module`` (raw features in, class probabilities out)."""
    from actscope.interop.torch_module import to_torch as convert

    return convert(member, dtype)


def to_onnx(member: Member, dtype: str = "float32"):
    """``member`` as an ``onnx.ModelProto`` (raw features in, class probabilities out)."""
    from actscope.interop.onnx_graph import to_onnx as convert

    return convert(member, dtype)


def log_run(run_dir, tracking_uri: str | None = None, experiment: str | None = None) -> str:
    """Log a run directory to MLflow; the MLflow run id (see `actscope.interop.tracking`)."""
    from actscope.interop.tracking import log_run as log

    return log(run_dir, tracking_uri, experiment)


__all__ = ["Member", "export", "log_run", "pick_member", "reference_proba", "to_onnx", "to_torch"]
