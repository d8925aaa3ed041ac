"""Engines: the same small contract on different array libraries.

``get_engine(name, **options)`` returns one; engines with optional dependencies are
registered by a loader so that importing actscope never imports torch.
"""

from __future__ import annotations

from collections.abc import Callable

from actscope.engines.base import Engine, Forward, MissingExtraError
from actscope.engines.numpy_engine import NumpyEngine

_LOADERS: dict[str, Callable[..., Engine]] = {"numpy": NumpyEngine}


def register_engine(name: str, loader: Callable[..., Engine]) -> None:
    """Make ``get_engine(name, **options)`` call ``loader(**options)``."""
    _LOADERS[name] = loader


def _load_torch(**options) -> Engine:
    """The torch engine, imported only when asked for."""
    try:
        import torch  # noqa: F401
    except ImportError:
        raise MissingExtraError(
            "the torch engine needs PyTorch, which is not installed: pip install 'actscope[torch]'"
        ) from None
    from actscope.engines.torch_engine import TorchEngine

    return TorchEngine(**options)


register_engine("torch", _load_torch)


def _load_fast(**options) -> Engine:
    """The numba engine (extra "fast"), imported only when asked for."""
    from actscope.engines.fast_engine import FastEngine

    return FastEngine(**options)


def _load_gpu(**options) -> Engine:
    """The CUDA engine; refuses with the reason where there is no CUDA device."""
    from actscope.engines.gpu_engine import make_gpu_engine

    return make_gpu_engine(**options)


def auto_engine_name(device: str = "cpu") -> str:
    """The fastest engine available here: gpu (CUDA device asked for or "auto", and
    present), else fast (numba installed), else numpy."""
    import importlib.util

    if str(device).startswith("cuda") or device == "auto":
        from actscope.engines.gpu_engine import cuda_available

        if cuda_available():
            return "gpu"
    if importlib.util.find_spec("numba") is not None:
        return "fast"
    return "numpy"


def _load_auto(**options) -> Engine:
    """``engine = "auto"``: the engine ``auto_engine_name`` picks (its ``name`` says which,
    and so does the run's metadata). The fast engine itself runs the NumPy code for the
    specs its kernels do not cover (see ``fast_engine.supports``)."""
    device = options.get("device", "cpu")
    name = auto_engine_name(device)
    if name != "gpu" and str(device).startswith("cuda"):
        raise ValueError(f"device {device!r}: no CUDA device is available here; use 'cpu' or 'auto'")
    if name != "gpu":
        options = {**options, "device": "cpu"}
    return _LOADERS[name](**options)


register_engine("fast", _load_fast)
register_engine("gpu", _load_gpu)
register_engine("auto", _load_auto)


def list_engines() -> list[str]:
    return sorted(_LOADERS)


def get_engine(name: str = "numpy", **options) -> Engine:
    """An engine by name; ``options`` (dtype, device, ...) go to its constructor."""
    if isinstance(name, str) and name in _LOADERS:
        return _LOADERS[name](**options)
    if not isinstance(name, str):
        return name  # already an engine
    raise ValueError(f"unknown engine {name!r}; known: {', '.join(list_engines())}")


__all__ = ["Engine", "Forward", "MissingExtraError", "NumpyEngine", "get_engine",
           "list_engines", "register_engine"]
