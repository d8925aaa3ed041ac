"""Figures drawn before a run is measured: the report's first seconds overlap its metrics.

Measuring a run (its probes, its statistics) takes a few tenths of a second on one core,
after its arms trained and before the report can be drawn. The figures that read only
the trained arms (registered ``from_arms``) need not wait: processes forked as soon as
the arms are in draw them meanwhile (one per core, each taking the next figure left), and
hand their PNG bytes to `write_figures`, which draws the rest. The files are the ones
drawing them later would write, byte for byte.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable
from typing import Any

from actscope._util.parallel import portable_exception

Drawn = dict[str, tuple[bytes | None, str | None]]  # name -> (PNG or None, note or None)


class EarlyFigures:
    """``names`` of ``run`` drawn by ``render(run, name, dpi)`` in ``workers`` forked
    processes, each taking the next name not yet taken (list the longest first);
    `result` waits for them (and raises the error of one that failed)."""

    def __init__(self, run: Any, names: list[str], dpi: int,
                 render: Callable[[Any, str, int], tuple[bytes | None, str | None]],
                 workers: int = 1) -> None:
        self.names = list(names)
        ctx = mp.get_context("fork")
        taken = ctx.Value("i", 0)  # the next name to draw, shared
        self._running = []
        for _ in range(max(1, min(workers, len(self.names)))):
            conn, child_end = ctx.Pipe(duplex=False)
            # daemonic: it ends with the process that started it, whatever that process does
            proc = ctx.Process(target=_draw, args=(child_end, run, self.names, dpi, render, taken),
                               name="actscope-early-figures", daemon=True)
            proc.start()
            child_end.close()
            self._running.append((conn, proc))

    def result(self) -> Drawn:
        """The figures' PNG bytes and notes, once all are drawn."""
        drawn: Drawn = {}
        failure = None
        for conn, proc in self._running:
            try:
                kind, value = conn.recv()
            except EOFError:
                kind, value = "error", RuntimeError(
                    f"a process drawing the first figures ended without them (exit code {proc.exitcode})")
            finally:
                conn.close()
                proc.join()
            if kind == "error":
                failure = failure or value
            else:
                drawn.update(value)
        if failure is not None:
            raise failure
        return drawn


def _draw(conn, run, names: list[str], dpi: int, render, taken) -> None:
    try:
        drawn = {}
        while True:
            with taken.get_lock():
                i = taken.value
                taken.value += 1
            if i >= len(names):
                break
            drawn[names[i]] = render(run, names[i], dpi)
        conn.send(("done", drawn))
    except BaseException as err:  # noqa: BLE001 - every failure goes back to the report
        conn.send(("error", portable_exception(err)))
    finally:
        conn.close()
