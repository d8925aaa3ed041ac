"""The resource estimate of a spec, checked before any work: peak memory and model-epochs.

One function of the spec and the data's shape (`estimate`), kept here so that it can follow
the code it models (a cheaper history, chunked probes). It is an upper estimate: every
arm's parameters, optimiser state and history as if all arms trained at once, the largest
of a minibatch, an evaluation split and the probe grid through every hidden unit of every
member. A run whose estimate is above the limit (`memory_limit`: by default half of the
available memory; ``--max-memory`` or ``ACTSCOPE_MAX_MEMORY``) is refused with one line that
names the estimate, the field that drives it and the knob.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from actscope.errors import InputError, input_error, shown

DEFAULT_SHARE = 0.5  # of the available memory
ENV = "ACTSCOPE_MAX_MEMORY"
KNOB = f"--max-memory SIZE or {ENV} sets the limit"
_LIMIT: ContextVar[str | int | None] = ContextVar("actscope_max_memory", default=None)
_UNITS = {"": 1, "B": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40, "P": 2**50}
# datasets of a known shape without loading them: name -> (rows, features, classes)
KNOWN = {"breast_cancer": (569, 30, 2), "iris": (150, 4, 3), "wine": (178, 13, 3),
         "digits": (1797, 64, 10)}
TWO_D = {"moons", "circles", "xor", "spiral", "checkerboard", "blobs"}
_STATE = {"sgd": 0, "momentum": 1, "nesterov": 1, "adam": 2}  # optimiser arrays per parameter


@dataclass(frozen=True)
class Shape:
    """What the estimate needs of the data: split sizes, features and classes."""

    n_train: int
    n_val: int
    n_test: int
    n_features: int
    n_classes: int


@dataclass(frozen=True)
class Estimate:
    """Bytes per part at the peak, and the model-epochs of the run."""

    parameters: int
    activations: int
    history: int
    data: int
    model_epochs: int
    driver: tuple[str, object]  # the spec field that drives the largest part, and its value

    @property
    def total(self) -> int:
        return self.parameters + self.activations + self.history + self.data

    def describe(self) -> str:
        parts = ", ".join(f"{k} {format_bytes(getattr(self, k))}"
                          for k in ("parameters", "activations", "history", "data"))
        return f"{format_bytes(self.total)} ({parts}; {self.model_epochs:,} model-epochs)"


def format_bytes(n: float) -> str:
    """``n`` bytes with a binary unit: ``1.5 GiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1000 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def parse_size(text: str | int) -> int:
    """Bytes of a size written ``8G``, ``512M``, ``1.5GiB``, ``2TB`` or a plain number of bytes."""
    if isinstance(text, int) and not isinstance(text, bool) and text > 0:
        return text
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMGTP]?)(?:I?B)?\s*", str(text), re.IGNORECASE)
    if not m or float(m.group(1)) <= 0:
        raise input_error(None, "--max-memory", text, "a size such as 8G, 512M, 1.5GiB or a number of bytes")
    return int(float(m.group(1)) * _UNITS[m.group(2).upper()])


def available_memory() -> int | None:
    """Bytes of memory available now (MemAvailable of /proc/meminfo, else free pages)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


@contextmanager
def limit_memory(size: str | int | None) -> Iterator[None]:
    """Within the block, runs are checked against ``size`` (``"8G"``; None: the default)."""
    if size is None:
        yield
        return
    parse_size(size)  # refused at once, not when a run starts
    token, before = _LIMIT.set(size), os.environ.get(ENV)
    os.environ[ENV] = str(size)  # for the processes a sweep or a run starts meanwhile
    try:
        yield
    finally:
        _LIMIT.reset(token)
        if before is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = before


def memory_limit() -> tuple[int | None, str]:
    """The memory limit in bytes (None: unknown) and where it comes from, in words."""
    size = _LIMIT.get()
    if size is not None:
        return parse_size(size), f"--max-memory {size}"
    if os.environ.get(ENV):
        return parse_size(os.environ[ENV]), f"{ENV}={os.environ[ENV]}"
    avail = available_memory()
    if avail is None:
        return None, "unknown"
    return int(avail * DEFAULT_SHARE), f"{DEFAULT_SHARE:.0%} of the {format_bytes(avail)} available"


def split_sizes(n: int, test_size: float, val_size: float) -> tuple[int, int, int]:
    """(train, val, test) rows of ``n``, rounded as scikit-learn's train_test_split does."""
    n_test = math.ceil(test_size * n)
    n_val = math.ceil(val_size * (n - n_test))
    return n - n_test - n_val, n_val, n_test


def spec_shape(spec) -> Shape | None:
    """The data's shape from the spec alone, or None when only loading tells (a CSV file, a
    generator registered by the user)."""
    d = spec.data
    if d.name in KNOWN:
        n, n_features, n_classes = KNOWN[d.name]
    elif d.name in TWO_D:
        n, n_features = d.n_samples, 2
        n_classes = d.centers if d.name == "blobs" else 2
    else:
        return None
    return Shape(*split_sizes(n, d.test_size, d.val_size), n_features, n_classes)


def data_shape(data) -> Shape:
    """The shape of a loaded Dataset."""
    n_val = 0 if data.X_val is None else len(data.X_val)
    return Shape(len(data.X_train), n_val, len(data.X_test), data.n_features, data.n_classes)


def _history_keys(spec, depth: int) -> int:
    """Per-epoch history arrays of one ensemble (each epochs x members)."""
    evals = 2 * (1 + (spec.data.val_size > 0))  # loss and accuracy per evaluated split
    if spec.probes.include:  # probe keys per hidden layer, as a run records them
        return 4 + evals + 12 * depth
    return 2 + evals + depth + 1  # running loss/accuracy, evaluations, batch gradient norms


def _history(epochs: int, members: int, item: int) -> int:
    """Bytes of one history key, as `training.history.History` keeps it: per-member rows
    while members x epochs is small, else a row of statistics per epoch and the last row."""
    from actscope.training.history import PER_MEMBER_LIMIT, STATS  # deferred: NumPy

    if members * epochs <= PER_MEMBER_LIMIT:
        return epochs * members * item
    return epochs * len(STATS) * 8 + members * item


def _activations(spec, shape: Shape, units: int, members: int, item: int) -> tuple[int, tuple]:
    """Peak bytes of hidden values (the largest of a minibatch, an evaluation split and the
    probe points), and the field driving them."""
    batch = min(spec.train.batch_size, shape.n_train)
    cases = [(4 * batch, ("train.batch_size", spec.train.batch_size)),  # z, a and their gradients
             (2 * max(shape.n_test, shape.n_val), ("data.n_samples", spec.data.n_samples))]
    if spec.probes.include:
        grid = spec.probes.grid ** 2 if shape.n_features == 2 else 0
        cases.append((2 * max(grid, min(spec.probes.max_points, shape.n_test + shape.n_train)),
                      ("probes.grid", spec.probes.grid)))
    points, field = max(cases, key=lambda c: c[0])
    return points * units * members * item, field if points > units else ("model.hidden", spec.model.hidden)


def estimate(spec, shape: Shape) -> Estimate:
    """The peak memory and model-epochs of running ``spec`` on data of ``shape``."""
    from actscope.training.tuning import n_trials  # deferred: NumPy

    hidden, members, arms = list(spec.model.hidden), spec.seeds.n, len(spec.arms)
    item = 4 if spec.train.dtype == "float32" else 8
    outputs = 1 if shape.n_classes <= 2 else shape.n_classes
    sizes = [shape.n_features, *hidden, outputs]
    n_params = sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))
    trials = max(n_trials(spec.train), *(n_trials(spec.train.model_copy(update={"lr": a.lr}))
                                         for a in spec.arms if a.lr is not None), 1)
    copies = 3 + _STATE.get(spec.train.optimizer, 2)  # parameters, gradients, updates, state
    parameters = n_params * members * item * copies * arms
    side_by_side = min(arms, os.cpu_count() or 1)
    act, act_field = _activations(spec, shape, sum(hidden) + outputs, members, item)
    history = _history(spec.train.epochs, members, item) * _history_keys(spec, len(hidden)) * trials * arms
    rows = shape.n_train + shape.n_val + shape.n_test
    data = 3 * rows * (shape.n_features + 1) * 8
    parts = {"parameters": (parameters, ("model.hidden", spec.model.hidden)),
             "activations": (act * side_by_side, act_field),
             "history": (history, ("train.epochs", spec.train.epochs)),
             "data": (data, ("data.n_samples", spec.data.n_samples))}
    driver = max(parts.values(), key=lambda p: p[0])[1]
    if parts["data"][0] < max(p[0] for p in parts.values()) and members > max(n_params, 1000):
        seeds = spec.seeds  # the members, not the model, are too many
        driver = ("seeds.count", seeds.count) if seeds.values is None else ("seeds.values", seeds.values)
    return Estimate(parameters, act * side_by_side, history, data,
                    members * arms * trials * spec.train.epochs, driver)


def enforce(est: Estimate, source: str = "config") -> Estimate:
    """``est`` if it is within the memory limit, else the InputError that names the
    estimate, the field that drives it and the knobs."""
    limit, where = memory_limit()
    if limit is not None and est.total > limit:
        field, value = est.driver
        raise InputError(f"{source}: {field} = {shown(value)}: the run needs an estimated "
                         f"{est.describe()}, more than the limit {format_bytes(limit)} ({where}); "
                         f"lower {field}, or {KNOB}")
    return est


def check_budget(spec, shape: Shape | None = None, source: str = "config") -> Estimate | None:
    """The estimate of ``spec`` (on data of ``shape``; None: from the spec alone), or an
    InputError when it is above the memory limit. None when the shape is not known yet."""
    shape = shape or spec_shape(spec)
    return None if shape is None else enforce(estimate(spec, shape), source)
