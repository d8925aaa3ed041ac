"""The search driver: successive halving promotes the right candidates, references always
go on, the folder is refused in one line when it holds another search or another process
writes it, and an evolution search resumed after an interrupt gives what an uninterrupted
one gives."""

from __future__ import annotations

import json

import numpy as np
import pytest

from actscope._util.runlock import try_lock
from actscope.errors import InputError
from actscope.search.halving import promote, stage_scores
from actscope.search.run import run_search
from actscope.search.spec import parse_search
from actscope.search.store import member_table, read_candidates

pytest.importorskip("numba")


def tiny(**search) -> object:
    """A search of seconds: two tasks of 80 points, a 2-4-1 network, two rates."""
    s = {"name": "tiny", "strategy": "exhaustive", "max_size": 2, "candidates": 6,
         "references": ["relu", "tanh"], "chunk": 4, "tasks": ["moons", "circles"],
         "stages": [{"seeds": 2, "epochs": 3, "keep": 2}, {"seeds": 3, "epochs": 4}]}
    s.update(search)
    task = {"n_samples": 80, "val_size": 0.25, "test_size": 0.25}
    return parse_search({"search": s, "tasks": {"moons": {"name": "moons", **task},
                                                "circles": {"name": "circles", **task}},
                         "model": {"hidden": [4]},
                         "train": {"lr_grid": [0.1, 0.5], "batch_size": 16}})


def _brute_scores(table: dict, stage: int) -> dict[str, float]:
    """Each key's score, by the contract's words, one loop at a time."""
    sel = table["stage"] == stage
    per_key: dict[str, list[float]] = {}
    for task in sorted(set(table["task"][sel].tolist())):
        for key in sorted(set(table["key"][sel & (table["task"] == task)].tolist())):
            best = None
            for lr in sorted(set(table["lr"][sel].tolist())):
                m = sel & (table["task"] == task) & (table["key"] == key) & (table["lr"] == lr)
                acc = np.nan_to_num(table["val_acc"][m], nan=0.0).mean()
                loss = np.where(np.isfinite(table["val_loss"][m]), table["val_loss"][m], np.inf).mean()
                cand = (-acc, loss, lr)
                best = cand if best is None or cand < best else best
            per_key.setdefault(key, []).append(-best[0])
    return {k: float(np.mean(v)) for k, v in per_key.items()}


def _table(rows: list[tuple]) -> dict[str, np.ndarray]:
    cols = ("stage", "task", "key", "seed", "lr", "val_acc", "val_loss")
    t = {c: np.array([r[i] for r in rows]) for i, c in enumerate(cols)}
    for c in ("train_loss", "test_loss", "test_acc"):
        t[c] = np.zeros(len(rows))
    return t


def test_scores_take_each_task_s_tuned_rate_and_promotion_keeps_the_best():
    rows = []
    # (key, task) -> val_acc at lr 0.1 and lr 0.5, two seeds each
    acc = {("a", "m"): ((0.9, 0.7), (0.5, 0.5)), ("a", "c"): ((0.6, 0.6), (0.2, 0.2)),
           ("b", "m"): ((0.5, 0.5), (1.0, 1.0)), ("b", "c"): ((0.4, 0.6), (0.7, 0.9)),
           ("c", "m"): ((0.1, 0.1), (0.1, np.nan)), ("c", "c"): ((0.9, 0.9), (0.0, 0.0)),
           ("d", "m"): ((0.75, 0.75), (0.75, 0.75)), ("d", "c"): ((0.75, 0.75), (0.75, 0.75))}
    for (key, task), per_lr in acc.items():
        for lr, accs in zip((0.1, 0.5), per_lr):
            for seed, a in enumerate(accs):
                rows.append((0, task, key, seed, lr, a, 1.0 - (0 if np.isnan(a) else a)))
    table = _table(rows)
    scores = stage_scores(table, 0)
    # a: m 0.8 (lr .1), c 0.6 -> 0.7; b: m 1.0, c 0.8 -> 0.9; c: m 0.1, c 0.9 -> 0.5; d: 0.75
    assert scores == pytest.approx({"a": 0.7, "b": 0.9, "c": 0.5, "d": 0.75})
    assert scores == pytest.approx(_brute_scores(table, 0))
    assert promote(["a", "b", "c", "d"], scores, 2) == ["b", "d"]
    assert promote(["a", "b", "c", "d"], scores, 3) == ["a", "b", "d"]
    # a missing score is worst; equal scores: the earlier key
    assert promote(["x", "a", "y"], {"a": 0.1, "y": 0.1}, 1) == ["a"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("search") / "run"
    seen: list[dict] = []
    res = run_search(tiny(), out, progress=seen.append, results=False)
    return out, res, seen


def test_halving_promotes_the_top_keep_and_every_reference(finished):
    out, res, seen = finished
    table = member_table(out)
    refs = {c.key for c in read_candidates(out) if c.origin == "reference"}
    assert len(refs) == 2
    stage0 = set(table["key"][table["stage"] == 0].tolist())
    stage1 = set(table["key"][table["stage"] == 1].tolist())
    assert refs <= stage0 and refs <= stage1
    scores = _brute_scores(table, 0)
    cands = [c.key for c in read_candidates(out) if c.origin != "reference"]
    assert len(cands) == 6 and set(cands) <= stage0
    ranked = sorted(cands, key=lambda k: (-scores[k], cands.index(k)))
    assert stage1 - refs == set(ranked[:2])
    # every member of a stage: candidates x seeds x rates x tasks
    assert (table["stage"] == 0).sum() == (6 + 2) * 2 * 2 * 2
    assert (table["stage"] == 1).sum() == (2 + 2) * 3 * 2 * 2
    assert res.stage_candidates == [6, 2]
    assert seen[-1]["cells_done"] == seen[-1]["cells_total"] == res.cells
    status = json.loads((out / "status.json").read_text())
    assert status["finished"] and status["cells"]["computed"] == res.cells


def test_a_folder_with_another_search_is_refused_in_one_line(finished):
    out, _, _ = finished
    with pytest.raises(InputError) as err:
        run_search(tiny(stages=[{"seeds": 2, "epochs": 5, "keep": 2}, {"seeds": 3, "epochs": 4}]), out,
                   results=False)
    msg = str(err.value)
    assert "\n" not in msg and "search.stages[0].epochs" in msg and "3" in msg and "5" in msg


def test_a_folder_that_another_process_writes_is_refused(tmp_path):
    out = tmp_path / "busy"
    out.mkdir()
    lock = try_lock(out)
    try:
        with pytest.raises(InputError, match="another search"):
            run_search(tiny(), out, results=False)
    finally:
        lock.release()
    assert not (out / "search.toml").exists()


def test_a_folder_holding_something_else_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="holds no search"):
        run_search(tiny(), tmp_path, results=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_evolution_resumed_after_an_interrupt_gives_the_uninterrupted_result(tmp_path):
    spec = tiny(strategy="evolution", max_size=3, candidates=8, population=4, sample=2, chunk=2,
                stages=[{"seeds": 2, "epochs": 2, "keep": 2}, {"seeds": 2, "epochs": 2}])
    whole = run_search(spec, tmp_path / "whole", results=False)

    def stop_after(n):
        def progress(p):
            if p["computed"] >= n:
                raise KeyboardInterrupt
        return progress

    with pytest.raises(KeyboardInterrupt):
        run_search(spec, tmp_path / "cut", progress=stop_after(5), results=False)
    again = run_search(spec, tmp_path / "cut", results=False)
    assert again.reused == 5 and again.computed == whole.cells - 5
    a, b = member_table(tmp_path / "whole"), member_table(tmp_path / "cut")
    assert a.keys() == b.keys()
    for col in a:
        np.testing.assert_array_equal(a[col], b[col])
    keys = [[c.key for c in read_candidates(tmp_path / d)] for d in ("whole", "cut")]
    assert keys[0] == keys[1]


@pytest.mark.slow  # a local Ray instance starts: 10 s on 2 quiet cores, a minute loaded
def test_cells_on_ray_store_what_local_cells_store(tmp_path, finished):
    pytest.importorskip("ray")
    out, _, _ = finished
    res = run_search(tiny(), tmp_path / "ray", executor="ray", workers=2, results=False)
    assert res.computed == res.cells
    a, b = member_table(out), member_table(tmp_path / "ray")
    for col in a:
        np.testing.assert_array_equal(a[col], b[col], err_msg=col)


def test_an_unknown_executor_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(InputError, match="executor"):
        run_search(tiny(), tmp_path / "x", executor="threads", results=False)
    assert not (tmp_path / "x").exists()
