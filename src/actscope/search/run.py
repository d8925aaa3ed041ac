"""Running a search: propose, evaluate stage by stage with successive halving, resumably.

Stage 0 evaluates the strategy's candidates (exhaustive: the first ``candidates`` distinct
screened ones in the space's order; random and evolution: ``ask`` in batches of ``chunk``,
evolution told each batch's stage-0 scores in candidate order, so a rerun replays the same
proposals) and the references. Each later stage evaluates the top ``keep`` of the one
before (`halving`) and the references, with its own seeds and epochs. A cell is (stage,
task, chunk of ``chunk`` candidates; chunk 0 holds the references); a cell already in the
store (`store`) is loaded, never recomputed, so the same command resumes an interrupted
search (Ctrl-C or ``kill -9``). At the end the results are written
(`search.report.write_results`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from actscope.errors import InputError
from actscope.search import store
from actscope.search.canonical import Candidate, reference_candidates
from actscope.search.evaluate import MEMBER_COLUMNS, evaluate_cell
from actscope.search.halving import promote, stage_scores
from actscope.search.proposals import Proposer
from actscope.search.report import write_results
from actscope.search.spec import SearchSpec, load_search

EXECUTORS = ("local", "ray")


@dataclass
class SearchResult:
    """What a search produced: its folder, the candidates, what ran and the results' summary.

    ``computed`` and ``reused`` count the cells this run trained and those it loaded from
    an earlier run of the same search.
    """

    path: Path
    candidates: list[Candidate]
    stage_candidates: list[int]
    cells: int
    computed: int
    reused: int
    members: int
    elapsed_s: float
    summary: dict = field(default_factory=dict)


@dataclass
class _Cell:
    stage: int
    task: str
    chunk: int
    candidates: list[Candidate]

    @property
    def name(self) -> str:
        return f"s{self.stage}-{self.task}-{self.chunk}"


def _expected_keys(spec: SearchSpec, cell: _Cell) -> np.ndarray:
    per = spec.stages[cell.stage].seeds * len(spec.lr_grid)
    return np.repeat(np.array([c.key for c in cell.candidates]), per)


def _run_cell(payload: dict) -> dict:
    """Runs anywhere (a Ray task): one cell's rows."""
    cands = [Candidate.from_dict(d) for d in payload["candidates"]]
    rows = evaluate_cell(payload["spec"], payload["stage"], payload["task"], cands)
    return {"id": payload["id"], "rows": rows}


class _Runner:
    """One run of a search into its locked folder: cells loaded or computed, counted."""

    def __init__(self, spec: SearchSpec, out: Path, progress: Callable[[dict], None] | None,
                 ray=None, workers: int | None = None) -> None:
        self.spec, self.out, self.progress = spec, out, progress
        self.ray, self.workers = ray, workers  # the connected ray module, or None: cells here
        self.started = time.perf_counter()
        self.computed = self.reused = self.members = self.cells_done = 0
        self.cells_total, self.stage, self.n_candidates = 0, 0, 0
        self.stage_candidates: list[int] = []

    # cells ------------------------------------------------------------------------------
    def run_cells(self, cells: Sequence[_Cell]) -> dict[str, dict[str, np.ndarray]]:
        """The rows of every cell: stored ones loaded, the others computed and stored."""
        done, todo = {}, []
        for cell in cells:
            rows = store.read_cell(store.cell_path(self.out, cell.stage, cell.task, cell.chunk))
            if rows is not None and np.array_equal(rows["key"], _expected_keys(self.spec, cell)):
                done[cell.name] = rows
                self.reused += 1
                self._tick()
            else:
                todo.append(cell)
        for cell, rows in self._compute(todo):
            store.write_cell(self.out, cell.stage, cell.task, cell.chunk, rows)
            done[cell.name] = rows
            self.computed += 1
            self.members += len(rows["key"])
            self._tick()
        return done

    def _compute(self, cells: list[_Cell]) -> Iterator[tuple[_Cell, dict[str, np.ndarray]]]:
        if self.ray is None or not cells:
            for cell in cells:
                yield cell, evaluate_cell(self.spec, cell.stage, cell.task, cell.candidates)
            return
        from actscope.search.distributed import map_cells  # deferred: Ray, only when asked

        by_name = {c.name: c for c in cells}
        payloads = [{"id": c.name, "spec": self.spec, "stage": c.stage, "task": c.task,
                     "candidates": [x.to_dict() for x in c.candidates]} for c in cells]
        for name, rows in map_cells(self.ray, _run_cell, payloads, self.workers):
            yield by_name[name], rows

    def _tick(self) -> None:
        self.cells_done += 1
        self.write_status(finished=False)
        if self.progress is not None:
            self.progress({"stage": self.stage, "stages": len(self.spec.stages),
                           "cells_done": self.cells_done, "cells_total": self.cells_total,
                           "candidates": self.n_candidates, "members": self.members,
                           "computed": self.computed, "reused": self.reused,
                           "elapsed_s": time.perf_counter() - self.started})

    def write_status(self, finished: bool) -> None:
        spec = self.spec
        stages = [{"index": i, "seeds": st.seeds, "epochs": st.epochs, "keep": st.keep,
                   "candidates": self.stage_candidates[i] if i < len(self.stage_candidates) else None}
                  for i, st in enumerate(spec.stages)]
        store.write_json(self.out, "status.json", {
            "search": spec.name, "finished": finished, "stage": self.stage, "stages": stages,
            "candidates": self.n_candidates, "references": list(spec.references),
            "cells": {"done": self.cells_done, "total": self.cells_total,
                      "computed": self.computed, "reused": self.reused},
            "members_trained": self.members,
            "elapsed_s": round(time.perf_counter() - self.started, 3)})

    def stage_cells(self, stage: int, cands: list[Candidate], first_chunk: int = 1,
                    refs: Sequence[Candidate] = ()) -> list[_Cell]:
        """The cells of ``stage`` for ``cands`` in chunks from ``first_chunk`` (and for
        ``refs``, chunk 0), task by task."""
        chunk = self.spec.chunk
        cells = []
        for task in self.spec.tasks:
            if refs:
                cells.append(_Cell(stage, task, 0, list(refs)))
            for j in range(0, len(cands), chunk):
                cells.append(_Cell(stage, task, first_chunk + j // chunk, cands[j:j + chunk]))
        return cells


def _rows_table(cells: Sequence[_Cell], rows: dict[str, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The member table of some cells (as `store.member_table` builds it from files)."""
    parts = [(c, rows[c.name]) for c in cells]
    out = {"stage": np.concatenate([np.full(len(r["key"]), c.stage) for c, r in parts]),
           "task": np.concatenate([np.full(len(r["key"]), c.task) for c, r in parts])}
    for col in MEMBER_COLUMNS:
        out[col] = np.concatenate([r[col] for _, r in parts])
    return out


def planned_counts(spec: SearchSpec, first: int | None = None) -> list[int]:
    """Candidates (references excluded) evaluated in each stage, ``first`` in stage 0
    (default: ``spec.candidates``)."""
    counts = [spec.candidates if first is None else first]
    for st in spec.stages[:-1]:
        counts.append(st.promoted(counts[-1]))
    return counts


def _n_cells(spec: SearchSpec, counts: list[int]) -> int:
    per_stage = [(1 if spec.references else 0) + math.ceil(n / spec.chunk) for n in counts]
    return sum(per_stage) * len(spec.tasks)


def run_search(spec: SearchSpec | str | Path, out: str | Path | None = None, *,
               progress: Callable[[dict], None] | None = None, executor: str = "local",
               address: str | None = None, workers: int | None = None,
               results: bool = True) -> SearchResult:
    """Run (or resume) ``spec`` into ``out`` and write its results.

    Parameters
    ----------
    spec : SearchSpec, str or Path
        The search (or a search file or preset, `search.spec.load_search`).
    out : str or Path, optional
        Its folder (default ``runs/search-<name>``, `store.default_search_dir`): created, or
        reused when it holds the same search; refused in one line when another live process
        writes it or it holds something else.
    progress : callable, optional
        Called after every cell with ``{stage, stages, cells_done, cells_total, candidates,
        members, computed, reused, elapsed_s}``.
    executor : {"local", "ray"}
        Cells one after another here (the kernels use every core), or as Ray tasks.
    address, workers
        The Ray cluster (`sweep.ray_cluster`) and the most cells in flight.
    results : bool
        Write the results (`search.report.write_results`: leaderboard, report, ...) at the
        end; False leaves the store only (tests, benchmarks of the evaluation alone).

    Returns
    -------
    SearchResult

    Raises KeyboardInterrupt through once the finished cells are stored (nothing is left
    half-written); the same call resumes.
    """
    if executor not in EXECUTORS:
        raise InputError(f"--executor = {executor!r}: not one of {', '.join(EXECUTORS)}")
    if executor != "ray" and (address or workers is not None):
        flag, value = ("--address", address) if address else ("--workers", workers)
        raise InputError(f"{flag} = {value!r}: only with --executor ray (locally one cell trains "
                         "at a time on every core)")
    if workers is not None and workers < 1:
        raise InputError(f"--workers = {workers}: must be >= 1")
    if not isinstance(spec, SearchSpec):
        spec = load_search(spec)
    out = Path(out) if out is not None else store.default_search_dir(spec.name)
    with ExitStack() as stack:
        ray = None
        if executor == "ray":  # reached and checked before anything is written
            from actscope.search.distributed import cluster

            ray = stack.enter_context(cluster(address, workers))
        lock = store.open_store(out, spec)
        try:
            return _search(_Runner(spec, out, progress, ray, workers), results)
        finally:
            lock.release()


def _search(runner: _Runner, results: bool) -> SearchResult:
    spec, out = runner.spec, runner.out
    refs = reference_candidates(spec.references)
    runner.cells_total = _n_cells(spec, planned_counts(spec))
    proposer = Proposer(spec, {c.key for c in refs})
    runner.stage_candidates = [spec.candidates]
    runner.run_cells(runner.stage_cells(0, [], refs=refs))
    for batch in proposer.batches():
        store.write_candidates(out, [*refs, *proposer.accepted])
        runner.n_candidates = len(proposer.accepted)
        cells = runner.stage_cells(0, batch.candidates, first_chunk=batch.first_chunk)
        got = runner.run_cells(cells)
        proposer.tell(stage_scores(_rows_table(cells, got), 0), batch.candidates)
    store.write_json(out, "rejected.json", proposer.rejected_summary())
    cands = list(proposer.accepted)
    runner.stage_candidates = [len(cands)]
    runner.cells_total = _n_cells(spec, planned_counts(spec, len(cands)))
    for s in range(1, len(spec.stages)):
        table = store.member_table(out)
        kept = set(promote([c.key for c in cands], stage_scores(table, s - 1),
                           spec.stages[s - 1].promoted(len(cands))))
        cands = [c for c in cands if c.key in kept]
        runner.stage, runner.stage_candidates = s, [*runner.stage_candidates, len(cands)]
        runner.run_cells(runner.stage_cells(s, cands, refs=refs))
    all_cands = [*refs, *proposer.accepted]
    summary = write_results(out, spec, all_cands, store.member_table(out)) if results else {}
    runner.write_status(finished=True)  # every cell in, and the results written
    return SearchResult(out, all_cands, runner.stage_candidates, runner.cells_total, runner.computed,
                        runner.reused, runner.members, time.perf_counter() - runner.started, summary)
