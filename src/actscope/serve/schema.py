"""What a browser may ask for: the playground's settings, validated with limits.

Every field has a range; names (dataset, activation, init) are checked against what is
registered when the request arrives. ``to_experiment`` turns the settings into the
project's own ExperimentSpec, so the playground trains exactly what ``actscope run``
would, and the exported TOML is valid by construction.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from actscope.activations import (
    ALIASES,
    UnknownActivationError,
    get_activation,
    list_activations,
    parameterised_names,
)
from actscope.config import DataSpec, ExperimentSpec, check_init_scheme, parse_spec
from actscope.data.generators import GENERATORS
from actscope.errors import InputError
from actscope.training.optimizers import OPTIMIZER_NAMES

# Limits: a browser can never ask the server for more work than this.
LIMITS = {
    "noise": (0.0, 1.0),
    "n_samples": (20, 2000),
    "test_fraction": (0.1, 0.9),
    "depth": (1, 6),
    "width": (1, 32),
    "lr": (1e-5, 10.0),
    "batch_size": (1, 512),
    "seed": (0, 2**31 - 1),
    "epochs": (1, 5000),
    "epochs_per_update": (1, 50),
    "update_rate": (1, 20),
}
OPTIMIZERS = OPTIMIZER_NAMES  # the training loop's table (training.optimizers)
# fields that only change what is shown or how fast: changing them keeps the training state
VIEW_FIELDS = frozenset({"layer", "epochs", "epochs_per_update", "update_rate"})


UPLOAD = "upload"  # the dataset of a session's uploaded points (POST .../points)
MAX_ACTIVATION_TEXT = 200  # characters of a typed activation (a formula or a parameterised name)
SAFE_NAME = re.compile(r"[A-Za-z0-9_.+-]{1,100}")  # what may name an arm (and a file)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(.*\)", re.S)


def resolve_activation(text: str) -> str:
    """The activation a user typed, as the library names it: a registered name, a
    parameterised name (``leaky_relu(0.1)``) or a formula in ``x`` (``x * tanh(softplus(x))``,
    becoming ``f(x) = x * tanh(softplus(x))``), parsed by the library's safe parser.

    Raises
    ------
    ValueError
        The parser's own message (a formula's names the column, with a caret).
    """
    text = text.strip()
    if not text:
        raise ValueError("empty; choose a name or write a formula in x, e.g. x * tanh(softplus(x))")
    if len(text) > MAX_ACTIVATION_TEXT:
        raise ValueError(f"{len(text)} characters; a formula here has at most {MAX_ACTIVATION_TEXT}")
    if text in list_activations() or text in ALIASES:
        return get_activation(text).name
    if _NAME.fullmatch(text) and text != "x":
        raise ValueError(f"unknown activation; known: {', '.join(list_activations())}")
    call = _CALL.fullmatch(text)
    parameterised = call is not None and call.group(1) in {*parameterised_names(), *ALIASES}
    key = text if parameterised or text.replace(" ", "").startswith("f(x)=") else f"f(x) = {text}"
    try:
        return get_activation(key).name
    except (InputError, UnknownActivationError, ValueError) as err:
        raise ValueError(str(err)) from None


# the order first; any other registered 2-D two-class generator follows
PREFERRED = ("moons", "circles", "xor", "spiral", "blobs", "checkerboard")
DATASET_EXTRAS: dict[str, dict[str, Any]] = {"blobs": {"centers": 2}}  # two Gaussian blobs: a two-class task


@cache
def _playable(name: str) -> bool:
    """Whether generator ``name`` gives 2-D points in two classes (tried on a few points)."""
    try:
        X, y, *_ = GENERATORS[name](DataSpec(name=name, n_samples=40, **DATASET_EXTRAS.get(name, {})))
    except Exception:  # a generator that needs more (a CSV path...) is not for the playground
        return False
    return np.asarray(X).ndim == 2 and np.asarray(X).shape[1] == 2 and len(np.unique(y)) == 2


def playground_datasets() -> list[str]:
    """The registered datasets the playground can train on and draw, issue order first."""
    names = [n for n in GENERATORS if _playable(n)]
    return sorted(names, key=lambda n: (PREFERRED.index(n) if n in PREFERRED else len(PREFERRED), n))


def _rng(name: str):
    lo, hi = LIMITS[name]
    return Field(ge=lo, le=hi)


class PlaygroundConfig(BaseModel):
    """Everything that defines one playground session (and nothing else)."""

    # strict: true is not width 1 and "8" is not 8; NaN and infinities are not numbers here
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    dataset: str = "moons"
    noise: Annotated[float, _rng("noise")] = 0.18
    n_samples: Annotated[int, _rng("n_samples")] = 400
    test_fraction: Annotated[float, _rng("test_fraction")] = 0.25
    depth: Annotated[int, _rng("depth")] = 2
    width: Annotated[int, _rng("width")] = 8
    act_a: str = "sigmoid"
    act_b: str = "relu"
    init: str = "auto"
    optimizer: Literal[OPTIMIZERS] = "sgd"  # type: ignore[valid-type]
    lr: Annotated[float, _rng("lr")] = 0.05
    batch_size: Annotated[int, _rng("batch_size")] = 64
    seed: Annotated[int, _rng("seed")] = 42
    data_seed: Annotated[int, _rng("seed")] = 42
    epochs: Annotated[int, _rng("epochs")] = 800
    epochs_per_update: Annotated[int, _rng("epochs_per_update")] = 5
    update_rate: Annotated[float, _rng("update_rate")] = 10.0
    layer: Annotated[int, Field(ge=1, le=LIMITS["depth"][1])] = 1

    @field_validator("dataset")
    @classmethod
    def _known_dataset(cls, v: str) -> str:
        names = playground_datasets()
        if v not in names and v != UPLOAD:
            raise ValueError("not a 2-D two-class dataset the playground can draw; "
                             f"known: {', '.join(names)}")
        return v

    @field_validator("act_a", "act_b")
    @classmethod
    def _known_activation(cls, v: str) -> str:
        return resolve_activation(v)

    @field_validator("init")
    @classmethod
    def _known_init(cls, v: str) -> str:
        return check_init_scheme(v)

    @model_validator(mode="after")
    def _layer_within_depth(self):
        if self.layer > self.depth:
            raise ValueError(f"layer = {self.layer}: must be between 1 and depth ({self.depth})")
        return self

    def training_key(self) -> tuple:
        """What the training state depends on: a change here resets the session."""
        return tuple((k, v) for k, v in self.model_dump().items() if k not in VIEW_FIELDS)

    def to_experiment(self, epochs: int | None = None, upload: str | None = None) -> ExperimentSpec:
        """The equivalent ExperimentSpec (two arms, one seed), validated by config.py;
        ``upload``: the file name of the session's uploaded points (dataset ``upload``)."""
        safe = bool(SAFE_NAME.fullmatch(self.act_a) and SAFE_NAME.fullmatch(self.act_b))
        data = {
            "name": f"playground-{self.act_a}-vs-{self.act_b}".replace("_", "-") if safe
            else "playground-formula",
            "description": "Exported from the actscope playground.",
            "data": self._data_table(upload),
            "model": {"hidden": [self.width] * self.depth, "init": self.init,
                      "activation": self.act_a},
            "train": {"optimizer": self.optimizer, "lr": self.lr, "batch_size": self.batch_size,
                      "epochs": self.epochs if epochs is None else epochs, "engine": "numpy",
                      "eval_every": 1},  # the live curves show every epoch
            "arms": [{"name": "A-" + self.act_a, "activation": self.act_a},
                     {"name": "B-" + self.act_b, "activation": self.act_b}],
            "seeds": {"start": self.seed, "count": 1},
        }
        if self.act_a == self.act_b or not safe:  # a formula names no file
            data["arms"] = [{"name": "A", "activation": self.act_a},
                            {"name": "B", "activation": self.act_b}]
        return parse_spec(data, source="playground")

    def _data_table(self, upload: str | None) -> dict:
        if self.dataset != UPLOAD:
            return {"name": self.dataset, "n_samples": self.n_samples, "noise": self.noise,
                    "random_state": self.data_seed, "test_size": self.test_fraction,
                    "split_seed": self.data_seed, **DATASET_EXTRAS.get(self.dataset, {})}
        if upload is None:
            raise InputError("dataset = 'upload': no points were uploaded to this session (they live "
                             "only as long as the session); upload the CSV file again")
        return {"name": "csv", "path": upload, "label": "label", "test_size": self.test_fraction,
                "split_seed": self.data_seed}


def export_toml(cfg: PlaygroundConfig, upload: str | None = None) -> str:
    """The TOML file for ``actscope run`` that trains what the playground trains (uploaded
    points: the CSV file, under its uploaded name, goes beside it)."""
    head = "# Exported from the actscope playground; run it with: actscope run <this file>\n"
    if upload is not None and cfg.dataset == UPLOAD:
        head += f"# It reads the uploaded points from {upload}: keep that file beside this one.\n"
    return head + cfg.to_experiment(upload=upload).to_toml()


def limits_for_page() -> dict:
    return {k: {"min": lo, "max": hi} for k, (lo, hi) in LIMITS.items()}


def format_errors(errors: Sequence[Mapping[str, Any]]) -> str:
    """One line per request: the field, the value and what is allowed (first error)."""
    if not errors:
        return "invalid request"
    e = errors[0]
    loc = [str(p) for p in e.get("loc", ()) if p not in ("body",)]
    field = ".".join(loc)[:60] or "(body)"
    msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")
    if e.get("type") == "extra_forbidden":
        return f"unknown field '{field}'; allowed: {', '.join(PlaygroundConfig.model_fields)}"
    if e.get("type") == "missing":
        return f"missing field '{field}'"
    if e.get("type") in ("json_invalid", "model_attributes_type", "dict_type"):
        return f"the request body must be a JSON object: {msg}"
    if loc == [] or field == "(body)":
        return msg
    return f"{field} = {_shown(e.get('input'))}: {msg}"


def _shown(value, limit: int = 60) -> str:
    """A value as a message shows it, cut to ``limit`` characters: replies never echo large input."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def parse_config(data: dict, upload: str | None = None) -> PlaygroundConfig:
    """A PlaygroundConfig from a dict, or an InputError with one clear line (``upload``: the
    name of the session's uploaded points, if it has any)."""
    try:
        cfg = PlaygroundConfig.model_validate(data)
    except ValidationError as err:
        raise InputError(format_errors(err.errors())) from None
    cfg.to_experiment(upload=upload)  # the project's own validation (raises InputError)
    return cfg


def salvage(data: dict) -> tuple[dict, list[str]]:
    """The valid part of a link's settings: (a config with every bad field at its default,
    one line per bad field). A bad link keeps what it got right and says all that it got wrong."""
    data, errors = dict(data), []
    for _ in range(len(PlaygroundConfig.model_fields) + 2):
        try:
            cfg = PlaygroundConfig.model_validate(data)
        except ValidationError as err:
            for e in err.errors():
                errors.append(format_errors([e]))
                loc = [p for p in e.get("loc", ()) if p != "body"]
                data.pop(str(loc[0]) if loc else "layer", None)
            continue
        try:
            cfg.to_experiment()
        except InputError as err:
            if cfg.dataset == UPLOAD:
                errors.append(str(err))
                data.pop("dataset")
                continue
            errors.append(str(err))
            return PlaygroundConfig().model_dump(), errors
        return cfg.model_dump(), errors
    return PlaygroundConfig().model_dump(), errors
