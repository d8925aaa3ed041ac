"""How ``engine = "auto"`` decides: an estimate of compile seconds plus work, per engine.

For one arm the estimate is, in seconds, for each way to train it:

- ``numpy``: the NumPy engine's minibatch steps, ``epochs x batches x (step + layer x
  layers)`` of fixed cost plus ``epochs x K x n x MACs x mac`` of arithmetic;
- ``fast/generic``: the generic kernels (any width and depth, any activation: the
  built-ins through a compiled table, others as register programs, whose ops cost more
  per unit), compiled once per dtype and machine, then loaded from numba's cache;
- ``fast/specialised``: the kernels unrolled for this one architecture, faster per
  model-epoch but compiled per architecture (seconds growing with its parameters).

Each kernel's estimate is its compile seconds (0 where this process has compiled or loaded
it already, as for a sweep's cells after the first; a cached load where ``compiled`` says
numba's disk cache has it; importing numba counts where it is not imported yet) plus
``epochs x blocks of LANES members x n x`` (MACs x seconds per lane-MAC + units x seconds
per lane-unit + program ops x seconds per lane-op, for activations run as programs), the
blocks shared among the threads. The constants
were measured together on the 2-core AVX2 machine this project is developed on, while
other jobs loaded it (so all lean slow, in proportion); a different machine shifts them
together, which moves the choice only near the break-even point. The fast engine is
chosen only where its estimate is below ``MARGIN`` times NumPy's, so that an estimate a
little optimistic cannot make ``auto`` slower than NumPy.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

# seconds, measured together in one process (NumPy engine against the generic kernels,
# tanh networks 2-8-8-1 to 2-64-64-1 on the moons; see benchmarks/bench_compile.py)
NUMPY_STEP = 150e-6       # one minibatch step's fixed cost, besides its layers
NUMPY_LAYER = 100e-6      # per layer per step (forward, backward, optimiser)
NUMPY_MAC = {"float32": 2e-9, "float64": 3e-9}         # per member x point x multiply-accumulate
# the generic kernels (minibatch-blocked layers, GENERIC_VERSION 4): set so that the
# estimate's NumPy / generic ratio matches the ratio measured in one process on
# benchmarks/bench_generic.py's networks (2-2-1: about 6x, 2-16-16-16-1: 3x, 2-8-8-1
# float32: 8-10x, 2-64-64-1 at 16 members: 1-1.6x; 10 members on 2 threads at widths 32 and
# 64: 0.8x and 1.4x NumPy's time), NumPy's estimate taken as it is
GENERIC_MAC = {"float32": 0.3e-9, "float64": 1.1e-9}   # per lane x point x MAC, one thread
GENERIC_UNIT = {"float32": 2.5e-9, "float64": 12e-9}   # per lane x point x unit (activations)
# per lane x point x program op (an activation run as a program: f and f' of every unit;
# 2-8-8-1 moons, programs of 3-16 ops against tanh and identity through the table)
PROGRAM_OP = {"float32": 3e-9, "float64": 4e-9}
SPECIAL_MAC = {"float32": 0.15e-9, "float64": 0.25e-9}
SPECIAL_UNIT = {"float32": 2.6e-9, "float64": 4.5e-9}
GENERIC_COMPILE = 120.0   # once per dtype and machine (then cached on disk)
SPECIAL_COMPILE = 20.0    # per architecture, plus SPECIAL_COMPILE_PARAM per parameter
SPECIAL_COMPILE_PARAM = 0.03
CACHED_LOAD = 0.8         # loading a cached kernel module
NUMBA_IMPORT = 0.8
MARGIN = 0.8              # fast only where its estimate is below MARGIN x NumPy's
# NumPy's matrix products run through BLAS, whose cost per MAC falls as a layer widens; the
# kernels' does not. A layer wider than BLAS_WIDTH costs NUMPY_MAC x BLAS_WIDTH / width per
# MAC (measured on the inference-cost sweep's cells: 10 members at widths 32 and 64 train
# faster on NumPy than on the generic kernels, 1.3x, while 8-wide ones train 2x slower).
BLAS_WIDTH = 16


@dataclass(frozen=True)
class Workload:
    """What one arm will train: members, epochs, points, minibatch size and architecture
    (``sizes``, inputs to output), in ``dtype`` on ``threads`` threads with ``lanes``
    members per SIMD block; ``program_ops``: the ops of f and f' summed over the hidden
    units whose activation the generic kernels run as a program (0 for built-ins)."""

    members: int
    epochs: int
    n: int
    batch: int
    sizes: tuple[int, ...]
    dtype: str = "float64"
    threads: int = 1
    lanes: int = 8
    program_ops: int = 0

    @property
    def macs(self) -> int:
        """Multiply-accumulates of one point's forward pass."""
        return sum(a * b for a, b in zip(self.sizes[:-1], self.sizes[1:]))

    @property
    def units(self) -> int:
        """Units, inputs to output."""
        return sum(self.sizes)

    @property
    def n_params(self) -> int:
        return sum(a * b + b for a, b in zip(self.sizes[:-1], self.sizes[1:]))


@dataclass(frozen=True)
class Estimate:
    """Estimated seconds to train one arm one way (``engine``, ``kernel``)."""

    engine: str
    kernel: str | None
    compile_s: float
    work_s: float

    @property
    def total_s(self) -> float:
        return self.compile_s + self.work_s

    def describe(self) -> str:
        name = self.engine + (f"/{self.kernel}" if self.kernel else "")
        return f"{name} ~{self.total_s:.3g} s (compile {self.compile_s:.3g} s + work {self.work_s:.3g} s)"


def numpy_estimate(w: Workload) -> Estimate:
    """The NumPy engine's estimate (nothing to compile)."""
    batches = -(-w.n // max(1, w.batch))
    layers = len(w.sizes) - 1
    fixed = w.epochs * batches * (NUMPY_STEP + NUMPY_LAYER * layers)
    macs = sum(a * b * min(1.0, BLAS_WIDTH / max(a, b)) for a, b in zip(w.sizes[:-1], w.sizes[1:]))
    work = w.epochs * w.members * w.n * macs * 3 * NUMPY_MAC[w.dtype]
    return Estimate("numpy", None, 0.0, fixed + work)


def kernel_estimate(w: Workload, kernel: str, compiled: bool, numba_loaded: bool,
                    loaded: bool = False) -> Estimate:
    """The fast engine's estimate with the ``generic`` or ``specialised`` kernels
    (``loaded``: compiled in this process already, so nothing to compile or load)."""
    ops = 0.0
    if kernel == "generic":
        mac, unit, cold = GENERIC_MAC[w.dtype], GENERIC_UNIT[w.dtype], GENERIC_COMPILE
        ops = w.program_ops * PROGRAM_OP[w.dtype]
    else:
        mac, unit = SPECIAL_MAC[w.dtype], SPECIAL_UNIT[w.dtype]
        cold = SPECIAL_COMPILE + SPECIAL_COMPILE_PARAM * w.n_params
    blocks = -(-w.members // w.lanes)
    per_thread = -(-blocks // max(1, min(w.threads, blocks)))
    work = w.epochs * per_thread * w.lanes * w.n * (3 * w.macs * mac + w.units * unit + ops)
    compile_s = (CACHED_LOAD if compiled else cold) + (0.0 if numba_loaded else NUMBA_IMPORT)
    if loaded:
        compile_s = 0.0
    return Estimate("fast", kernel, compile_s, work)


def decide(w: Workload, kernels: dict[str, bool], numba_loaded: bool,
           allow_numpy: bool, loaded: Collection[str] = ()) -> tuple[Estimate, str]:
    """The cheapest way to train ``w`` and why.

    ``kernels`` maps each kernel kind that covers the architecture to whether it is
    compiled already (``loaded``: the kinds compiled in this process, which cost nothing
    to use: a sweep's cells after the first). With ``allow_numpy`` (``engine = "auto"``)
    NumPy is a candidate and the fast engine must beat it by ``MARGIN``; without it, the
    cheapest kernel wins.
    """
    options = [kernel_estimate(w, k, c, numba_loaded, k in loaded) for k, c in kernels.items()]
    ref = numpy_estimate(w)
    if not options:
        return ref, "no fast kernel covers this network (multi-class output or a formula too large)"
    best = min(options, key=lambda e: e.total_s)
    others = "; ".join(e.describe() for e in [ref, *options] if e is not best)
    if allow_numpy and not best.total_s < MARGIN * ref.total_s:
        return ref, (f"estimated {ref.describe()} against {best.describe()} "
                     f"({w.members} members x {w.epochs} epochs)")
    return best, f"estimated {best.describe()}; {others} ({w.members} members x {w.epochs} epochs)"


__all__ = ["MARGIN", "Estimate", "Workload", "decide", "kernel_estimate", "numpy_estimate"]
