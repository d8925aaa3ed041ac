"""A search file: a top-level ``[search]`` table (strategy, size limit, candidates, the
successive-halving stages), the tasks as ``[tasks.NAME]`` data tables, and the ``[model]``
and ``[train]`` every candidate shares. Validated once, whole, before any candidate is
proposed; `cell_spec` turns one cell of it into the plain ``actscope run`` spec it stands for.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import tomli_w
from pydantic import AfterValidator, Field, StrictBool, ValidationError, field_validator

from actscope.config import (
    DataSpec,
    ExperimentSpec,
    Strict,
    check_init_scheme,
    format_validation_error,
    load_toml,
    parse_spec,
    resolve_config_path,
    resolve_data_path,
)
from actscope.config.overrides import apply_sets, name_the_set
from actscope.config.registries import check_optimizer
from actscope.config.specs import Fraction, PositiveFloat, PositiveInt, SafeName, Seed
from actscope.config.validation import first_repeat
from actscope.errors import InputError, input_error

STRATEGIES = ("exhaustive", "evolution", "random")
# unknown keys an experiment file has and a search sets elsewhere
HINTS = {"train.epochs": " (a search sets epochs per stage: [[search.stages]] epochs)",
         "train.lr": " (a search tunes each candidate's rate over [train] lr_grid)",
         "seeds": " (a search sets seeds per stage: [[search.stages]] seeds)",
         "data": " (a search's data are its [tasks.NAME] tables)",
         "model.activation": " (the search proposes the activations)"}
KEEP_RULE = "a fraction in (0, 1) or a whole count >= 1 of the candidates promoted"


def _builtin(name: str) -> str:
    """``name`` if it is a registered activation's name (a reference is a known function)."""
    from actscope.activations import list_activations  # deferred: SciPy

    if name not in list_activations():
        raise ValueError(f"not a registered activation; known: {', '.join(list_activations())}")
    return name


Reference = Annotated[str, Field(strict=True), AfterValidator(_builtin)]


class StageTable(Strict):
    """One ``[[search.stages]]`` table: a rung of successive halving."""

    seeds: PositiveInt  # seeds 0..seeds-1
    epochs: PositiveInt
    keep: PositiveFloat | None = None  # fraction (< 1) or count (>= 1) promoted; last stage: none

    @field_validator("keep", mode="before")
    @classmethod
    def _fraction_or_count(cls, v):
        if v is None:
            return v
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ValueError(KEEP_RULE)
        if isinstance(v, float) and v >= 1 and not v.is_integer() or v <= 0:
            raise ValueError(KEEP_RULE)
        return v


class SearchTable(Strict):
    """The ``[search]`` table: what is proposed, how many, against which references, and the
    stages of successive halving."""

    name: SafeName = "search"  # names the run directory runs/search-<name>/
    description: str = ""
    strategy: Literal["exhaustive", "evolution", "random"] = "exhaustive"  # STRATEGIES
    max_size: Annotated[int, Field(ge=1, le=12, strict=True)] = 3  # grammar size limit
    candidates: PositiveInt = 2000  # distinct candidates evaluated, references excluded
    references: Annotated[list[Reference], Field(min_length=1)] = ["relu", "silu", "gelu", "tanh"]
    seed: Seed = 0  # the strategy's own randomness
    population: Annotated[int, Field(ge=2, strict=True)] = 100  # evolution only
    sample: Annotated[int, Field(ge=1, strict=True)] = 25  # evolution only: tournament size
    chunk: PositiveInt = 128  # candidates per stored cell
    tasks: Annotated[list[SafeName], Field(min_length=1)] | None = None  # None: every [tasks.NAME]
    stages: Annotated[list[StageTable], Field(min_length=1)]


class SearchModel(Strict):
    """The ``[model]`` table of a search: the architecture every candidate is trained in."""

    hidden: Annotated[list[PositiveInt], Field(min_length=1)] = [8, 8]
    init: str = "auto"

    _v_init = field_validator("init")(classmethod(lambda cls, v: check_init_scheme(v)))


class SearchTrain(Strict):
    """The ``[train]`` table of a search: how every candidate is trained."""

    optimizer: str = "sgd"
    lr_grid: Annotated[list[PositiveFloat], Field(min_length=1)] = [0.05, 0.2, 0.8]
    batch_size: PositiveInt = 64
    momentum: Fraction = 0.9
    betas: tuple[Fraction, Fraction] = (0.9, 0.999)
    eps: PositiveFloat = 1e-8
    weight_decay: Annotated[float, Field(ge=0, strict=True)] = 0.0
    shuffle: StrictBool = True
    dtype: Literal["float32", "float64"] = "float32"

    _v_optimizer = field_validator("optimizer")(classmethod(lambda cls, v: check_optimizer(v)))

    @field_validator("lr_grid")
    @classmethod
    def _distinct(cls, v: list[float]) -> list[float]:
        if len(set(v)) != len(v):
            raise ValueError("each rate once")
        return v


class SearchFile(Strict):
    """A whole search file."""

    search: SearchTable
    tasks: Annotated[dict[SafeName, DataSpec], Field(min_length=1)]
    model: SearchModel = SearchModel()
    train: SearchTrain = SearchTrain()


@dataclass(frozen=True)
class Stage:
    """A rung of successive halving: seeds 0..seeds-1, epochs, and the fraction (< 1) or
    count (>= 1) promoted to the next (None on the last)."""

    seeds: int
    epochs: int
    keep: float | None

    def promoted(self, n: int) -> int:
        """How many of ``n`` candidates go on to the next stage: ``ceil(keep * n)`` (at least
        one) for a fraction, ``min(keep, n)`` for a count; 0 on the last stage."""
        if self.keep is None:
            return 0
        if self.keep < 1:
            return min(n, max(1, math.ceil(self.keep * n - 1e-9)))
        return min(n, int(self.keep))


@dataclass(frozen=True)
class SearchSpec:
    """A validated search: what to propose, where to evaluate it and how to train it."""

    name: str
    description: str
    strategy: str
    max_size: int
    candidates: int
    references: tuple[str, ...]
    seed: int
    population: int
    sample: int
    chunk: int
    stages: tuple[Stage, ...]
    tasks: dict[str, DataSpec]
    hidden: tuple[int, ...]
    init: str
    optimizer: str
    lr_grid: tuple[float, ...]
    batch_size: int
    momentum: float
    dtype: str
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    shuffle: bool = True

    def to_dict(self) -> dict[str, Any]:
        """The search as a file's content, every default explicit."""
        search = {"name": self.name, "description": self.description, "strategy": self.strategy,
                  "max_size": self.max_size, "candidates": self.candidates,
                  "references": list(self.references), "seed": self.seed,
                  "population": self.population, "sample": self.sample, "chunk": self.chunk,
                  "tasks": list(self.tasks),
                  "stages": [{"seeds": s.seeds, "epochs": s.epochs}
                             | ({} if s.keep is None else {"keep": s.keep}) for s in self.stages]}
        train = {"optimizer": self.optimizer, "lr_grid": list(self.lr_grid),
                 "batch_size": self.batch_size, "momentum": self.momentum,
                 "betas": list(self.betas), "eps": self.eps, "weight_decay": self.weight_decay,
                 "shuffle": self.shuffle, "dtype": self.dtype}
        return {"search": search,
                "tasks": {k: v.model_dump(mode="json", exclude_none=True) for k, v in self.tasks.items()},
                "model": {"hidden": list(self.hidden), "init": self.init}, "train": train}

    def to_toml(self) -> str:
        """The search as resolved TOML (``search.toml``): loading it gives an equal spec."""
        return tomli_w.dumps(self.to_dict())


def is_search_file(data: dict) -> bool:
    """Whether a file's content is a search (a top-level ``[search]`` table)."""
    return isinstance(data, dict) and "search" in data


def _from_file(f: SearchFile) -> SearchSpec:
    s, t = f.search, f.train
    return SearchSpec(
        name=s.name, description=s.description, strategy=s.strategy, max_size=s.max_size,
        candidates=s.candidates, references=tuple(s.references), seed=s.seed,
        population=s.population, sample=s.sample, chunk=s.chunk,
        stages=tuple(Stage(st.seeds, st.epochs, st.keep) for st in s.stages),
        tasks={name: f.tasks[name] for name in s.tasks or f.tasks}, hidden=tuple(f.model.hidden),
        init=f.model.init, optimizer=t.optimizer, lr_grid=tuple(float(r) for r in t.lr_grid),
        batch_size=t.batch_size, momentum=float(t.momentum), dtype=t.dtype,
        betas=(float(t.betas[0]), float(t.betas[1])), eps=float(t.eps),
        weight_decay=float(t.weight_decay), shuffle=t.shuffle)


def _check_table(t: SearchTable, source: str) -> None:
    """The checks that span fields of ``[search]``: tournament size, tasks, stages' keep."""
    if t.sample > t.population:
        raise input_error(source, "search.sample", t.sample, f"the tournament draws from the last "
                          f"population = {t.population} candidates: at most {t.population}")
    for field in ("tasks", "references"):
        values = getattr(t, field) or []
        repeat = first_repeat(values)
        if repeat is not None:
            raise input_error(source, f"search.{field}[{repeat[1]}]", values[repeat[1]],
                              f"given twice (search.{field}[{repeat[0]}] too): each once")
    last = len(t.stages) - 1
    for i, st in enumerate(t.stages[:-1]):
        if st.keep is None:
            raise InputError(f"{source}: search.stages[{i}].keep is missing: every stage but the "
                             f"last promotes ({KEEP_RULE})")
    if t.stages[last].keep is not None:
        raise input_error(source, f"search.stages[{last}].keep", t.stages[last].keep,
                          "the last stage promotes nothing: leave keep out")


def _check_tasks(f: SearchFile, source: str) -> None:
    """Every task named is defined, has a validation split and two classes."""
    from actscope.data import load_dataset  # deferred: scikit-learn

    for i, name in enumerate(f.search.tasks or []):
        if name not in f.tasks:
            raise input_error(source, f"search.tasks[{i}]", name,
                              f"no [tasks.{name}] table; defined: {', '.join(f.tasks)}")
    for name in f.search.tasks or []:
        data = f.tasks[name]
        if data.val_size <= 0:
            raise input_error(source, f"tasks.{name}.val_size", data.val_size,
                              "each candidate's rate is tuned on validation: give a fraction in (0, 1)")
        try:
            n_classes = load_dataset(data).n_classes
        except InputError as err:
            msg = str(err).removeprefix("data: ")  # data's own message, about this task's fields
            where = f"tasks.{name}." if msg.startswith("data.") else f"tasks.{name}: "
            raise InputError(f"{source}: {where}{msg.removeprefix('data.')}") from None
        if n_classes != 2:
            raise input_error(source, f"tasks.{name}.name", data.name,
                              f"{n_classes} classes; the search trains one logit: binary tasks only")


def parse_search(data: dict, source: str = "search") -> SearchSpec:
    """Validate a search file's content (one-line InputError naming field, value and what is
    allowed); runs nothing."""
    if not is_search_file(data):
        hint = ": a sweep config: run it with `actscope sweep`" if "sweep" in data else ""
        raise InputError(f"{source}: not a search config: it has no [search] table{hint}")
    try:
        f = SearchFile.model_validate(data)
    except ValidationError as err:
        loc = ".".join(map(str, err.errors()[0]["loc"]))
        hint = HINTS.get(loc, "") if err.errors()[0]["type"] == "extra_forbidden" else ""
        raise InputError(format_validation_error(err, source) + hint) from None
    if f.search.tasks is None:  # every task the file defines, in its order
        f.search.tasks = list(f.tasks)
    _check_table(f.search, source)
    _check_tasks(f, source)
    return _from_file(f)


def load_search(path_or_preset: str | Path, sets: Iterable[str] = ()) -> SearchSpec:
    """Read and validate a search TOML file (or a built-in search preset's name), with
    ``--set section.field=value`` overrides applied before validation.

    Raises
    ------
    InputError
        One line naming the file (or the ``--set``), the field, its value and what is allowed.
    """
    sets = list(sets)
    p = resolve_config_path(path_or_preset)
    data = load_toml(p)
    if sets:
        fields = {name: f.annotation for name, f in SearchFile.model_fields.items()}
        data = apply_sets(data, sets, sections=fields)  # type: ignore[arg-type]
    tasks = data.get("tasks")
    if isinstance(tasks, dict):  # a CSV task's path is relative to the file
        data = {**data, "tasks": {k: resolve_data_path({"data": v}, p.parent)["data"]
                                  if isinstance(v, dict) else v for k, v in tasks.items()}}
    try:
        return parse_search(data, source=str(p))
    except InputError as err:
        raise name_the_set(err, str(p), sets) from None


def cell_spec(search: SearchSpec, activation: str, task: str, lr: float, seeds: int,
              epochs: int, formula: str | None = None, family: str | None = None,
              ) -> ExperimentSpec:
    """The plain ``actscope run`` spec of one cell.

    That task's data, the search's model with this activation (a built-in name; or, with
    ``formula``, the name of an ``[activations.NAME] formula = ...`` table), optimizer,
    batch size, ``lr``, ``epochs`` evaluated once at the end, engine ``"fast"``, the search's
    dtype, seeds 0..seeds-1, probes and report off.

    Parameters
    ----------
    search : SearchSpec
    activation : str
        A registered activation's name, or the NAME a ``formula`` is defined under.
    task : str
        A name of ``search.tasks``.
    lr : float
    seeds, epochs : int
    formula : str, optional
        A formula in ``x``; the spec then defines ``[activations.<activation>]``.
    family : str, optional
        That formula's family (``"smooth"`` when None); ``init = "auto"`` draws He weights
        for ``"piecewise-linear"``, so it must be the family the candidate's activation has.

    Returns
    -------
    ExperimentSpec
    """
    if task not in search.tasks:
        raise InputError(f"cell: task = {task!r}: not a task of the search; tasks: {', '.join(search.tasks)}")
    train = {"optimizer": search.optimizer, "lr": lr, "momentum": search.momentum,
             "betas": list(search.betas), "eps": search.eps, "weight_decay": search.weight_decay,
             "epochs": epochs, "batch_size": search.batch_size, "shuffle": search.shuffle,
             "engine": "fast", "dtype": search.dtype, "eval_every": epochs}
    d: dict[str, Any] = {
        "name": search.name, "data": search.tasks[task].model_dump(mode="json", exclude_none=True),
        "model": {"hidden": list(search.hidden), "init": search.init, "activation": activation},
        "train": train, "arms": [{"name": activation, "activation": activation}],
        "seeds": {"start": 0, "count": seeds},
        "probes": {"include": [], "batch_gradients": "off"}, "report": {"enabled": False}}
    if formula is not None:
        d["activations"] = {activation: {"formula": formula} | ({} if family is None else {"family": family})}
    return parse_spec(d, source=f"search {search.name}: cell {activation}/{task}")

