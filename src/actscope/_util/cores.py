"""How many cores this process may use, and worker counts set in the environment.

One count for everything that sizes a pool: arm processes, report figure workers, sweep
processes, the fast engine's threads.
"""

from __future__ import annotations

import os

from actscope.errors import InputError


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def env_workers(name: str, default: int) -> int:
    """A worker count from the environment variable ``name`` (``default`` if unset).

    Raises
    ------
    InputError
        When the variable is set to anything but a whole number >= 1.
    """
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise InputError(f"${name} = {raw!r}: a whole number of processes, 1 or more")
    return value
