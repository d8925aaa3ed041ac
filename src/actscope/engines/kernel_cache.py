"""Where generated numba kernels live: written once to a cache folder keyed by a hash of
their source and imported from there, so that numba's own on-disk cache (``cache=True``,
which needs functions importable from a real file) keeps their machine code between runs.

``is_compiled`` tells, without compiling, whether a module's kernels would load from that
cache: the estimate behind ``engine = "auto"`` counts compile seconds only where they would
be spent.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

from actscope.engines.base import MissingExtraError

_LOCK = threading.Lock()
_MODULES: dict[str, object] = {}


def require_numba():
    """Import numba, or say in one line how to install it."""
    try:
        import numba
    except ImportError:
        raise MissingExtraError(
            "the fast engine needs numba: pip install 'actscope[fast]'"
        ) from None
    return numba


def cache_dir() -> Path:
    """Where generated kernels and numba's cache live ($ACTSCOPE_KERNEL_CACHE to move it)."""
    env = os.environ.get("ACTSCOPE_KERNEL_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "actscope" / "kernels"


def module_name(src: str, version: int) -> str:
    """The module name of a generated source: a hash of the source and its generator."""
    return "actscope_kernel_" + hashlib.sha256(f"{version}\n{src}".encode()).hexdigest()[:20]


def _tune_llvm() -> None:
    """Let LLVM vectorise loops with many accumulations (a kernel's lane loop updates every
    parameter's gradient; the default merge threshold makes LLVM give up and stay scalar).
    Process-wide, and only an analysis limit: no code's meaning changes."""
    import llvmlite.binding as llvm

    llvm.set_option("actscope", "-memory-check-merge-threshold=100000")


@contextmanager
def slp_vectorizer():
    """LLVM's SLP vectoriser on (numba leaves it off) for what compiles inside: it packs
    the generic kernels' one-statement-per-lane sums into SIMD registers. Scoped, so that
    other kernels compile exactly as before (vector and scalar code may round or propagate
    NaN differently, and the specialised kernels are checked as they are)."""
    from numba.core import config

    with _LOCK:
        before, config.SLP_VECTORIZE = config.SLP_VECTORIZE, 1
        try:
            yield
        finally:
            config.SLP_VECTORIZE = before


def _folder() -> Path:
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        folder = Path(tempfile.gettempdir()) / "actscope-kernels"
        folder.mkdir(parents=True, exist_ok=True)
    return folder


def load_source(src: str, version: int, key: str | None = None):
    """Write ``src`` to the cache folder (once, atomically) and import it as a module,
    named by a hash of ``key`` (what determines the source, cheaper to build) or of ``src``."""
    name = module_name(key if key is not None else src, version)
    with _LOCK:
        if name in _MODULES:
            return _MODULES[name]
        require_numba()
        _tune_llvm()
        path = _folder() / f"{name}.py"
        if not path.exists():
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "w") as fh:
                fh.write(src)
            os.replace(tmp, path)
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None  # a .py file always has both
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        _MODULES[name] = module
        return module


def is_compiled(src: str, version: int, functions: tuple[str, ...]) -> bool:
    """Whether every one of ``functions`` of this module (``src``: its source, or the key
    ``load_source`` was given) is compiled in this process or in numba's on-disk cache
    (an index file per function; a stale index only makes the estimate optimistic once,
    after which numba rewrites it)."""
    if is_loaded(src, version, functions):
        return True
    name = module_name(src, version)
    folder = cache_dir() / "__pycache__"
    if not folder.is_dir():
        return False
    return all(any(folder.glob(f"{name}.{f}-*.nbi")) for f in functions)


def is_loaded(src: str, version: int, functions: tuple[str, ...]) -> bool:
    """Whether every one of ``functions`` of this module is compiled in this process (then
    using it costs nothing more: no import, no cache load; a sweep's later cells)."""
    mod = _MODULES.get(module_name(src, version))
    return mod is not None and all(getattr(mod, f).signatures for f in functions)


__all__ = ["cache_dir", "is_compiled", "is_loaded", "load_source", "module_name", "require_numba",
           "slp_vectorizer"]
