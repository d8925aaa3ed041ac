"""Independent jobs (an experiment's arms) run side by side in forked processes.

Arms are independent by construction: same data, same seeds, nothing shared while they
train. On a machine with more than one core each can train in its own process. The
processes are forked, so a job sees the parent's data, models and closures without
pickling them; only its result (NumPy arrays) travels back through a pipe, with one small
message per epoch for the progress bar.
"""

from __future__ import annotations

import multiprocessing as mp
import pickle
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from typing import cast

from actscope._util.cores import env_workers, usable_cores

ARM_WORKERS_ENV = "ACTSCOPE_ARM_WORKERS"
__all__ = ["ARM_WORKERS_ENV", "arm_workers", "can_fork", "env_workers", "fork_is_safe", "may_fork",
           "portable_exception", "python_threads", "run_forked", "usable_cores"]


def can_fork() -> bool:
    """Whether forking is available and safe here: not on macOS, whose system libraries
    may start threads that a forked child cannot use (Python's own advice)."""
    return "fork" in mp.get_all_start_methods() and sys.platform != "darwin"


def may_fork() -> bool:
    """Whether this process may fork: fork exists (`can_fork`), no other Python thread runs
    (a notebook kernel, a Ray worker: a fork would copy their held locks) and this is not a
    daemonic worker (those may not have children)."""
    return can_fork() and python_threads() == 1 and not mp.current_process().daemon


def fork_is_safe(engine) -> bool:
    """Whether this process may fork to train: `may_fork`, and the engine says it survives
    a fork (``engine.capabilities.fork_safe``: thread pools such as torch's or numba's do not)."""
    return engine.capabilities.fork_safe and may_fork()


def python_threads() -> int:
    """Python threads alive in this process, this one included."""
    return threading.active_count()


def arm_workers(n_arms: int, engine) -> int:
    """How many arms train at once: $ACTSCOPE_ARM_WORKERS, else the usable cores, at most
    one per arm; 1 (in this process) where `fork_is_safe` says no."""
    if n_arms < 2 or not fork_is_safe(engine):
        return 1
    return max(1, min(env_workers(ARM_WORKERS_ENV, usable_cores()), n_arms))


Job = Callable[[str, Callable[[object], None]], object]


def run_forked(names: list[str], job: Job, workers: int, on_message: Callable[[str, object], None],
               results: dict, idle: Callable[[], None] | None = None) -> None:
    """Run ``job(name, send)`` for every name, ``workers`` processes at a time.

    ``send(msg)`` in a job calls ``on_message(name, msg)`` here (progress). Each result
    lands in ``results[name]`` as soon as its job ends, so on KeyboardInterrupt the caller
    keeps what finished; the running jobs are stopped. A job's exception is raised here.
    ``idle()`` runs here once, after the first jobs started: work for the waiting parent.
    """
    ctx = mp.get_context("fork")
    pending = list(names)
    # receiving end of a job's pipe -> (name, process)
    # the receiving end of a job's pipe -> (name, process)
    running: dict[Connection, tuple[str, mp.context.ForkProcess]] = {}
    try:
        while pending or running:
            while pending and len(running) < workers:
                name = pending.pop(0)
                recv, send = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=_child, args=(job, name, send), daemon=True)
                proc.start()
                send.close()
                running[recv] = (name, proc)
            if idle is not None:
                todo, idle = idle, None
                todo()
            for ready in wait(list(running)):
                conn = cast(Connection, ready)
                name, proc = running[conn]
                try:
                    kind, value = conn.recv()
                except EOFError:
                    proc.join()
                    kind, value = "error", RuntimeError(
                        f"the process running {name!r} ended without a result (exit code {proc.exitcode})")
                if kind == "message":
                    on_message(name, value)
                    continue
                del running[conn]
                conn.close()
                proc.join()
                if kind == "error":
                    raise cast(BaseException, value)
                results[name] = value
    finally:
        for conn, (_, proc) in running.items():
            proc.terminate()
            proc.join()
            conn.close()


def _child(job: Job, name: str, conn) -> None:
    """A forked worker: run the job, send its result (or its exception) and end."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    try:
        result = job(name, lambda msg: conn.send(("message", msg)))
        conn.send(("done", result))
    except BaseException as err:  # noqa: BLE001 - every failure goes back to the parent
        conn.send(("error", portable_exception(err)))
    finally:
        conn.close()


def portable_exception(err: BaseException) -> BaseException:
    """``err`` if it survives pickling, else a RuntimeError carrying its traceback."""
    try:
        pickle.loads(pickle.dumps(err))
        return err
    except Exception:  # noqa: BLE001
        return RuntimeError("".join(traceback.format_exception(err)).rstrip())
