"""Raw expressions canonicalised per second: the search space's fast path against text.

A search proposes terms of the grammar and canonicalises each (screens, fingerprint,
dedupe) before any training; search-small does several thousand in its budget. Rows, in
one process, each with its rate and its ratio to row a:

  a  the exact path on text: ``canonical.canonicalise(expr)`` for the same functions
     (``compile_expression`` derives f', then f and f' on the grid; no sympy)
  b  ``exhaustive(3, 2000)``: the first 2,000 distinct candidates of the size-3 space
  c  the whole size-3 space (every term, distinct or not)
  d  ``RandomSearch(5, 0).ask(2000)``: random terms of size <= 5 (larger terms)

Usage: python benchmarks/bench_search_space.py
"""

from __future__ import annotations

import time

from actscope.search import grammar as g
from actscope.search.canonical import builtin_keys, canonicalise, probe
from actscope.search.strategies import RandomSearch, exhaustive


def _rate(fn) -> tuple[float, int]:
    t = time.perf_counter()
    n = fn()
    return n / (time.perf_counter() - t), n


def main() -> None:
    builtin_keys()  # the registry's fingerprints, computed once per process
    sample = [c.expr for c in exhaustive(3, 2000)][::4]

    def exact() -> int:
        for expr in sample:
            canonicalise(expr)
        return len(sample)

    def first_2000() -> int:
        ex = exhaustive(3, 2000)
        list(ex)
        return ex.summary()["raw"]

    def whole() -> int:
        n = 0
        for term in g.enumerate_terms(3):
            probe(g.simplify(term))
            n += 1
        return n

    def random5() -> int:
        r = RandomSearch(5, seed=0)
        r.ask(2000)
        return r.summary()["raw"]

    rows = [("a", "exact path on text", exact), ("b", "exhaustive(3, 2000)", first_2000),
            ("c", "whole size-3 space", whole), ("d", "RandomSearch(5).ask(2000)", random5)]
    base = None
    for label, what, fn in rows:
        rate, n = _rate(fn)
        base = base or rate
        print(f"{label}  {what:<28} {n:>6} raw  {rate:>9.0f} /s  x{rate / base:.1f}")


if __name__ == "__main__":
    main()
