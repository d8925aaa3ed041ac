"""The specs: pydantic models of every table of an experiment file.

Names (datasets, activations, init schemes, engines) are checked against their registries
(registries.py); validation has no side effects. An ExperimentSpec is complete once
resolved: ``to_toml`` writes it back with every default made explicit, and loading that
file reproduces the run.
"""

from __future__ import annotations

from typing import Annotated, Literal

import tomli_w
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationInfo,
    field_validator,
    model_validator,
)

from actscope.config.registries import (
    check_activation,
    check_dataset,
    check_engine,
    check_formula,
    check_formula_name,
    check_init_scheme,
    check_optimizer,
    own_activations,
)
from actscope.config.validation import MAX_SEED, duplicates, first_repeat, safe_name
from actscope.errors import shown

# strict numbers: a bool or a string is refused, not coerced (epochs = true is not 1 epoch);
# an int is accepted where a float is expected. Every float must be finite (Strict).
PositiveInt = Annotated[int, Field(gt=0, strict=True)]
Float = Annotated[float, Field(strict=True)]
PositiveFloat = Annotated[float, Field(gt=0, strict=True)]
NonNegativeFloat = Annotated[float, Field(ge=0, strict=True)]
Fraction = Annotated[float, Field(ge=0, lt=1, strict=True)]
OpenFraction = Annotated[float, Field(gt=0, lt=1, strict=True)]
Seed = Annotated[int, Field(ge=0, le=MAX_SEED, strict=True)]
SafeName = Annotated[str, Field(strict=True), AfterValidator(safe_name)]


class Strict(BaseModel):
    """A model that refuses unknown keys and non-finite floats and validates assignments."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


# fields that only one dataset uses: field -> (dataset, default)
DATA_FIELDS: dict[str, tuple[str, object]] = {
    "factor": ("circles", 0.5), "turns": ("spiral", 1.5), "centers": ("blobs", 3),
    "cells": ("checkerboard", 4), "path": ("csv", None), "label": ("csv", "label"),
    "features": ("csv", []), "drop": ("csv", []), "delimiter": ("csv", "auto")}


class DataSpec(Strict):
    """Where the data comes from and how it is split and scaled.

    ``n_samples``, ``noise`` and ``random_state`` drive the 2-D generators; the
    scikit-learn built-ins (breast_cancer, iris, wine, digits) and ``csv`` ignore them.
    """

    name: str = "moons"  # a registered generator (actscope.data.register_generator)
    n_samples: PositiveInt = 400
    noise: NonNegativeFloat = 0.18
    random_state: Seed = 42
    test_size: OpenFraction = 0.25
    val_size: Fraction = 0.0
    split_seed: Seed = 42
    standardize: Literal["train", "all", "none"] = "train"
    factor: OpenFraction | None = None  # circles: inner / outer radius
    turns: PositiveFloat | None = None  # spiral: turns of each of the two arms
    centers: Annotated[int, Field(ge=2, le=50, strict=True)] | None = None  # blobs: number of classes
    cells: Annotated[int, Field(ge=2, le=50, strict=True)] | None = None  # checkerboard: squares per side
    path: Annotated[str, Field(min_length=1, strict=True)] | None = None  # csv: relative to the config
    label: Annotated[str, Field(min_length=1, strict=True)] | None = None  # csv: the label column
    # csv: the feature columns ([]: every column but the label), columns left out, delimiter
    features: list[Annotated[str, Field(min_length=1, strict=True)]] | None = None
    drop: list[Annotated[str, Field(min_length=1, strict=True)]] | None = None
    delimiter: Literal["auto", ",", ";", "\t", "|"] | None = None

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

    _v_name = field_validator("name")(classmethod(lambda cls, v: check_dataset(v)))


class ModelSpec(Strict):
    """The architecture shared by every arm (arms may set their own activation/init)."""

    hidden: Annotated[list[PositiveInt], Field(min_length=1)] = [8, 8]
    activation: str | list[str] = "relu"
    init: str = "auto"

    _v_act = field_validator("activation", mode="before")(classmethod(lambda cls, v: check_activation(v)))

    _v_init = field_validator("init")(classmethod(lambda cls, v: check_init_scheme(v)))


class TrainSpec(Strict):
    """How every arm is trained."""

    optimizer: str = "sgd"  # a name of actscope.training.OPTIMIZERS
    lr: PositiveFloat | Literal["tune"] = 0.05
    momentum: Fraction = 0.9
    betas: tuple[Fraction, Fraction] = (0.9, 0.999)
    eps: PositiveFloat = 1e-8
    weight_decay: NonNegativeFloat = 0.0
    # regularisation, off by default: penalties l1 * sum|W| + l2 / 2 * sum W^2 on the weights
    # (not the biases, as the TensorFlow Playground) enter the gradient; the losses reported
    # stay the data loss. dropout: probability of zeroing a hidden unit while training.
    l1: NonNegativeFloat = 0.0
    l2: NonNegativeFloat = 0.0
    dropout: Fraction = 0.0
    epochs: PositiveInt = 800
    batch_size: PositiveInt = 64
    shuffle: StrictBool = True
    rng: Literal["default", "article"] = "default"
    engine: str = "numpy"  # a registered engine (actscope.engines.list_engines)
    dtype: Literal["float32", "float64"] = "float64"
    device: str = "cpu"
    # evaluate the splits every k-th epoch, or "log": every epoch up to 10, then 20 per decade
    # (training.schedule); the last epoch always
    eval_every: PositiveInt | Literal["log"] = "log"
    # lr = "tune": one ensemble per rate of lr_grid, the rate with the best mean validation
    # accuracy over seeds is kept (see tune.py); None means tune.DEFAULT_LR_GRID.
    lr_grid: Annotated[list[PositiveFloat], Field(min_length=1)] | None = None
    tune_val_size: OpenFraction = 0.2  # used when [data] val_size = 0

    _v_engine = field_validator("engine")(classmethod(lambda cls, v: check_engine(v)))

    @field_validator("eval_every", mode="before")
    @classmethod
    def _eval_every(cls, v):
        if v == "log" or (isinstance(v, int) and not isinstance(v, bool) and v >= 1):
            return v
        raise ValueError('must be a positive number of epochs or "log" (training.schedule)')
    _v_optimizer = field_validator("optimizer")(classmethod(lambda cls, v: check_optimizer(v)))

    @field_validator("lr", mode="before")
    @classmethod
    def _lr_number_or_tune(cls, v):
        if isinstance(v, str) and v != "tune" or isinstance(v, bool):
            raise ValueError("must be a positive number or \"tune\"")
        return v


class ArmSpec(Strict):
    """One arm: an ensemble that differs from the others only in what is set here."""

    name: SafeName  # it names files (params.npz entries, figures): see validation.safe_name
    activation: str | list[str]
    init: str | None = None
    lr: PositiveFloat | None = None

    _v_act = field_validator("activation", mode="before")(classmethod(lambda cls, v: check_activation(v)))
    _v_init = field_validator("init")(classmethod(lambda cls, v: v if v is None else check_init_scheme(v)))


class SeedsSpec(Strict):
    """The members of every arm: ``count`` seeds from ``start``, or an explicit list of
    distinct seeds. Seeds are 0 to MAX_SEED (what ``np.random.seed`` accepts)."""

    start: Seed = 0
    count: PositiveInt = 1
    values: Annotated[list[Seed], Field(min_length=1)] | None = None

    @field_validator("values")
    @classmethod
    def _distinct(cls, v: list[int] | None) -> list[int] | None:
        repeated = duplicates(v or [])
        if repeated:
            raise ValueError(f"seeds must be distinct (a repeated seed is the same network counted "
                             f"twice); repeated: {', '.join(map(str, repeated[:10]))}")
        return v

    @field_validator("count")
    @classmethod
    def _in_range(cls, count: int, info: ValidationInfo) -> int:
        last = info.data.get("start", 0) + count - 1
        if last > MAX_SEED:
            raise ValueError(f"the seeds from start would reach {last}; seeds are 0 to {MAX_SEED}")
        return count

    @property
    def n(self) -> int:
        """The number of seeds (members per arm), without listing them."""
        return len(self.values) if self.values is not None else self.count

    def as_list(self) -> list[int]:
        if self.values is not None:
            return [int(s) for s in self.values]
        return list(range(self.start, self.start + self.count))


class PointSpec(Strict):
    """A named input point for the signal trace: given, or chosen from the data."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: Annotated[str, Field(min_length=1)]
    x: Annotated[list[Float], Field(min_length=1)] | None = None
    farthest_from: Annotated[list[Float], Field(min_length=1)] | None = None
    label: Annotated[int, Field(ge=0, strict=True)] | None = Field(default=None, alias="class")
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
    every: Annotated[int, Field(ge=0, strict=True)] = 0
    split: Literal["train", "val", "test"] = "test"
    max_points: PositiveInt = 2000
    grid: Annotated[int, Field(ge=16, le=1000, strict=True)] = 200
    saturation: OpenFraction = 0.01
    true_boundary: StrictBool = True
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
    enabled: StrictBool = True
    dpi: Annotated[int, Field(ge=30, le=600, strict=True)] = 100


class CustomActivationSpec(Strict):
    """An activation defined by a formula in x (see actscope.activations.formula); a bare
    string is the formula alone. Validation parses and tests the formula; registering it
    is `register_custom_activations`'s job, when a run starts."""

    formula: Annotated[str, Field(min_length=1)]
    family: Literal["piecewise-linear", "saturating", "smooth", "linear"] = "smooth"
    gain: PositiveFloat | None = None  # None: 1 / sqrt(E[f(z)^2]), z ~ N(0, 1)

    @model_validator(mode="before")
    @classmethod
    def _bare_formula(cls, data):
        return {"formula": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _formula_works(self):
        check_formula(self.formula, self.family, self.gain)
        return self


class ExperimentSpec(Strict):
    """An experiment: data + model + train + arms + seeds (+ probes, report)."""

    name: SafeName = "experiment"  # it names the run directory: see validation.safe_name
    description: str = ""
    # activations defined by formulas, usable by name in this spec: [activations.mish2]
    # formula = "...". Validation checks them without registering them (registries.py).
    activations: dict[str, CustomActivationSpec] | None = None
    data: DataSpec = DataSpec()
    model: ModelSpec = ModelSpec()
    train: TrainSpec = TrainSpec()
    arms: Annotated[list[ArmSpec], Field(min_length=1)]
    seeds: SeedsSpec = SeedsSpec()
    probes: ProbesSpec = ProbesSpec()
    report: ReportSpec = ReportSpec()

    @model_validator(mode="wrap")
    @classmethod
    def _own_activations_in_scope(cls, data, handler):
        """Validate with this spec's own formula names usable by model and arms."""
        acts = data.get("activations") if isinstance(data, dict) else getattr(data, "activations", None)
        with own_activations(acts if isinstance(acts, dict) else ()):
            return handler(data)

    @field_validator("activations")
    @classmethod
    def _formula_names(cls, v):
        for name in v or {}:
            check_formula_name(name)
        return v

    @model_validator(mode="after")
    def _unique_arms(self):
        """Arm names name files: each once (linear: 100,000 arms are checked at once)."""
        repeat = first_repeat(a.name for a in self.arms)
        if repeat is not None:
            first, again = repeat
            raise ValueError(f"arms[{again}].name = {shown(self.arms[again].name)}: arm names must "
                             f"be unique (arms[{first}] has it too)")
        return self

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
            # deferred: the tuning grid lives with the training loop, needed only here
            from actscope.config.tuning import resolve_tuning

            resolve_tuning(self)
        return self

    def to_toml(self) -> str:
        """The spec as TOML, every default explicit: loading it reproduces the run."""
        return tomli_w.dumps(self.model_dump(mode="json", by_alias=True, exclude_none=True))

    def _repr_html_(self) -> str:
        """The spec in a notebook: settings and arms (`config.display`)."""
        from actscope.config.display import spec_html  # deferred: only notebooks need it

        return spec_html(self)
