"""The gpu engine's CUDA kernels compiled as C++ for the host (g++), so their arithmetic is
tested without a GPU: a launcher with the interface of ``gpu_engine.CupyLauncher``."""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from actscope.engines.codegen.cuda_source import EVAL_ARGS, TRAIN_ARGS

CXX = shutil.which("g++") or shutil.which("c++")
_CACHE = Path(tempfile.gettempdir()) / "actscope-host-kernels"


class HostLauncher:
    name = "host"

    def compile(self, src: str, dtype: str):
        key = hashlib.sha256(src.encode()).hexdigest()[:20]
        _CACHE.mkdir(exist_ok=True)
        lib = _CACHE / f"k{key}.so"
        if not lib.exists():  # unique temporary names: parallel test processes may race here
            fd, cpp = tempfile.mkstemp(dir=_CACHE, suffix=".cpp")
            with os.fdopen(fd, "w") as fh:
                fh.write(src)
            tmp = cpp[:-4] + ".so"
            subprocess.run([CXX, "-O1", "-std=c++17", "-shared", "-fPIC", "-o", tmp, cpp],
                           check=True, capture_output=True, text=True)
            os.replace(tmp, lib)
            os.unlink(cpp)
        return _HostModule(ctypes.CDLL(str(lib)))


class _HostModule:
    def __init__(self, lib) -> None:
        self.lib = lib

    @staticmethod
    def _arg(value, ctype: str):
        if ctype.endswith("*"):
            arr = value.numpy() if hasattr(value, "numpy") else np.asarray(value)
            assert arr.flags.c_contiguous
            return ctypes.c_void_p(arr.ctypes.data)
        return {"int": ctypes.c_int, "long long": ctypes.c_longlong, "double": ctypes.c_double}[ctype](value)

    def train(self, args: dict, K: int, n: int) -> None:
        ord_ = np.empty((n, K), dtype=np.uint32)
        args = {**args, "ord": ord_}
        self.lib.train_epoch_global(*(self._arg(args[a], c) for a, c in TRAIN_ARGS))

    def evaluate(self, args: dict, K: int) -> None:
        self.lib.evaluate(*(self._arg(args[a], c) for a, c in EVAL_ARGS))
