"""What the static playground embeds, computed by the library so that the browser's
network trains exactly what the NumPy engine trains.

Random numbers: NumPy draws each offered seed's raw initial weights here (the first
``MAX_DRAWS`` standard normals of its init stream, enough for the largest network the
page allows; a layer's draws continue where the previous layer's ended, as in
``nn.model.draw_raw_weights``), and the page draws the batch orders itself from the
seed's batch-stream PCG64 state (``net.js`` reproduces ``Generator.permutation``).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import ValidationError

from actscope.activations import get_activation, list_activations
from actscope.config import TrainSpec
from actscope.data.generators import load_dataset
from actscope.engines.codegen.common import UnsupportedActivation
from actscope.engines.codegen.js_source import activations_module, js_expr
from actscope.errors import InputError
from actscope.seeding import batch_stream, init_stream
from actscope.serve.schema import LIMITS, PlaygroundConfig, playground_datasets

# the init schemes the page offers: normal raw draws, zero biases (net.js's SCHEMES)
STATIC_INITS = ("auto", "he", "xavier", "he_normal", "xavier_normal", "lecun_normal")
MAX_DEPTH, MAX_WIDTH = int(LIMITS["depth"][1]), int(LIMITS["width"][1])
MAX_DRAWS = 2 * MAX_WIDTH + (MAX_DEPTH - 1) * MAX_WIDTH * MAX_WIDTH + MAX_WIDTH
MAX_SEEDS = 64  # each seed embeds MAX_DRAWS float64 (42 KiB)
DEFAULT_SEEDS = (42, 0, 1, 2, 3, 4, 5, 6, 7)


@dataclass(frozen=True)
class BuildOptions:
    """What a build embeds: the seeds the page offers, extra formula activations, and the
    data settings (fixed in a static site: each dataset is generated here once)."""

    seeds: tuple[int, ...] = DEFAULT_SEEDS
    formulas: tuple[str, ...] = ()
    n_samples: int = PlaygroundConfig().n_samples
    noise: float = PlaygroundConfig().noise
    test_fraction: float = PlaygroundConfig().test_fraction
    data_seed: int = PlaygroundConfig().data_seed
    extra: dict = field(default_factory=dict)


def _b64(x: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(x, dtype="<f8").tobytes()).decode("ascii")


def seed_entry(seed: int) -> dict:
    """A seed's raw normal draws (base64 float64) and its batch stream's PCG64 state."""
    raw = init_stream(seed, "default").standard_normal(MAX_DRAWS)
    stream = batch_stream(seed, "default")
    assert isinstance(stream, np.random.Generator)  # the default protocol's streams are PCG64
    st = stream.bit_generator.state
    batch = {"state": str(st["state"]["state"]), "inc": str(st["state"]["inc"]),
             "has_uint32": int(st["has_uint32"]), "uinteger": str(st["uinteger"])}
    return {"raw": _b64(raw), "batch": batch}


def dataset_entry(cfg: PlaygroundConfig) -> dict:
    """The splits the NumPy engine would train on for this playground setting."""
    data = load_dataset(cfg.to_experiment().data)
    return {"d": int(data.X_train.shape[1]),
            "X_train": data.X_train.ravel().tolist(), "y_train": data.y_train.astype(float).tolist(),
            "X_test": data.X_test.ravel().tolist(), "y_test": data.y_test.astype(float).tolist()}


def js_activations(names) -> tuple[str, dict]:
    """The activations module (JavaScript) for ``names`` that have a JavaScript form, and
    each one's metadata (gain, family); names without one are left out."""
    entries, meta = {}, {}
    for name in names:
        act = get_activation(name)
        if act.scalar is None:
            continue
        try:
            js_expr(act.scalar[0], act.params)
            js_expr(act.scalar[1], act.params, "z", "a")
        except UnsupportedActivation:
            continue
        entries[name] = (act.scalar, act.params)
        meta[name] = {"gain": float(act.gain), "relu_family": bool(act.is_relu_family)}
    return activations_module(entries), meta


def base_config(opts: BuildOptions) -> PlaygroundConfig:
    """The playground settings of the build's data, or a one-line InputError naming the
    option (``--noise = 2.0: ...``)."""
    data: dict[str, Any] = {"n_samples": opts.n_samples, "noise": opts.noise,
                            "test_fraction": opts.test_fraction, "data_seed": opts.data_seed}
    try:
        return PlaygroundConfig(**data)
    except ValidationError as err:
        e = err.errors()[0]
        name = str(e["loc"][0])
        raise InputError(f"--{name.replace('_', '-')} = {data[name]!r}: "
                         f"{e['msg'].removeprefix('Value error, ')}") from None


def check_options(opts: BuildOptions) -> None:
    """One-line InputErrors for what a build cannot embed, before anything is written."""
    base_config(opts)
    if not opts.seeds:
        raise InputError("--seeds = '': at least one seed is needed")
    if len(opts.seeds) > MAX_SEEDS:
        raise InputError(f"--seeds = {len(opts.seeds)} seeds: at most {MAX_SEEDS}")
    lo, hi = LIMITS["seed"]
    for s in opts.seeds:
        if not lo <= s <= hi:
            raise InputError(f"--seeds = {s}: a seed is between {lo} and {hi}")
    for f in opts.formulas:
        try:
            act = get_activation(f)
        except Exception as err:  # the parser's own message names the column
            raise InputError(f"--activation = {f!r}: {err}") from None
        _, meta = js_activations([act.name])
        if act.name not in meta:
            raise InputError(f"--activation = {f!r}: has no expression the JavaScript dialect can "
                             "write; the served playground trains it")


def make_bundle(opts: BuildOptions) -> tuple[dict, str]:
    """What the page embeds, and the activations as JavaScript.

    Parameters
    ----------
    opts : BuildOptions
        Seeds, formulas and data settings; checked first (one-line InputErrors).

    Returns
    -------
    bundle : dict
        JSON-able: defaults and limits (the served playground's), the fixed data settings,
        each dataset's splits, each activation's gain and family, the init schemes and
        optimisers offered, the optimisers' hyperparameters, and each seed's raw draws and
        batch-stream state.
    activations_js : str
        The ``js_source`` module defining every activation that has a JavaScript form.
    """
    check_options(opts)
    base = base_config(opts)
    names = [*list_activations(), *(get_activation(f).name for f in opts.formulas)]
    acts_js, meta = js_activations(dict.fromkeys(names))
    datasets = {name: dataset_entry(base.model_copy(update={"dataset": name}))
                for name in playground_datasets()}
    t = TrainSpec()
    defaults = base.model_dump()
    bundle = {
        "defaults": defaults, "limits": {k: {"min": lo, "max": hi} for k, (lo, hi) in LIMITS.items()},
        "fixed": ["noise", "n_samples", "test_fraction", "data_seed"],
        "datasets": datasets, "activations": meta,
        "formulas": [get_activation(f).name for f in opts.formulas],
        "inits": list(STATIC_INITS), "optimizers": ["sgd", "momentum", "nesterov", "adam"],
        "train": {"momentum": t.momentum, "betas": list(t.betas), "eps": t.eps},
        "seeds": {str(s): seed_entry(int(s)) for s in opts.seeds},
    }
    return bundle, acts_js


__all__ = ["BuildOptions", "DEFAULT_SEEDS", "MAX_DRAWS", "MAX_SEEDS", "STATIC_INITS", "base_config",
           "check_options", "dataset_entry", "js_activations", "make_bundle", "seed_entry"]
