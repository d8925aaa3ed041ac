"""What every field of a spec means: the one table behind `actscope schema` (descriptions
in the JSON Schema), `actscope init` (the template's comments) and the documentation site's
spec reference (docs/hooks.py). A field of a spec model with no meaning here is an error
(`rows`), so a new field cannot reach the documentation undocumented."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from actscope.config import (
    DATA_FIELDS,
    ArmSpec,
    CustomActivationSpec,
    DataSpec,
    ExperimentSpec,
    ModelSpec,
    PointSpec,
    ProbesSpec,
    ReportSpec,
    SeedsSpec,
    TrainSpec,
)
from actscope.search.spec import SearchModel, SearchTable, SearchTrain, StageTable
from actscope.sweep import SweepTable

# (TOML table, model): the order of the reference and of the template
SECTIONS: list[tuple[str, type[BaseModel]]] = [
    ("", ExperimentSpec), ("activations.NAME", CustomActivationSpec), ("data", DataSpec),
    ("model", ModelSpec), ("train", TrainSpec), ("[arms]", ArmSpec), ("seeds", SeedsSpec),
    ("probes", ProbesSpec), ("[probes.points]", PointSpec), ("report", ReportSpec),
    ("sweep", SweepTable),
]

# the tables of a search file (`actscope search`); its [tasks.NAME] tables are [data] tables
SEARCH_SECTIONS: list[tuple[str, type[BaseModel]]] = [
    ("search", SearchTable), ("[search.stages]", StageTable), ("search/model", SearchModel),
    ("search/train", SearchTrain),
]

MEANINGS: dict[str, str] = {
    ".name": "names the run directory (1 to 100 letters, digits and `_ . + -`, not starting with `.`)",
    ".description": "free text, kept in the resolved spec",
    ".activations": "activations defined by formulas, usable by name in this spec (`[activations.NAME]`)",
    ".data": "the `[data]` table", ".model": "the `[model]` table", ".train": "the `[train]` table",
    ".arms": "the `[[arms]]`: at least one; each is one ensemble", ".seeds": "the `[seeds]` table",
    ".probes": "the `[probes]` table", ".report": "the `[report]` table",
    ".sweep": "a sweep file's `[sweep]` table: its settings and its `[sweep.grid]`",
    "activations.NAME.formula": "the activation as a formula in `x` (a bare string is the formula alone)",
    "activations.NAME.family": "piecewise-linear, saturating, smooth or linear",
    "activations.NAME.gain": "the init gain (none: 1/√E[f(z)²], z ~ N(0, 1))",
    "data.name": "the dataset: a registered 2-D generator, a scikit-learn built-in or `csv`",
    "data.n_samples": "points drawn by a 2-D generator",
    "data.noise": "the generator's noise",
    "data.random_state": "the seed of the data generator",
    "data.test_size": "the fraction held out as the test split",
    "data.val_size": "the fraction of the training split held out for validation (0: none)",
    "data.split_seed": "the seed of the train / validation / test split",
    "data.standardize": "feature scaling fitted on the training split (`train`), on all rows as the "
                        "first article (`all`), or `none`",
    "data.factor": "circles: inner radius / outer radius",
    "data.turns": "spiral: turns of each of the two arms",
    "data.centers": "blobs: the number of classes",
    "data.cells": "checkerboard: squares per side",
    "data.path": "csv: the file, relative to the config file",
    "data.label": "csv: the label column",
    "data.features": "csv: the feature columns (`[]`: every column but the label)",
    "data.drop": "csv: columns left out",
    "data.delimiter": "csv: the delimiter (`auto`: detected among `,` `;` tab `|`)",
    "model.hidden": "the widths of the hidden layers, one entry per layer",
    "model.activation": "a registered activation or a formula of `[activations]`; or one per hidden layer",
    "model.init": "the weight init scheme (`auto`: he for the ReLU family, xavier otherwise)",
    "train.optimizer": "sgd, momentum, nesterov or adam",
    "train.lr": "the learning rate, or `\"tune\"`: per arm, the rate of `lr_grid` with the best mean "
                "validation accuracy",
    "train.momentum": "the momentum coefficient (momentum, nesterov)",
    "train.betas": "Adam's decay rates of the moment estimates",
    "train.eps": "Adam's epsilon",
    "train.weight_decay": "adds `weight_decay × params` to the gradients (torch.optim's meaning)",
    "train.l1": "penalty `l1 × Σ|W|` on the weights (not the biases); the losses reported stay the data loss",
    "train.l2": "penalty `l2 / 2 × ΣW²` on the weights (not the biases)",
    "train.dropout": "the probability of zeroing a hidden unit while training",
    "train.epochs": "passes over the training split",
    "train.batch_size": "the minibatch size",
    "train.shuffle": "reshuffle the training rows every epoch",
    "train.rng": "`article`: `np.random.seed(seed)` before each init, as the article; else `default`",
    "train.engine": "a registered engine (`actscope.engines.list_engines()`)",
    "train.dtype": "the engine's floating-point type",
    "train.device": "the engine's device",
    "train.eval_every": "evaluate the splits every k-th epoch, or `log`: every epoch up to 10, then 20 "
                        "per decade; the last epoch always",
    "train.lr_grid": "the rates tried when `lr = \"tune\"` (none: the default grid)",
    "train.tune_val_size": "the validation fraction for tuning when `[data] val_size = 0`",
    "[arms].name": "names the arm's files and figures; unique among the arms",
    "[arms].activation": "the arm's activation (a name, or one per hidden layer)",
    "[arms].init": "the arm's init scheme (none: `[model] init`)",
    "[arms].lr": "the arm's learning rate (none: `[train] lr`)",
    "seeds.start": "the first seed",
    "seeds.count": "members per arm: seeds `start` to `start + count - 1`",
    "seeds.values": "an explicit list of distinct seeds, instead of start and count",
    "probes.points": "named input points for the layer-by-layer signal trace",
    "probes.include": "the probes that run (`[]` turns them off)",
    "probes.epochs": "1-based epochs at which the probes are also recorded during training",
    "probes.every": "also record the probes every k-th epoch (0: off)",
    "probes.split": "the split the probes measure",
    "probes.max_points": "at most this many rows of that split are probed",
    "probes.grid": "points per side of the decision-boundary grid",
    "probes.saturation": "a unit is saturated where |f'(z)| is below this fraction of its maximum",
    "probes.true_boundary": "draw the data's true boundary where its generator knows it",
    "probes.batch_gradients": "minibatch gradient norms every epoch (`auto`: unless the engine fuses epochs)",
    "[probes.points].name": "the point's name in the trace",
    "[probes.points].x": "the point's coordinates, one per feature",
    "[probes.points].farthest_from": "take the row of the split farthest from these coordinates",
    "[probes.points].class": "with `farthest_from`: only rows of this class",
    "[probes.points].split": "the split `farthest_from` searches",
    "report.enabled": "draw the figures and `report.html` after the run",
    "report.dpi": "the figures' resolution",
    "sweep.name": "names the sweep directory and every cell's spec (or the file's top-level `name`)",
    "sweep.description": "free text",
    "sweep.grid": "`[sweep.grid]`: axes, spec fields (`model.depth`, `model.width`, `activation`, "
                  "`data.noise`, `train.optimizer`, ...) → lists of values; every combination is a cell",
    "sweep.target_accuracy": "the test accuracy that counts as reaching the target",
    "sweep.success_fraction": "the fraction of seeds that must reach it",
    "sweep.shared_lr": "the one rate of the naive comparison (none: `[train] lr`)",
    "sweep.reference": "the activation the gaps are measured against (none: relu)",
    "sweep.focus": "the headline architecture (hidden widths)",
    "sweep.latency": "measure the inference latency of every cell",
    "sweep.latency_batch": "the batch size of the latency measurement",
    "search.name": "names the search directory `runs/search-<name>` (a name as `name` above)",
    "search.description": "free text, kept in the resolved `search.toml`",
    "search.strategy": "`exhaustive` (every function of the grammar up to `max_size`, in a fixed order), "
                       "`evolution` (regularised evolution) or `random` (the baseline)",
    "search.max_size": "the largest candidate: primitives in its expression (1 to 12)",
    "search.candidates": "distinct candidates evaluated, after deduplication and screening; "
                         "the references are not counted",
    "search.references": "registered activations evaluated in every stage; each candidate of the "
                         "last stage is compared with each of them (paired, Holm-corrected)",
    "search.seed": "the strategy's own randomness (`random`, `evolution`)",
    "search.population": "evolution: the last `population` candidates evaluated form the population",
    "search.sample": "evolution: the tournament size, at most `population`; the best of it is mutated",
    "search.chunk": "candidates per stored cell (one kernel call per epoch; the unit of resuming)",
    "search.tasks": "the tasks every candidate is trained on: names of `[tasks.NAME]` tables "
                    "(each a `[data]` table: binary classification, `val_size` > 0); none: every "
                    "`[tasks.NAME]` table, in the file's order",
    "search.stages": "`[[search.stages]]`: successive halving, in order; every candidate enters the first",
    "[search.stages].seeds": "seeds 0 to `seeds - 1`, per task and learning rate",
    "[search.stages].epochs": "passes over the training split",
    "[search.stages].keep": "promoted to the next stage by mean validation accuracy over the tasks: "
                            "a fraction in (0, 1) or a count ≥ 1; every stage but the last, which has none",
    "search/model.hidden": "the widths of the hidden layers; every candidate on every hidden layer",
    "search/model.init": "the weight init scheme (`auto`: he for the ReLU family, xavier otherwise)",
    "search/train.optimizer": "sgd, momentum, nesterov or adam",
    "search/train.lr_grid": "every candidate is trained at each rate; per task, the rate with the best "
                            "mean validation accuracy (ties: lower validation loss, then the smaller rate)",
    "search/train.batch_size": "the minibatch size",
    "search/train.momentum": "the momentum coefficient (momentum, nesterov)",
    "search/train.betas": "Adam's decay rates of the moment estimates",
    "search/train.eps": "Adam's epsilon",
    "search/train.weight_decay": "adds `weight_decay × params` to the gradients (torch.optim's meaning)",
    "search/train.shuffle": "reshuffle the training rows every epoch",
    "search/train.dtype": "the kernels' floating-point type: `float32` (fast) or `float64`",
}


def default_of(section: str, name: str, info: Any) -> Any:
    """A field's default as a value (PydanticUndefined when it is required); a dataset's own
    field takes its dataset's default."""
    if section == "data" and name in DATA_FIELDS:
        return DATA_FIELDS[name][1]
    if info.default_factory is not None:
        return info.default_factory()
    return info.default


def rows(sections: list[tuple[str, type[BaseModel]]] | None = None) -> list[tuple[str, str, Any, str]]:
    """(table, key, default, meaning) of every field of every spec model (of ``sections``:
    default the experiment's and the sweep's, `SECTIONS`; `SEARCH_SECTIONS` for a search)."""
    out = []
    for section, model in SECTIONS if sections is None else sections:
        for name, info in model.model_fields.items():
            key = info.alias or name
            meaning = MEANINGS.get(f"{section}.{key}")
            if meaning is None:
                raise KeyError(f"{model.__name__}.{key} has no meaning in cli.spec_reference.MEANINGS")
            out.append((section, key, default_of(section, name, info), meaning))
    return out


def is_required(default: Any) -> bool:
    return default is PydanticUndefined
