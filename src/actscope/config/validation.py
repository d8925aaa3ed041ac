"""Checks the spec models share: names that become file names, distinct values, seeds.

Every check is linear in the size of what it checks (a spec of 100,000 arms is checked at
once), and none materialises more than the spec holds.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Hashable, Iterable

MAX_SEED = 2**32 - 1  # what np.random.seed accepts (the "article" protocol)
MAX_NAME = 100  # characters: a run directory <name>-<stamp> stays well under NAME_MAX (255)
_NAME = re.compile(r"[A-Za-z0-9_+\-][A-Za-z0-9_.+\-]*")
NAME_RULE = (f"a name is 1 to {MAX_NAME} letters, digits and _ . + -, not starting with '.' "
             "(it names files and folders)")


def safe_name(name: str) -> str:
    """``name`` if it is a safe path component: no ``/``, NUL, ``.``/``..``, hidden names
    or names too long for a file system; else a ValueError saying what a name is."""
    if len(name) > MAX_NAME or not _NAME.fullmatch(name):
        raise ValueError(NAME_RULE)
    return name


def duplicates(values: Iterable[Hashable]) -> list:
    """The values that occur more than once, in order of first occurrence (linear time)."""
    return [v for v, n in Counter(values).items() if n > 1]


def first_repeat(values: Iterable[Hashable]) -> tuple[int, int] | None:
    """(first index, index of its first repeat) of the first value seen twice, or None
    (linear time)."""
    seen: dict = {}
    for i, v in enumerate(values):
        if v in seen:
            return seen[v], i
        seen[v] = i
    return None
