"""Stage 0's candidates from the search's strategy, batch by batch, deterministically.

Exhaustive search lists the first ``candidates`` distinct screened functions of the space
in its fixed order (one batch). Random search and regularised evolution ``ask`` for
batches of ``chunk``; evolution is told each batch's stage-0 scores, in candidate order,
before it proposes the next, so a rerun that loads the stored cells replays the very same
proposals. A proposal equal to a reference or to an earlier candidate (same key) is dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from actscope.search.canonical import Candidate
from actscope.search.spec import SearchSpec
from actscope.search.strategies import Evolution, Exhaustive, RandomSearch, exhaustive

MAX_IDLE_ASKS = 50  # asks in a row that bring nothing new: the space is exhausted


@dataclass(frozen=True)
class Batch:
    """Candidates to evaluate together; their cells' chunks start at ``first_chunk``."""

    first_chunk: int
    candidates: list[Candidate]


class Proposer:
    """The distinct candidates of a search's strategy, in batches (`batches`), told the
    stage-0 scores (`tell`) where the strategy learns from them."""

    def __init__(self, spec: SearchSpec, exclude: set[str]) -> None:
        self.spec = spec
        self.accepted: list[Candidate] = []
        self._seen = set(exclude)
        self._strategy: RandomSearch | Evolution | None = None
        self._exhaustive: Exhaustive | None = None
        if spec.strategy == "random":
            self._strategy = RandomSearch(spec.max_size, spec.seed)
        elif spec.strategy == "evolution":
            self._strategy = Evolution(spec.max_size, spec.seed, spec.population, spec.sample)

    def _take(self, proposals) -> list[Candidate]:
        """The proposals not seen before (at most what is still wanted), now accepted."""
        new: list[Candidate] = []
        for cand in proposals:
            if len(self.accepted) + len(new) >= self.spec.candidates:
                break
            if cand.key not in self._seen:
                self._seen.add(cand.key)
                new.append(cand)
        self.accepted.extend(new)
        return new

    def batches(self) -> Iterator[Batch]:
        """Stage 0's candidates, a batch at a time (each evaluated before the next is asked)."""
        chunk = self.spec.chunk
        if self._strategy is None:
            self._exhaustive = exhaustive(self.spec.max_size, self.spec.candidates + len(self._seen))
            new = self._take(self._exhaustive)
            if new:
                yield Batch(1, new)
            return
        idle, first = 0, 1
        while len(self.accepted) < self.spec.candidates and idle < MAX_IDLE_ASKS:
            want = min(chunk, self.spec.candidates - len(self.accepted))
            new = self._take(self._strategy.ask(want))
            idle = 0 if new else idle + 1
            if new:
                yield Batch(first, new)
                first += -(-len(new) // chunk)

    def tell(self, scores: dict[str, float], candidates: list[Candidate]) -> None:
        """Tell the strategy (evolution) each candidate's stage-0 score, in their order."""
        if isinstance(self._strategy, Evolution):
            for cand in candidates:
                self._strategy.tell(cand.key, scores.get(cand.key, 0.0))

    def rejected_summary(self) -> dict:
        """rejected.json: raw proposals, duplicates, those screening rejected per reason
        with a few examples (the strategy's own tally), and the candidates accepted."""
        source = self._strategy if self._strategy is not None else self._exhaustive
        tally = source.summary() if source is not None else {}
        return {"strategy": self.spec.strategy, **tally, "candidates": len(self.accepted)}
