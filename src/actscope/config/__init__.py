"""Pydantic models of every spec, TOML loading and one-line validation messages.

An ExperimentSpec is complete once resolved: ``to_toml`` writes it back with every
default made explicit, and loading that file reproduces the run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import tomllib
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from actscope.errors import InputError

PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(ge=0, lt=1)]

PRESETS_DIR = Path(__file__).parent / "presets"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def check_init_scheme(name: str) -> str:
    """``name`` if it is a registered init scheme, else a ValueError listing the known ones."""
    from actscope.nn.model import all_init_schemes

    if name not in all_init_schemes():
        raise ValueError(f"unknown init scheme; known: {', '.join(all_init_schemes())}")
    return name


def _check_activation(value):
    """Canonical string form(s) of an activation field: a name, ``"leaky_relu(0.1)"``, a
    table ``{name = "leaky_relu", slope = 0.1}``, a formula ``"f(x) = ..."``, or a list."""
    from actscope.activations import get_activation

    if isinstance(value, str | dict):
        return get_activation(value).name  # raises with the known names
    if isinstance(value, list | tuple):
        return [get_activation(v).name if isinstance(v, str | dict) else v for v in value]
    return value


DATASETS = ("moons", "circles", "xor", "spiral", "blobs", "checkerboard",
            "breast_cancer", "iris", "wine", "digits", "csv")
# fields that only one dataset uses: field -> (dataset, default)
DATA_FIELDS = {"factor": ("circles", 0.5), "turns": ("spiral", 1.5), "centers": ("blobs", 3),
               "cells": ("checkerboard", 4), "path": ("csv", None), "label": ("csv", "label")}


class DataSpec(Strict):
    """Where the data comes from and how it is split and scaled.

    ``n_samples``, ``noise`` and ``random_state`` drive the 2-D generators; the
    scikit-learn built-ins (breast_cancer, iris, wine, digits) and ``csv`` ignore them.
    """

    name: Literal[DATASETS] = "moons"  # type: ignore[valid-type]
    n_samples: PositiveInt = 400
    noise: Annotated[float, Field(ge=0)] = 0.18
    random_state: int = 42
    test_size: Annotated[float, Field(gt=0, lt=1)] = 0.25
    val_size: Fraction = 0.0
    split_seed: int = 42
    standardize: Literal["train", "all", "none"] = "train"
    factor: Annotated[float, Field(gt=0, lt=1)] | None = None  # circles: inner / outer radius
    turns: PositiveFloat | None = None  # spiral: turns of each of the two arms
    centers: Annotated[int, Field(ge=2, le=50)] | None = None  # blobs: number of classes
    cells: Annotated[int, Field(ge=2, le=50)] | None = None  # checkerboard: squares per side
    path: Annotated[str, Field(min_length=1)] | None = None  # csv: the file (relative to the config)
    label: Annotated[str, Field(min_length=1)] | None = None  # csv: the label column

    @model_validator(mode="before")
    @classmethod
    def _dataset_fields(cls, data):
        """Fill the defaults of the chosen dataset's own fields; refuse another's."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        name = data.get("name", "moons")
        for key, (owner, default) in DATA_FIELDS.items():
            if data.get(key) is not None and name != owner:
                raise ValueError(f"{key} applies only to name = {owner!r} (name is {name!r})")
            if data.get(key) is None and name == owner:
                if default is None:
                    raise ValueError(f"name = {owner!r} needs {key}")
                data[key] = default
        return data


class ModelSpec(Strict):
    """The architecture shared by every arm (arms may set their own activation/init)."""

    hidden: Annotated[list[PositiveInt], Field(min_length=1)] = [8, 8]
    activation: str | list[str] = "relu"
    init: str = "auto"

    _v_act = field_validator("activation", mode="before")(classmethod(lambda cls, v: _check_activation(v)))

    _v_init = field_validator("init")(classmethod(lambda cls, v: check_init_scheme(v)))


class TrainSpec(Strict):
    """How every arm is trained."""

    optimizer: Literal["sgd", "momentum", "nesterov", "adam"] = "sgd"
    lr: PositiveFloat | Literal["tune"] = 0.05
    momentum: Annotated[float, Field(ge=0, lt=1)] = 0.9
    betas: tuple[Annotated[float, Field(ge=0, lt=1)], Annotated[float, Field(ge=0, lt=1)]] = (0.9, 0.999)
    eps: PositiveFloat = 1e-8
    weight_decay: Annotated[float, Field(ge=0)] = 0.0
    # regularisation, off by default: penalties l1 * sum|W| + l2 / 2 * sum W^2 on the weights
    # (not the biases, as the TensorFlow Playground) enter the gradient; the losses reported
    # stay the data loss. dropout: probability of zeroing a hidden unit while training.
    l1: Annotated[float, Field(ge=0)] = 0.0
    l2: Annotated[float, Field(ge=0)] = 0.0
    dropout: Annotated[float, Field(ge=0, lt=1)] = 0.0
    epochs: PositiveInt = 800
    batch_size: PositiveInt = 64
    shuffle: bool = True
    rng: Literal["default", "article"] = "default"
    engine: str = "numpy"
    dtype: Literal["float32", "float64"] = "float64"
    device: str = "cpu"
    eval_every: PositiveInt = 1
    # lr = "tune": one ensemble per rate of lr_grid, the rate with the best mean validation
    # accuracy over seeds is kept (see tune.py); None means tune.DEFAULT_LR_GRID.
    lr_grid: Annotated[list[PositiveFloat], Field(min_length=1)] | None = None
    tune_val_size: Annotated[float, Field(gt=0, lt=1)] = 0.2  # used when [data] val_size = 0

    @field_validator("lr", mode="before")
    @classmethod
    def _lr_number_or_tune(cls, v):
        if isinstance(v, str) and v != "tune":
            try:
                return float(v)
            except ValueError:
                raise ValueError("must be a positive number or \"tune\"") from None
        return v


class ArmSpec(Strict):
    """One arm: an ensemble that differs from the others only in what is set here."""

    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.+\-]+$")]
    activation: str | list[str]
    init: str | None = None
    lr: PositiveFloat | None = None

    _v_act = field_validator("activation", mode="before")(classmethod(lambda cls, v: _check_activation(v)))
    _v_init = field_validator("init")(classmethod(lambda cls, v: v if v is None else check_init_scheme(v)))


class SeedsSpec(Strict):
    """The members of every arm: ``count`` seeds from ``start``, or an explicit list."""

    start: int = 0
    count: PositiveInt = 1
    values: list[int] | None = None

    def as_list(self) -> list[int]:
        if self.values:
            return [int(s) for s in self.values]
        return list(range(self.start, self.start + self.count))


class PointSpec(Strict):
    """A named input point for the signal trace: given, or chosen from the data."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: Annotated[str, Field(min_length=1)]
    x: list[float] | None = None
    farthest_from: list[float] | None = None
    label: int | None = Field(default=None, alias="class")
    split: Literal["train", "test"] = "train"

    @model_validator(mode="after")
    def _one_way(self):
        if (self.x is None) == (self.farthest_from is None):
            raise ValueError("give exactly one of x or farthest_from")
        return self


PROBE_NAMES = ("signal", "gradients", "context", "representation", "regions", "heatmaps")


class ProbesSpec(Strict):
    """Which probes run, on what, and at which epochs (the last epoch always).

    ``include`` names the probes (all by default); ``epochs`` (1-based) and ``every``
    add epochs at which they are also recorded during training.
    """

    points: list[PointSpec] = []
    include: list[Literal[PROBE_NAMES]] = list(PROBE_NAMES)  # type: ignore[valid-type]
    epochs: list[PositiveInt] = []
    every: Annotated[int, Field(ge=0)] = 0
    split: Literal["train", "val", "test"] = "test"
    max_points: PositiveInt = 2000
    grid: Annotated[int, Field(ge=16, le=1000)] = 200
    saturation: Annotated[float, Field(gt=0, lt=1)] = 0.01
    true_boundary: bool = True
    # minibatch gradient norms every epoch; "auto": unless the engine fuses whole epochs
    batch_gradients: Literal["auto", "on", "off"] = "auto"

    def record_epochs(self, n_epochs: int) -> list[int]:
        """The 0-based epochs at which the probes run during training (the last one
        is measured after training, with the final parameters)."""
        marks = {e - 1 for e in self.epochs}
        if self.every:
            marks |= set(range(self.every - 1, n_epochs, self.every))
        return sorted(e for e in marks if 0 <= e < n_epochs - 1)


class ReportSpec(Strict):
    enabled: bool = True
    dpi: Annotated[int, Field(ge=30, le=600)] = 100


class CustomActivationSpec(Strict):
    """An activation defined by a formula in x (see actscope.formula); a bare string is
    the formula alone."""

    formula: Annotated[str, Field(min_length=1)]
    family: Literal["piecewise-linear", "saturating", "smooth", "linear"] = "smooth"
    gain: PositiveFloat | None = None  # None: 1 / sqrt(E[f(z)^2]), z ~ N(0, 1)

    @model_validator(mode="before")
    @classmethod
    def _bare_formula(cls, data):
        return {"formula": data} if isinstance(data, str) else data


def register_custom_activations(specs: dict[str, CustomActivationSpec] | None) -> None:
    """Register the formula activations of a spec (idempotent)."""
    if not specs:
        return  # no formulas: do not import sympy (about 1 s)
    from actscope.activations.formula import register_formula

    for name, c in (specs or {}).items():
        register_formula(name, c.formula, c.family, c.gain)


class ExperimentSpec(Strict):
    """An experiment: data + model + train + arms + seeds (+ probes, report)."""

    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.+\-]+$")] = "experiment"
    description: str = ""
    # activations defined by formulas, usable by name below: [activations.mish2] formula = "..."
    # (validated, hence registered, before model and arms)
    activations: dict[str, CustomActivationSpec] | None = None
    data: DataSpec = DataSpec()
    model: ModelSpec = ModelSpec()
    train: TrainSpec = TrainSpec()
    arms: Annotated[list[ArmSpec], Field(min_length=1)]
    seeds: SeedsSpec = SeedsSpec()
    probes: ProbesSpec = ProbesSpec()
    report: ReportSpec = ReportSpec()

    @field_validator("activations")
    @classmethod
    def _register_activations(cls, v):
        register_custom_activations(v)
        return v

    @field_validator("arms")
    @classmethod
    def _unique_arms(cls, arms: list[ArmSpec]) -> list[ArmSpec]:
        names = [a.name for a in arms]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"arm names must be unique; repeated: {', '.join(sorted(dup))}")
        return arms

    @model_validator(mode="after")
    def _arms_fit_depth(self):
        depth = len(self.model.hidden)
        for i, arm in enumerate(self.arms):
            if isinstance(arm.activation, list) and len(arm.activation) != depth:
                raise ValueError(
                    f"arms[{i}].activation has {len(arm.activation)} entries for "
                    f"{depth} hidden layers"
                )
        return self

    @model_validator(mode="after")
    def _probe_epochs_in_training(self):
        late = [e for e in self.probes.epochs if e > self.train.epochs]
        if late:
            raise ValueError(f"probes.epochs = {self.probes.epochs}: epochs are 1 to "
                             f"train.epochs = {self.train.epochs}")
        return self

    @model_validator(mode="after")
    def _resolve_tuning(self):
        """lr = "tune" needs a validation split and a grid: make both explicit."""
        if self.train.lr == "tune":
            from actscope.config.tuning import resolve_tuning

            resolve_tuning(self)
        return self

    def to_toml(self) -> str:
        import tomli_w

        return tomli_w.dumps(self.model_dump(mode="json", by_alias=True, exclude_none=True))


# Loading and messages ---------------------------------------------------------------------

def _format_loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def format_validation_error(err: ValidationError, source: str = "config") -> str:
    """One line: the field, the value and what is allowed (the first error only)."""
    e = err.errors()[0]
    # drop pydantic's union-branch markers such as 'str' or 'list[str]' from the location
    markers = {"str", "int", "float", "list", "constrained-float"}
    loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and ("[" in p or p in markers)))
    field = _format_loc(loc) or "(top level)"
    msg = e["msg"].removeprefix("Value error, ")
    if e["type"] == "extra_forbidden":
        return f"{source}: unknown key '{field}'"
    if e["type"] == "missing":
        return f"{source}: missing required key '{field}'"
    value = e.get("input")
    if not loc and isinstance(value, dict):  # a whole-spec check: its message names the field
        return f"{source}: {msg}"
    return f"{source}: {field} = {value!r}: {msg}"


def parse_spec(data: dict[str, Any], source: str = "config") -> ExperimentSpec:
    try:
        return ExperimentSpec.model_validate(data)
    except ValidationError as err:
        raise InputError(format_validation_error(err, source)) from None


def resolve_config_path(path: str | Path) -> Path:
    """A path as given, else a preset of that name (``sigmoid-vs-relu``)."""
    p = Path(path)
    if p.is_file():
        return p
    for cand in (PRESETS_DIR / p.name, PRESETS_DIR / f"{p.name}.toml"):
        if cand.is_file():
            return cand
    if p.exists():
        raise InputError(f"config: {str(path)!r} is not a file")
    raise InputError(f"config file not found: {str(path)!r}")


def load_toml(path: str | Path) -> dict[str, Any]:
    p = resolve_config_path(path)
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"{p}: TOML syntax error: {err}") from None
    except UnicodeDecodeError:
        raise InputError(f"{p}: not a UTF-8 text file") from None


def load_spec(path: str | Path) -> ExperimentSpec:
    """Read and validate an experiment TOML file (or a preset name)."""
    p = resolve_config_path(path)
    data = load_toml(p)
    if "sweep" in data:
        raise InputError(f"{p}: a sweep config (it has a [sweep] table): run it with `actscope sweep`")
    return parse_spec(resolve_data_path(data, p.parent), source=str(p))


def with_overrides(spec: ExperimentSpec, seeds: int | None = None, engine: str | None = None,
                   **train) -> ExperimentSpec:
    """A copy of ``spec`` with command-line overrides applied and validated."""
    data = spec.model_dump(by_alias=True)
    if seeds is not None:
        data["seeds"] = {**data["seeds"], "count": seeds, "values": None}
        if data["seeds"].get("values") is None:
            data["seeds"].pop("values")
    if engine is not None:
        data["train"]["engine"] = engine
    data["train"].update({k: v for k, v in train.items() if v is not None})
    return parse_spec(data, source="options")


def resolve_data_path(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """A relative ``[data] path`` (CSV) is relative to the config file: make it absolute."""
    d = data.get("data")
    if isinstance(d, dict) and isinstance(d.get("path"), str) and d["path"]:
        path = Path(d["path"]).expanduser()
        if not path.is_absolute():
            data = {**data, "data": {**d, "path": str((base / path).resolve())}}
    return data


def is_sweep_preset(path: Path) -> bool:
    """Whether a preset file is a sweep (a top-level [sweep] table) rather than an experiment."""
    try:
        return "sweep" in tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return False


def list_presets(kind: Literal["experiment", "sweep", "all"] = "experiment") -> list[str]:
    """Names of the built-in presets: experiments (default), sweeps, or all."""
    paths = sorted(PRESETS_DIR.glob("*.toml"))
    if kind != "all":
        paths = [p for p in paths if is_sweep_preset(p) == (kind == "sweep")]
    return [p.stem for p in paths]
