"""Cells on Ray: connect (checked before anything is written), ship the code, map, retry.

The cluster is the one at ``--address``, else ``$RAY_ADDRESS`` (as ``ray job submit`` sets
it), else a local instance of ``workers`` CPUs; one already initialised in this process is
reused and left up. Before any work:

- an address is probed with a TCP connection of ``ADDRESS_TIMEOUT_S`` seconds, so an address
  where nothing listens is one line at once instead of minutes of Ray's own retries;
- on a cluster, this actscope package is shipped to the workers (``runtime_env``
  ``py_modules``: its code only; every node needs its dependencies, ``pip install
  'actscope[ray]'``), and a task that imports it and returns its version proves that a
  worker can run cells.

A task lost to a system failure (its worker or node died) is retried ``MAX_RETRIES`` times
by Ray; after that its cell is yielded as *lost* (not failed: a restart runs it again).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

from actscope._util.cores import usable_cores
from actscope._util.version import __version__
from actscope.errors import InputError, input_error

RAY_HINT = "the ray executor needs Ray, which is not installed: pip install 'actscope[ray]'"
ADDRESS_TIMEOUT_S = 3.0
CHECK_TIMEOUT_S = 120.0
MAX_RETRIES = 3
# a task's worker or node died, or its result went with them: Ray's system failures
SYSTEM_ERRORS = ("WorkerCrashedError", "NodeDiedError", "LocalRayletDiedError", "ObjectLostError",
                 "OwnerDiedError", "ObjectReconstructionFailedError", "OutOfMemoryError")


class ClusterLostError(RuntimeError):
    """The Ray cluster itself failed during a sweep (one line: what, and how to resume)."""


def import_ray():
    """The ray module; InputError with the install line when it is missing."""
    try:
        import ray
    except ImportError:
        raise InputError(RAY_HINT) from None
    return ray


def cluster_address(address: str | None) -> tuple[str | None, str]:
    """(the address to connect to, the field that named it): ``--address``, else
    ``$RAY_ADDRESS``, else (None, "") for a local instance."""
    if address:
        return address, "--address"
    env = os.environ.get("RAY_ADDRESS", "").strip()
    return (env, "$RAY_ADDRESS") if env else (None, "")


def probe_address(address: str, field: str, timeout: float = ADDRESS_TIMEOUT_S) -> None:
    """Refuse (InputError) an address where nothing accepts a TCP connection in ``timeout``
    seconds; ``auto`` and ``local`` are left to Ray (it answers those at once)."""
    if address in ("auto", "local"):
        return
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = hostport.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise input_error(None, field, address, "not a Ray address: host:port, ray://host:port or auto")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as err:
        reason = (f"no answer within {timeout:g} s" if isinstance(err, TimeoutError)
                  else (err.strerror or type(err).__name__).lower())
        raise input_error(None, field, address, f"no Ray cluster answers there ({reason}); start one "
                          "with `ray start --head`, or fix the address") from None


def _package_dir() -> Path:
    return Path(__file__).resolve().parents[1]  # actscope/sweep/ray_cluster.py -> actscope/


def connect(address: str | None, workers: int | None) -> bool:
    """Connect to (or start) the cluster and check that a worker can import actscope.

    Returns whether this call started Ray (and must shut it down). Raises InputError,
    naming the address, for any failure to do so.
    """
    ray = import_ray()
    address, field = cluster_address(address)
    if ray.is_initialized():
        started = False
    elif address:
        probe_address(address, field)
        try:  # the job's runtime_env: this package's code on every worker
            ray.init(address=address, include_dashboard=False, logging_level="WARNING",
                     runtime_env={"py_modules": [str(_package_dir())]})
        except Exception as err:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError, ...
            raise input_error(None, field, address, f"cannot connect: {_first_line(err)}") from None
        started = True
    else:
        ray.init(num_cpus=workers or usable_cores(), include_dashboard=False, logging_level="WARNING")
        started = True
    try:
        check_workers(ray, None, address or "local", field or "--executor")
    except BaseException:
        if started:
            ray.shutdown()
        raise
    return started


def _remote_version() -> str:
    """Runs on a worker: unpickling it imports this module, so actscope and what it needs."""
    return __version__


def check_workers(ray, env: dict | None, where: str, field: str,
                  timeout: float = CHECK_TIMEOUT_S) -> None:
    """Run one tiny task that imports actscope on a worker (with the task runtime_env
    ``env``; None: the job's); InputError saying what is missing when it cannot, or when
    its version is not this one."""
    task = ray.remote(num_cpus=0, max_retries=1)(_remote_version)
    if env:
        task = task.options(runtime_env=env)
    try:
        version = ray.get(task.remote(), timeout=timeout)
    except ray.exceptions.GetTimeoutError:
        raise input_error(None, field, where, f"no Ray worker ran a task within {timeout:g} s "
                          "(is the cluster busy or out of resources?)") from None
    except Exception as err:  # noqa: BLE001 - RayTaskError(ModuleNotFoundError), RuntimeEnvSetupError, ...
        raise input_error(None, field, where, "a Ray worker cannot import actscope "
                          f"({_first_line(err)}); every node needs actscope's dependencies: "
                          "pip install 'actscope[ray]' on each") from None
    if version != __version__:
        raise input_error(None, field, where, f"the Ray workers run actscope {version}, this is "
                          f"{__version__}: install the same version on every node")


def _first_line(err: BaseException) -> str:
    """The most specific line of an exception's message (Ray wraps causes in tracebacks)."""
    text = str(err).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in reversed(lines):  # a wrapped cause ends the message: "ModuleNotFoundError: ..."
        if "Error:" in ln or "Error(" in ln:
            return ln[:300]
    return (lines[0] if lines else type(err).__name__)[:300]


def lost(payload, err: BaseException) -> dict:
    """The result of a cell whose task was lost to a system failure after every retry
    (``err`` itself is raised again for a payload that is not a cell)."""
    if not (isinstance(payload, dict) and "id" in payload):
        raise err
    return {"id": payload["id"], "meta": payload.get("meta"),
            "lost": f"{type(err).__name__}: {_first_line(err)}"}


def map_tasks(ray, fn: Callable, items: list, cap: int | None) -> Iterator:
    """Submit ``items`` (at most ``cap`` in flight), yield each result as it finishes."""
    remote = ray.remote(num_cpus=1, max_retries=MAX_RETRIES, retry_exceptions=False)(fn)
    todo, pending = list(items), dict[object, object]()  # task reference -> item
    try:
        while todo or pending:
            while todo and (cap is None or len(pending) < cap):
                item = todo.pop(0)
                pending[remote.remote(item)] = item
            try:
                done, _ = ray.wait(list(pending), num_returns=1)
            except (ray.exceptions.RayError, ConnectionError) as err:  # the cluster, not a task
                raise _cluster_lost(err) from None
            for ref in done:
                item = pending.pop(ref)
                yield _result(ray, ref, item)
    except BaseException:
        for ref in pending:
            try:
                ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001 - the cluster may be gone: nothing left to stop
                pass
        raise


def _result(ray, ref, item):
    """A finished task's value, `lost` for a system failure; ClusterLostError when Ray
    itself failed."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as err:  # fn raised: a failure of the cell's own work
        if isinstance(item, dict) and "id" in item:
            return {"id": item["id"], "meta": item.get("meta"), "error": _first_line(err)}
        raise
    except ray.exceptions.RayError as err:
        if type(err).__name__ in SYSTEM_ERRORS:
            return lost(item, err)
        raise _cluster_lost(err) from None


def _cluster_lost(err: BaseException) -> ClusterLostError:
    return ClusterLostError(f"the Ray cluster failed ({type(err).__name__}: {_first_line(err)}); "
                            "every finished cell is saved: run the same command again to resume")
