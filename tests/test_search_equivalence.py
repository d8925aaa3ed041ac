"""The search's number for a cell is the number a plain ``actscope run`` of that cell gives
(`search.spec.cell_spec`), exactly: for relu, tanh, silu and gelu, and for formula
candidates (trained from their expression; the plain run's from their formula through
sympy). A plain run's History keeps its numbers in the run's dtype (float32 here), the
search's store in float64: they are compared in the run's dtype."""

from __future__ import annotations

import numpy as np
import pytest

from actscope.experiment.run import run_experiment
from actscope.search.canonical import Candidate
from actscope.search.run import run_search
from actscope.search.spec import cell_spec, parse_search
from actscope.search.store import member_table, read_candidates

pytest.importorskip("numba")

REFS = ["relu", "tanh", "silu", "gelu"]
SEARCH = {"search": {"name": "eq", "strategy": "exhaustive", "max_size": 2, "candidates": 3,
                     "references": REFS, "chunk": 8, "tasks": ["moons", "circles"],
                     "stages": [{"seeds": 2, "epochs": 3, "keep": 3}, {"seeds": 3, "epochs": 5}]},
          "tasks": {"moons": {"name": "moons", "n_samples": 80, "val_size": 0.25, "noise": 0.2},
                    "circles": {"name": "circles", "n_samples": 80, "val_size": 0.25}},
          "model": {"hidden": [4, 4]}, "train": {"lr_grid": [0.1, 0.5], "batch_size": 16}}
STAGE, TASK, LR = 1, "circles", 0.5


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    spec = parse_search(SEARCH)
    out = tmp_path_factory.mktemp("eq")
    run_search(spec, out, results=False)
    return spec, member_table(out), read_candidates(out)


def _search_rows(table: dict, key: str) -> dict[str, np.ndarray]:
    m = (table["stage"] == STAGE) & (table["task"] == TASK) & (table["lr"] == LR) & (table["key"] == key)
    order = np.argsort(table["seed"][m])
    cols = ("seed", "train_loss", "val_loss", "val_acc", "test_loss", "test_acc")
    return {c: table[c][m][order] for c in cols}


def _plain(spec, name: str, formula: str | None = None, family: str | None = None) -> dict[str, np.ndarray]:
    stage = spec.stages[STAGE]
    exp = cell_spec(spec, name, TASK, LR, stage.seeds, stage.epochs, formula=formula, family=family)
    h = next(iter(run_experiment(exp).arms.values())).history
    return {"train_loss": h.last("train/running_loss"), "val_loss": h.last("val/loss"),
            "val_acc": h.last("val/accuracy"), "test_loss": h.last("test/loss"),
            "test_acc": h.last("test/accuracy")}


@pytest.mark.parametrize("name", REFS)
def test_a_reference_s_numbers_are_a_plain_run_s(searched, name):
    spec, table, cands = searched
    cand = next(c for c in cands if c.builtin == name and c.origin == "reference")
    got, want = _search_rows(table, cand.key), _plain(spec, name)
    np.testing.assert_array_equal(got["seed"], np.arange(spec.stages[STAGE].seeds))
    for col, values in want.items():  # the run's History keeps some in float32: compare there
        np.testing.assert_array_equal(got[col].astype(values.dtype), values, err_msg=f"{name} {col}")


def test_formula_candidates_numbers_are_a_plain_run_s(searched):
    """The search trains them from their expression (no sympy), the plain run from their
    formula through sympy: the same float32 arithmetic, no tolerance needed (a member that
    diverges, NaN, diverges in both)."""
    spec, table, cands = searched
    promoted = set(table["key"][table["stage"] == STAGE].tolist())
    formulas: list[Candidate] = [c for c in cands if c.builtin is None and c.key in promoted]
    assert len(formulas) == 3
    for cand in formulas:
        got = _search_rows(table, cand.key)
        want = _plain(spec, "found", cand.formula, cand.family)
        for col, values in want.items():
            np.testing.assert_array_equal(got[col].astype(values.dtype), values, err_msg=f"{cand.expr} {col}")
