"""Where the cells of a sweep run: in this process, a local process pool, or Ray.

Every executor maps one picklable function over payloads and yields results as they
finish (in any order); the caller writes each one down at once. On KeyboardInterrupt the
executor stops its workers and re-raises: what finished was already yielded.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
from collections.abc import Callable, Iterable, Iterator

from actscope._util.cores import usable_cores
from actscope.errors import InputError

EXECUTORS = ("inprocess", "processes", "ray")
RAY_HINT = "the ray executor needs Ray, which is not installed: pip install 'actscope[ray]'"


def check_executor(kind: str, workers: int | None = None) -> None:
    """Refuse an unknown executor, or Ray when it is not installed (before any work)."""
    if kind not in EXECUTORS:
        raise InputError(f"--executor = {kind!r}: not one of {', '.join(EXECUTORS)}")
    if workers is not None and workers < 1:
        raise InputError(f"--workers = {workers}: must be >= 1")
    if kind == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise InputError(RAY_HINT) from None


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
    """A local pool of ``workers`` processes (spawned, so safe with threads and torch)."""
    items = list(payloads)
    if not items:
        return
    n = min(workers or usable_cores(), len(items))
    pool = mp.get_context("spawn").Pool(n, initializer=_worker_init)
    try:
        yield from pool.imap_unordered(fn, items, chunksize=1)
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()


def run_ray(fn: Callable, payloads: Iterable, workers: int | None = None,
            address: str | None = None) -> Iterator:
    """Ray tasks, one CPU each: a local instance (``workers`` CPUs) or the cluster at
    ``address``. An instance already initialised in this process is reused and left up.
    (On a cluster every node needs actscope installed.)"""
    try:
        import ray
    except ImportError:
        raise InputError(RAY_HINT) from None
    items = list(payloads)
    if not items:
        return
    started = False
    if not ray.is_initialized():
        opts: dict = {"include_dashboard": False, "logging_level": "WARNING"}
        if address:
            opts["address"] = address
        else:
            opts["num_cpus"] = workers or usable_cores()
        ray.init(**opts)
        started = True
    remote = ray.remote(num_cpus=1, max_retries=0)(fn)
    pending = [remote.remote(p) for p in items]
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                yield ray.get(ref)
    except BaseException:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    finally:
        if started:
            ray.shutdown()


def execute(kind: str, fn: Callable, payloads: Iterable, workers: int | None = None,
            address: str | None = None, **inprocess_kwargs) -> Iterator:
    """Results of ``fn`` over ``payloads`` as they finish, on the executor ``kind``."""
    check_executor(kind, workers)
    if kind == "inprocess":
        return run_inprocess(fn, payloads, **inprocess_kwargs)
    if kind == "processes":
        return run_processes(fn, payloads, workers)
    return run_ray(fn, payloads, workers, address)
