"""Searching for activation functions (``actscope search``).

Candidates are expressions over a grammar of unary and binary primitives (``grammar``),
canonicalised so that one function is one candidate (``canonical``), proposed by a strategy
(exhaustive, random, regularised evolution: ``strategies``), and evaluated many candidates
to one ensemble and one compiled kernel (``evaluate``, on ``engines.mixed``) with a
learning rate tuned per candidate and successive halving (``run``), cell by cell into a
resumable store (``store``). The results are a leaderboard with intervals and paired tests
against the reference activations, what theory at initialisation predicts, the inference
cost and a self-contained report (``leaderboard``, ``features``, ``cost``, ``report``).
"""

from __future__ import annotations

from actscope.search.canonical import Candidate, Rejected, canonicalise, reference_candidates
from actscope.search.evaluate import evaluate_cell
from actscope.search.leaderboard import leaderboard, tuned
from actscope.search.report import write_results
from actscope.search.run import SearchResult, run_search
from actscope.search.spec import SearchSpec, Stage, cell_spec, is_search_file, load_search, parse_search
from actscope.search.store import default_search_dir, member_table, read_candidates
from actscope.search.strategies import Evolution, RandomSearch, exhaustive

__all__ = [
    "Candidate", "Evolution", "RandomSearch", "Rejected", "SearchResult", "SearchSpec", "Stage",
    "canonicalise", "cell_spec", "default_search_dir", "evaluate_cell", "exhaustive", "is_search_file",
    "leaderboard", "load_search", "member_table", "parse_search", "read_candidates",
    "reference_candidates", "run_search", "tuned", "write_results",
]
