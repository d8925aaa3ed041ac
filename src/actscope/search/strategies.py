"""Strategies: which candidates to evaluate next.

``exhaustive`` lists the space in the grammar's fixed order; ``RandomSearch`` draws terms
uniformly from it (the baseline); ``Evolution`` is regularised evolution (Real et al.
2019): a tournament of ``sample`` members of the last ``population`` evaluated, the best
mutated, the oldest aged out. Each yields distinct screened candidates only (a term whose
key was seen, or that screening rejects, is skipped and counted: ``rejected``).

All are pure and deterministic given ``seed``: ``Evolution.ask`` draws from a generator
seeded by (seed, tells so far, asks since the last tell), so replaying the same asks and
tells in order rebuilds the same state, and a fresh instance told the same (key, score,
candidate) sequence asks the same next candidates.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np

from actscope.search import grammar as g
from actscope.search.canonical import Candidate, from_term, probe

MAX_TRIES = 200  # draws per wanted candidate before a strategy deems the space exhausted
EXAMPLES = 3


class _Tally:
    """Distinct screened candidates from raw terms, counting what was skipped and why."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.seen: set[str] = set()
        self.rejected: dict[str, int] = {}
        self.examples: dict[str, list[str]] = {}
        self.raw = 0
        self.duplicates = 0
        self._terms: set = set()

    def take(self, term: g.Term) -> Candidate | None:
        """The candidate of ``term`` if it is new and screened in, else None (counted)."""
        self.raw += 1
        term = g.simplify(term)
        if term in self._terms:
            self.duplicates += 1
            return None
        self._terms.add(term)
        key, reason = probe(term)
        if reason is not None:
            self.rejected[reason] = self.rejected.get(reason, 0) + 1
            shown = self.examples.setdefault(reason, [])
            if len(shown) < EXAMPLES:
                shown.append(g.term_expr(term))
            return None
        assert key is not None  # probe gives a key wherever it gives no reason
        if key in self.seen:
            self.duplicates += 1
            return None
        self.seen.add(key)
        cand = from_term(term, self.origin, key)
        assert isinstance(cand, Candidate)
        return cand

    def collect(self, n: int, propose: Callable[[], g.Term]) -> list[Candidate]:
        """Up to ``n`` new distinct candidates from terms ``propose()`` draws, giving up
        after ``n * MAX_TRIES`` draws (the space then seems exhausted): every strategy's
        ``ask``."""
        out: list[Candidate] = []
        for _ in range(n * MAX_TRIES):
            if len(out) >= n:
                break
            cand = self.take(propose())
            if cand is not None:
                out.append(cand)
        return out

    def summary(self) -> dict:
        """Raw terms drawn, duplicates, rejections per reason with a few examples."""
        return {"raw": self.raw, "duplicates": self.duplicates, "rejected": dict(self.rejected),
                "examples": {k: list(v) for k, v in self.examples.items()}}


class Exhaustive:
    """An iterator over the first ``limit`` distinct candidates of the space in its fixed
    order (``grammar.enumerate_terms``); ``rejected`` counts screened-out terms by reason."""

    def __init__(self, max_size: int, limit: int) -> None:
        self.max_size, self.limit = int(max_size), int(limit)
        self._tally = _Tally("exhaustive")
        self.rejected = self._tally.rejected
        self._gen = self._run()

    def _run(self) -> Iterator[Candidate]:
        found = 0
        for term in g.enumerate_terms(self.max_size):
            if found >= self.limit:
                return
            cand = self._tally.take(term)
            if cand is not None:
                found += 1
                yield cand

    def __iter__(self) -> Exhaustive:
        return self

    def __next__(self) -> Candidate:
        return next(self._gen)

    def summary(self) -> dict:
        """Raw terms, duplicates and rejections so far (for ``rejected.json``)."""
        return self._tally.summary()


def exhaustive(max_size: int, limit: int) -> Exhaustive:
    """The first ``limit`` distinct screened candidates of size <= ``max_size``, in order.

    Parameters
    ----------
    max_size : int
        The grammar size limit (primitives per term).
    limit : int
        How many distinct candidates at most.

    Returns
    -------
    Exhaustive
        An iterator of Candidate (origin "exhaustive"); its ``rejected`` counts by reason.
    """
    return Exhaustive(max_size, limit)


class RandomSearch:
    """Terms drawn uniformly from the space of size <= ``max_size`` (the baseline).

    ``ask(n)`` continues one stream seeded by ``seed``: ``ask(5)`` twice gives what
    ``ask(10)`` gives. ``tell`` is accepted and ignored (random search does not learn).
    """

    def __init__(self, max_size: int, seed: int = 0) -> None:
        self.max_size = int(max_size)
        self._rng = np.random.default_rng(seed)
        self._tally = _Tally("random")
        self.rejected = self._tally.rejected

    def ask(self, n: int) -> list[Candidate]:
        """Up to ``n`` new distinct candidates (fewer only when the space seems exhausted).

        Parameters
        ----------
        n : int

        Returns
        -------
        list of Candidate
        """
        return self._tally.collect(n, lambda: g.random_term(self._rng, self.max_size))

    def tell(self, key: str, score: float, candidate: Candidate | None = None) -> None:
        """Ignored: random search does not learn from scores."""

    def summary(self) -> dict:
        """Raw terms, duplicates and rejections so far (for ``rejected.json``)."""
        return self._tally.summary()


def mutate(term: g.Term, rng: np.random.Generator, max_size: int) -> g.Term:
    """A random subterm replaced by a random term (within ``max_size``), or one primitive
    swapped for another of the same arity (the input ``x`` for a unary of it)."""
    for _ in range(MAX_TRIES):
        where = g.paths(term)
        path = where[int(rng.integers(len(where)))]
        sub = g.at(term, path)
        if rng.random() < 0.5:
            budget = max_size - g.size(term) + g.size(sub)
            child = g.replace_at(term, path, g.random_term(rng, max(budget, 1)))
        elif sub == g.X:
            child = g.replace_at(term, path, (list(g.UNARY)[int(rng.integers(len(g.UNARY)))], g.X))
        else:
            table = g.UNARY if len(sub) == 2 else g.BINARY
            names = [k for k in table if k != sub[0]]
            child = g.replace_at(term, path, (names[int(rng.integers(len(names)))], *sub[1:]))
        if child != term and g.size(child) <= max_size:
            return child
    return g.random_term(rng, max_size)


class Evolution:
    """Regularised evolution (Real et al. 2019) over terms of size <= ``max_size``.

    Until ``population`` candidates have been told, proposals are random; then each is a
    mutation of the best of ``sample`` members drawn from the last ``population`` told
    (ageing: older ones have left the population, whatever their score).
    """

    def __init__(self, max_size: int, seed: int = 0, population: int = 100, sample: int = 25) -> None:
        if population < 1 or not 1 <= sample <= population:
            raise ValueError(f"evolution: population = {population}, sample = {sample}: "
                             "need 1 <= sample <= population")
        self.max_size, self.seed = int(max_size), int(seed)
        self.population, self.sample = int(population), int(sample)
        self._tally = _Tally("evolution")
        self.rejected = self._tally.rejected
        self.told: list[tuple[str, g.Term, float]] = []
        self._terms: dict[str, g.Term] = {}
        self._asks = 0

    def _parent(self, rng: np.random.Generator) -> g.Term:
        """The tournament's winner: best score of ``sample`` from the population (ties:
        the younger)."""
        pop = self.told[-self.population:]
        idx = rng.choice(len(pop), size=min(self.sample, len(pop)), replace=False)
        best = max(idx, key=lambda i: (pop[i][2], i))
        return pop[best][1]

    def ask(self, n: int) -> list[Candidate]:
        """Up to ``n`` new distinct candidates, as ``RandomSearch.ask``: random terms until
        ``population`` have been told, then mutations of tournament winners."""
        rng = np.random.default_rng([self.seed, len(self.told), self._asks])
        self._asks += 1
        def propose() -> g.Term:
            if len(self.told) < self.population:
                return g.random_term(rng, self.max_size)
            return mutate(self._parent(rng), rng, self.max_size)

        out = self._tally.collect(n, propose)
        for cand in out:
            self._terms[cand.key] = g.parse_term(cand.term)
        return out

    def tell(self, key: str, score: float, candidate: Candidate | None = None) -> None:
        """Record ``key``'s score (NaN counts as the worst); the oldest member ages out.

        Parameters
        ----------
        key : str
            A candidate's key: one this instance asked, or give ``candidate``.
        score : float
            Higher is better.
        candidate : Candidate, optional
            Needed when replaying into a fresh instance (its ``term`` rebuilds the tree).
        """
        term = self._terms.get(key)
        if term is None:
            if candidate is None or not candidate.term:
                raise ValueError(f"evolution: tell({key!r}): unknown key; pass the candidate")
            term = g.parse_term(candidate.term)
            self._terms[key] = term
        self._tally.seen.add(key)
        score = float(score)
        self.told.append((key, term, -math.inf if math.isnan(score) else score))
        self._asks = 0

    def summary(self) -> dict:
        """Raw terms, duplicates and rejections so far (for ``rejected.json``)."""
        return self._tally.summary()


__all__ = ["Evolution", "Exhaustive", "RandomSearch", "exhaustive", "mutate"]
