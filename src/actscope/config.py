"""Pydantic models of every spec, TOML loading and one-line validation messages.

An ExperimentSpec is complete once resolved: ``to_toml`` writes it back with every
default made explicit, and loading that file reproduces the run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import tomllib
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import InputError

PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(ge=0, lt=1)]

PRESETS_DIR = Path(__file__).parent / "presets"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _check_activation(value):
    from .activations import get_activation

    names = [value] if isinstance(value, str) else list(value)
    for name in names:
        get_activation(name)  # raises with the known names
    return value


class DataSpec(Strict):
    """Where the data comes from and how it is split and scaled."""

    name: Literal["moons"] = "moons"
    n_samples: PositiveInt = 400
    noise: Annotated[float, Field(ge=0)] = 0.18
    random_state: int = 42
    test_size: Annotated[float, Field(gt=0, lt=1)] = 0.25
    val_size: Fraction = 0.0
    split_seed: int = 42
    standardize: Literal["train", "all", "none"] = "train"


class ModelSpec(Strict):
    """The architecture shared by every arm (arms may set their own activation/init)."""

    hidden: Annotated[list[PositiveInt], Field(min_length=1)] = [8, 8]
    activation: str | list[str] = "relu"
    init: str = "auto"

    _v_act = field_validator("activation")(classmethod(lambda cls, v: _check_activation(v)))

    @field_validator("init")
    @classmethod
    def _known_init(cls, v: str) -> str:
        from .model import all_init_schemes

        if v not in all_init_schemes():
            raise ValueError(f"unknown init scheme; known: {', '.join(all_init_schemes())}")
        return v


class TrainSpec(Strict):
    """How every arm is trained."""

    optimizer: Literal["sgd", "momentum", "nesterov", "adam"] = "sgd"
    lr: PositiveFloat = 0.05
    momentum: Annotated[float, Field(ge=0, lt=1)] = 0.9
    betas: tuple[Annotated[float, Field(ge=0, lt=1)], Annotated[float, Field(ge=0, lt=1)]] = (0.9, 0.999)
    eps: PositiveFloat = 1e-8
    weight_decay: Annotated[float, Field(ge=0)] = 0.0
    epochs: PositiveInt = 800
    batch_size: PositiveInt = 64
    shuffle: bool = True
    rng: Literal["default", "article"] = "default"
    engine: str = "numpy"
    dtype: Literal["float32", "float64"] = "float64"
    device: str = "cpu"
    eval_every: PositiveInt = 1


class ArmSpec(Strict):
    """One arm: an ensemble that differs from the others only in what is set here."""

    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.+\-]+$")]
    activation: str | list[str]
    init: str | None = None
    lr: PositiveFloat | None = None

    _v_act = field_validator("activation")(classmethod(lambda cls, v: _check_activation(v)))


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


class ProbesSpec(Strict):
    points: list[PointSpec] = []


class ReportSpec(Strict):
    enabled: bool = True
    dpi: Annotated[int, Field(ge=30, le=600)] = 110


class ExperimentSpec(Strict):
    """An experiment: data + model + train + arms + seeds (+ probes, report)."""

    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.+\-]+$")] = "experiment"
    description: str = ""
    data: DataSpec = DataSpec()
    model: ModelSpec = ModelSpec()
    train: TrainSpec = TrainSpec()
    arms: Annotated[list[ArmSpec], Field(min_length=1)]
    seeds: SeedsSpec = SeedsSpec()
    probes: ProbesSpec = ProbesSpec()
    report: ReportSpec = ReportSpec()

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
    loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and ("[" in p or p in {"str", "int", "float", "list"})))
    field = _format_loc(loc) or "(top level)"
    msg = e["msg"].removeprefix("Value error, ")
    if e["type"] == "extra_forbidden":
        return f"{source}: unknown key '{field}'"
    if e["type"] == "missing":
        return f"{source}: missing required key '{field}'"
    value = e.get("input")
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
    return parse_spec(load_toml(p), source=str(p))


def list_presets() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.toml"))
