"""Engines: the same small contract on different array libraries.

``get_engine(name, **options)`` returns one. Every engine (numpy, torch, fast, gpu and
auto) is registered the same way, by a loader given to `register_engine`, so that
importing actscope never imports torch or numba. What an engine can do is declared in
its ``capabilities`` (`Capabilities`); see `Engine` for the whole contract.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

from actscope.engines.base import Capabilities, Engine, EpochPlan, EpochRunner, Forward, MissingExtraError
from actscope.engines.numpy_engine import NumpyEngine

_LOADERS: dict[str, Callable[..., Engine]] = {}


def register_engine(name: str, loader: Callable[..., Engine]) -> None:
    """Make ``get_engine(name, **options)`` call ``loader(**options)``."""
    _LOADERS[name] = loader


def _require_torch(engine: str) -> None:
    """Raise MissingExtraError, saying how to install it, where torch is missing."""
    try:
        import torch  # noqa: F401
    except ImportError:
        how = ("pip install 'actscope[gpu]' (a CUDA build of torch)" if engine == "gpu" else
               "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu, "
               "then pip install 'actscope[torch]' (a bare `pip install torch` pulls the CUDA build)")
        raise MissingExtraError(f"the {engine} engine needs PyTorch, which is not installed: {how}") from None


def _load_numpy(**options) -> Engine:
    """The NumPy reference engine."""
    return NumpyEngine(**options)


def _load_torch(**options) -> Engine:
    """The torch engine, imported only when asked for."""
    _require_torch("torch")
    from actscope.engines.torch_engine import TorchEngine

    return TorchEngine(**options)


def _load_fast(**options) -> Engine:
    """The numba engine (extra "fast"), imported only when asked for."""
    from actscope.engines.fast_engine import FastEngine

    return FastEngine(**options)


def _load_gpu(**options) -> Engine:
    """The CUDA engine; refuses with the reason where there is no CUDA device."""
    _require_torch("gpu")
    from actscope.engines.gpu_engine import GpuEngine

    return GpuEngine(**options)


def cuda_available() -> bool:
    """Whether a CUDA device can be used here (torch installed and seeing one)."""
    try:
        from actscope.engines import gpu_engine
    except ImportError:  # no torch
        return False
    return gpu_engine.cuda_available()


def auto_engine_name(device: str = "cpu") -> str:
    """The fastest engine available here: gpu (CUDA device asked for or "auto", and
    present), else fast (numba installed), else numpy."""
    if (str(device).startswith("cuda") or device == "auto") and cuda_available():
        return "gpu"
    if importlib.util.find_spec("numba") is not None:
        return "fast"
    return "numpy"


def _load_auto(**options) -> Engine:
    """``engine = "auto"``: the engine ``auto_engine_name`` picks (its ``name`` says which,
    and so does the run's metadata). On the CPU that is the fast engine with
    ``policy="auto"``: per network, kernels or the NumPy code, whichever the estimate of
    compile plus work says is faster (``engines.auto_policy``); ``decision()`` says which
    and why."""
    device = options.get("device", "cpu")
    name = auto_engine_name(device)
    if name != "gpu" and str(device).startswith("cuda"):
        raise ValueError(f"device {device!r}: no CUDA device is available here; use 'cpu' or 'auto'")
    if name != "gpu":
        options = {**options, "device": "cpu"}
    if name == "fast":  # trains each network with kernels or NumPy, by an estimate
        from actscope.engines.fast_engine import FastEngine

        return FastEngine(**options, policy="auto")
    return _LOADERS[name](**options)


register_engine("numpy", _load_numpy)
register_engine("torch", _load_torch)
register_engine("fast", _load_fast)
register_engine("gpu", _load_gpu)
register_engine("auto", _load_auto)


def list_engines() -> list[str]:
    """The registered engine names."""
    return sorted(_LOADERS)


def get_engine(name: str | Engine = "numpy", **options) -> Engine:
    """An engine by name; ``options`` (dtype, device, ...) go to its loader. An engine
    passed instead of a name is returned as it is."""
    if not isinstance(name, str):
        return name  # already an engine
    if name in _LOADERS:
        return _LOADERS[name](**options)
    raise ValueError(f"unknown engine {name!r}; known: {', '.join(list_engines())}")


__all__ = ["Capabilities", "Engine", "EpochPlan", "EpochRunner", "Forward", "MissingExtraError",
           "NumpyEngine", "auto_engine_name", "get_engine", "list_engines", "register_engine"]
