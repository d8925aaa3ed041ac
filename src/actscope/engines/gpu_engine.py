"""The GPU engine: the torch contract on CUDA, with whole epochs in one fused kernel.

The contract (init, forward, loss_and_grad, ...) is the torch engine's. What this adds:
fused CUDA kernels (``engines.codegen.cuda_source``, compiled through CuPy's NVRTC): one
thread trains one member for a whole epoch, with its weights in registers and its batch
order drawn on the device by numpy's PCG64 permutation, so the batches are the NumPy
engine's; another kernel evaluates loss and accuracy. They cover what the fast CPU
engine's kernels cover (binary outputs, activations with ``scalar`` expressions, sgd /
momentum / nesterov / adam with weight decay). For everything else, or without CuPy,
``epoch_runner`` returns None and the training loop (``training.stepper``) runs the
epoch's minibatches on the device, without a host round trip per batch.

Importing this module imports torch: ``engines.get_engine("gpu")`` says how to install it.
"""

from __future__ import annotations

import threading
import warnings

import numpy as np
import torch

from actscope.engines.base import Capabilities, EpochPlan
from actscope.engines.codegen import kernel_exprs, supports
from actscope.engines.codegen.cuda_source import (
    EVAL_ARGS,
    OPT_KINDS,
    TRAIN_ARGS,
    UnsupportedActivation,
    model_source,
)
from actscope.engines.fast_engine import offsets, pcg_states
from actscope.engines.torch_engine import TorchEngine
from actscope.nn.model import Layer, MLPSpec, Params

MAX_PARAMS = 512  # one member's parameters and gradients live in registers: larger spill
BLOCK = 64  # threads (members) per block
MAX_SHARED = 160 * 1024  # batch orders up to this many bytes per block go to shared memory
_LOCK = threading.Lock()


def cuda_available() -> bool:
    """Whether torch sees a CUDA device."""
    return bool(torch.cuda.is_available())


# launchers: compile a kernel source and run its entry points ------------------------------
class CupyLauncher:
    """Compiles with CuPy (NVRTC, cached on disk by CuPy) and launches on the current device."""

    name = "cupy"

    def __init__(self, fast_math: bool = True) -> None:
        import cupy  # noqa: F401  (ImportError: the caller falls back)

        self.fast_math = fast_math

    def compile(self, src: str, dtype: str):
        import cupy

        options = ["--std=c++17"]
        if self.fast_math and dtype == "float32":
            options.append("--use_fast_math")
        return _CupyModule(cupy.RawModule(code=src, options=tuple(options)))


class _CupyModule:
    def __init__(self, module) -> None:
        self.module = module
        self._scratch: torch.Tensor | None = None

    @staticmethod
    def _arg(value, ctype: str):
        import cupy

        if ctype.endswith("*"):
            return cupy.asarray(value)
        return {"int": np.int32, "long long": np.int64, "double": np.float64}[ctype](value)

    def train(self, args: dict, K: int, n: int) -> None:
        shared = n * BLOCK * 2
        use_shared = n <= 65535 and shared <= MAX_SHARED
        if use_shared:
            fn = self.module.get_function("train_epoch_shared")
            if shared > 48 * 1024:
                fn.max_dynamic_shared_size_bytes = shared
            args = {**args, "ord": args["keep"]}  # unused by this entry point
        else:
            fn = self.module.get_function("train_epoch_global")
            if self._scratch is None or self._scratch.shape != (n, K):
                self._scratch = torch.empty((n, K), dtype=torch.int32, device=args["theta"].device)
            args = {**args, "ord": self._scratch}
        fn(((K + BLOCK - 1) // BLOCK,), (BLOCK,), tuple(self._arg(args[a], c) for a, c in TRAIN_ARGS),
           shared_mem=shared if use_shared else 0)

    def evaluate(self, args: dict, K: int) -> None:
        fn = self.module.get_function("evaluate")
        fn(((K + BLOCK - 1) // BLOCK,), (BLOCK,), tuple(self._arg(args[a], c) for a, c in EVAL_ARGS))


def default_launcher(device: str):
    """CuPy's launcher on a CUDA device, or None (with a warning) where CuPy is missing."""
    if not str(device).startswith("cuda"):
        return None
    try:
        return CupyLauncher()
    except ImportError:
        warnings.warn("the gpu engine runs without its fused kernels (CuPy is not installed: "
                      "pip install cupy-cuda12x); epochs run as torch operations", stacklevel=3)
        return None


class GpuEngine(TorchEngine):
    """The torch contract on a CUDA device, with whole epochs in fused kernels.

    Parameters
    ----------
    dtype, device
        As for TorchEngine; ``device`` "auto" or "cpu" means "cuda" (unless ``allow_cpu``).
    launcher
        Compiles and runs the fused kernels (CuPy's by default, when installed). Without
        one, ``epoch_runner`` returns None and the training loop steps minibatches on the
        device.
    allow_cpu
        Run on the CPU: with a host launcher (tests/cuda_host.py) the same kernels run
        there, which is how they are tested without a GPU.
    """

    name = "gpu"

    def __init__(self, dtype: str = "float64", device: str = "cuda", launcher=None,
                 allow_cpu: bool = False) -> None:
        if not allow_cpu:
            if not torch.cuda.is_available():
                raise ValueError("the gpu engine needs a CUDA device and torch.cuda.is_available() is "
                                 "False here; use engine = \"fast\" or \"auto\"")
            if device in ("auto", "cpu"):
                device = "cuda"
        super().__init__(dtype=dtype, device=device)
        self.launcher = launcher if launcher is not None else default_launcher(self.device)
        fused = self.launcher is not None
        self.capabilities = Capabilities(dropout=True, multiclass=True, fused_epochs=fused,
                                         fork_safe=False, max_fused_params=MAX_PARAMS if fused else 0)
        self._modules: dict[tuple, object] = {}

    def kernels(self, spec: MLPSpec, optimizer: str = "sgd"):
        """The compiled fused kernels for ``spec``, or None where they do not apply."""
        if self.launcher is None or optimizer not in OPT_KINDS or not supports(spec, MAX_PARAMS):
            return None
        acts = kernel_exprs(spec)
        key = (tuple(spec.sizes), repr(acts), optimizer)
        with _LOCK:
            if key not in self._modules:
                dtype = str(self.dtype).replace("torch.", "")
                try:
                    src = model_source(spec.sizes, acts, dtype, optimizer, BLOCK)
                except UnsupportedActivation:
                    return None
                self._modules[key] = self.launcher.compile(src, dtype)
            return self._modules[key]

    def loss_and_accuracy(self, spec: MLPSpec, params: Params, X, y):
        mod = self.kernels(spec)
        if mod is None or np.ndim(X) != 2:
            return super().loss_and_accuracy(spec, params, X, y)
        theta = pack_theta(spec, params)
        K = theta.shape[1]
        Xd = self.asarray(np.asarray(X, dtype=np.float64)).contiguous()
        yd = self.asarray(np.asarray(y, dtype=np.float64)).contiguous()
        loss = torch.empty(K, dtype=torch.float64, device=self.torch_device)
        acc = torch.empty(K, dtype=torch.float64, device=self.torch_device)
        mod.evaluate(dict(theta=theta, X=Xd, Y=yd, n=Xd.shape[0], loss_out=loss, acc_out=acc, K=K), K)
        return loss.cpu().numpy(), acc.cpu().numpy()

    def epoch_runner(self, spec: MLPSpec, params: Params, X, y, plan: EpochPlan) -> FusedTrainer | None:
        """The fused kernels' runner, or None (no launcher, or a spec / optimiser they do not
        cover): the training loop then runs the epoch's minibatches on the device."""
        mod = self.kernels(spec, plan.optimizer)
        return None if mod is None else FusedTrainer(self, mod, spec, params, X, y, plan)


# the (P, K) member-last layout of the fused kernels ---------------------------------------
def pack_theta(spec: MLPSpec, params: Params):
    """A new contiguous (P, K) tensor holding ``params`` (parameter-major, member-last)."""
    K = params[0][0].shape[0]
    rows = []
    for W, b in params:
        rows += [W.reshape(K, -1).T, b.reshape(K, -1).T]
    return torch.cat(rows, dim=0).contiguous()


def theta_views(spec: MLPSpec, theta) -> Params:
    """The contract's Layer(W, b) views ((K, fan_in, fan_out), (K, fan_out)) of theta."""
    K = theta.shape[1]
    out = []
    for (fi, fo), (wo, bo) in zip(spec.weight_shapes, offsets(spec)):
        out.append(Layer(theta[wo:wo + fi * fo].reshape(fi, fo, K).permute(2, 0, 1), theta[bo:bo + fo].T))
    return out


class FusedTrainer:
    """Whole epochs in one kernel launch; owns theta (P, K) and the optimiser state."""

    def __init__(self, engine: GpuEngine, mod, spec: MLPSpec, params: Params, X, y, plan: EpochPlan):
        self.mod, self.spec, self.plan = mod, spec, plan
        dev = engine.torch_device
        self.theta = pack_theta(spec, params)  # a copy: the caller's params are not modified
        K = self.K = self.theta.shape[1]
        kind = OPT_KINDS[plan.optimizer]
        unused = torch.zeros(1, dtype=engine.dtype, device=dev)
        self.s1 = torch.zeros_like(self.theta) if kind else unused  # momentum / first moment
        self.s2 = torch.zeros_like(self.theta) if kind == 3 else unused  # adam's second moment
        self.X = engine.asarray(X).contiguous()
        self.y = engine.asarray(y).to(engine.dtype).contiguous()
        self.n = int(self.X.shape[0])
        self.B = min(plan.batch_size, self.n)
        self.n_batches = -(-self.n // self.B)
        self.t = 0
        self.mode, pcg = 0, np.zeros((1, 6), np.uint64)
        if plan.shuffle:
            states = pcg_states(plan.streams)
            self.mode = 2 if states is not None else 1
            pcg = states if states is not None else pcg
        self.pcg = torch.as_tensor(pcg.view(np.int64), device=dev).contiguous()
        self.keep = torch.empty(K, dtype=torch.uint8, device=dev)
        self.loss = torch.empty(K, dtype=torch.float64, device=dev)
        self.correct = torch.empty(K, dtype=torch.float64, device=dev)
        self.no_perms = torch.zeros(1, dtype=torch.int32, device=dev)

    @property
    def params(self) -> Params:
        """Views of the current parameters (updated in place by the next epoch)."""
        return theta_views(self.spec, self.theta)

    def run_epoch(self, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One epoch: (mean minibatch loss (K,), points right (K,), members still kept (K,))."""
        self.keep.copy_(torch.from_numpy(np.asarray(keep, dtype=np.uint8)))
        self.launch()
        return self.loss.cpu().numpy(), self.correct.cpu().numpy(), self.keep.cpu().numpy().astype(bool)

    def launch(self) -> None:
        """The epoch's kernel, on the device's queue (``self.keep`` in, results on the device)."""
        tr = self.plan
        perms = self.no_perms
        if self.mode == 1:
            perms = torch.as_tensor(np.stack([st.permutation(self.n) for st in tr.streams])
                                    .astype(np.int32), device=self.theta.device)
        self.mod.train(dict(theta=self.theta, s1=self.s1, s2=self.s2, X=self.X, Y=self.y, perms=perms,
                            pcg=self.pcg, mode=self.mode, n=self.n, B=self.B, lr=tr.lr, mu=tr.momentum,
                            b1=tr.betas[0], b2=tr.betas[1], eps=tr.eps, wd=tr.weight_decay, t0=self.t,
                            keep=self.keep, loss_out=self.loss, corr_out=self.correct, K=self.K),
                       self.K, self.n)
        self.t += self.n_batches
