"""A search's cells as Ray tasks, through the sweep's Ray machinery (`sweep.ray_cluster`):
the cluster is reached and checked before anything is written, results come back as they
finish, and a cell lost to a system failure is simply not stored (the next run of the same
search computes it)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

from actscope.sweep.ray_cluster import ClusterLostError, connect, import_ray, map_tasks


@contextmanager
def cluster(address: str | None, workers: int | None):
    """The ray module, connected and checked (InputError in one line otherwise: Ray
    missing, nothing answering at the address, workers that cannot import actscope);
    a local instance this started is shut down at the end."""
    ray = import_ray()
    started = connect(address, workers)
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


def map_cells(ray, fn: Callable[[dict], dict], payloads: list[dict],
              workers: int | None) -> Iterator[tuple[str, dict[str, np.ndarray]]]:
    """(cell id, rows) of ``fn`` over ``payloads`` on the cluster, as they finish.

    Raises ClusterLostError, once every other cell is in, when some were lost (one line:
    how many, and that the same command resumes); a cell whose own work raised stops the
    search with its error.
    """
    lost = 0
    for res in map_tasks(ray, fn, payloads, workers):
        if "lost" in res:
            lost += 1
            continue
        if "error" in res:
            raise RuntimeError(f"search cell {res['id']} failed: {res['error']}")
        yield res["id"], res["rows"]
    if lost:
        raise ClusterLostError(f"{lost} cells lost to system failures (a worker or node died); every "
                               "finished cell is saved: run the same command again to resume")
