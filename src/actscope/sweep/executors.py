"""Where the cells of a sweep run: in this process, a local process pool, or Ray.

Every executor maps one picklable function over payloads and yields results as they
finish (in any order); the caller writes each one down at once. On KeyboardInterrupt the
executor stops its workers and re-raises: what finished was already yielded. Ray
(connecting, shipping the code, retrying lost tasks) is `ray_cluster`.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any

from actscope._util.cores import usable_cores
from actscope.errors import InputError, input_error
from actscope.sweep.ray_cluster import MAX_RETRIES, connect, import_ray, lost, map_tasks

EXECUTORS = ("inprocess", "processes", "ray")


def check_executor(kind: str, workers: int | None = None, address: str | None = None) -> None:
    """Refuse an unknown executor, a worker count under 1, an address for another executor
    than Ray, or Ray when it is not installed (before any work)."""
    if address and kind != "ray":
        raise input_error(None, "--address", address, "only with --executor ray")
    if kind not in EXECUTORS:
        raise InputError(f"--executor = {kind!r}: not one of {', '.join(EXECUTORS)}")
    if workers is not None and workers < 1:
        raise InputError(f"--workers = {workers}: must be >= 1")
    if kind == "ray":
        import_ray()


def run_inprocess(fn: Callable, payloads: Iterable, **kwargs) -> Iterator:
    """One after another, in this process (``kwargs`` go to ``fn``: progress, ...)."""
    for p in payloads:
        yield fn(p, **kwargs)


def _worker_init() -> None:
    # The parent handles Ctrl-C and stops the pool; workers must not die half-way noisily.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)  # one BLAS thread per worker: the pool is the parallelism
    except ImportError:  # pragma: no cover - scikit-learn brings threadpoolctl
        pass


def run_processes(fn: Callable, payloads: Iterable, workers: int | None = None) -> Iterator:
    """A local pool of ``workers`` processes (spawned, so safe with threads and torch).

    A worker that dies (killed, out of memory) breaks the pool: the cells in flight then run
    again in a fresh pool, each alone, so that only the cell that kills its worker is
    blamed; after ``MAX_RETRIES`` more deaths alone it is yielded as `lost`.
    """
    items = list(payloads)
    if not items:
        return
    n = min(workers or usable_cores(), len(items))
    queue, suspects, tries = list(range(len(items))), list[int](), [0] * len(items)
    while queue or suspects:
        pool = ProcessPoolExecutor(n, mp_context=mp.get_context("spawn"), initializer=_worker_init)
        try:
            broken = yield from _drain(pool, fn, items, queue, suspects, n)
        except BaseException:
            _stop(pool)
            raise
        pool.shutdown(wait=True)
        if len(broken) != 1:
            suspects.extend(broken)
            continue
        i = broken[0]
        tries[i] += 1
        if tries[i] <= MAX_RETRIES:
            suspects.append(i)
        else:
            yield lost(items[i], BrokenProcessPool(f"its worker process died each of the {tries[i]} "
                                                   "times it ran alone"))


def _drain(pool: ProcessPoolExecutor, fn: Callable, items: list, queue: list, suspects: list,
           n: int) -> Generator[Any, None, list[int]]:
    """Run cells on ``pool`` (a suspect alone, else up to ``n`` at once), yielding results,
    until none is left or the pool breaks; returns the indices in flight at the break."""
    running: dict = {}
    alone = False
    while queue or suspects or running:
        try:
            if not running and suspects:
                fut = pool.submit(fn, items[suspects[0]])  # popped once submitted
                running[fut], alone = suspects.pop(0), True
            while not alone and queue and len(running) < n:
                fut = pool.submit(fn, items[queue[0]])
                running[fut] = queue.pop(0)
        except BrokenProcessPool:  # a worker died since the last wait: those in flight went with it
            if not running:
                raise  # no cell to blame: the workers die on their own
            return list(running.values())
        done, _ = wait(running, return_when=FIRST_COMPLETED)
        broken = []
        for fut in done:
            i = running.pop(fut)
            try:
                res = fut.result()
            except BrokenProcessPool:
                broken.append(i)
                continue
            yield res
        if broken:  # every cell still in flight went down with the pool
            return broken + list(running.values())
        alone = alone and bool(running)
    return []


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop a pool at once: queued cells cancelled, running workers terminated."""
    procs = list((getattr(pool, "_processes", None) or {}).values())  # the stdlib has no public way
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.join()


@contextmanager
def open_executor(kind: str, workers: int | None = None, address: str | None = None):
    """A context giving ``map(fn, payloads, **inprocess_kwargs) -> Iterator`` on ``kind``.

    Everything that can fail before the work fails here, before the caller writes anything:
    an unknown executor, a bad worker count, Ray missing, a Ray address where nothing answers
    or whose workers cannot import actscope (`ray_cluster.connect`). ``workers`` with Ray is
    the most cells in flight at once (and the CPUs of a local instance).
    """
    check_executor(kind, workers)
    if kind == "inprocess":
        yield lambda fn, payloads, **kw: run_inprocess(fn, payloads, **kw)
    elif kind == "processes":
        yield lambda fn, payloads, **kw: run_processes(fn, payloads, workers)
    else:
        ray = import_ray()
        started = connect(address, workers)
        try:
            yield lambda fn, payloads, **kw: map_tasks(ray, fn, list(payloads), workers)
        finally:
            if started:
                ray.shutdown()


def execute(kind: str, fn: Callable, payloads: Iterable, workers: int | None = None,
            address: str | None = None, **inprocess_kwargs) -> Iterator:
    """Results of ``fn`` over ``payloads`` as they finish, on the executor ``kind``
    (`open_executor` for the whole life of the iterator)."""
    with open_executor(kind, workers, address) as run:
        yield from run(fn, payloads, **inprocess_kwargs)
