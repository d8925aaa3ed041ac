"""A report drawn by a process forked before the training stack loads.

A run spends its first second loading its own modules and data on one core, then trains
its arms on every core (loading SciPy's optimiser for its probes meanwhile), measures them on
one core, then draws. The report's own stack (matplotlib and the figure modules, about
1.5 s) is needed by none of that, so a process forked at the start imports it, prepares
what the figures need from the spec alone, starts on the figures that need only the
trained arms when it is given them (`ReportWorker.trained`, while the parent measures the
run), and draws the rest once it has the measured Run. Only the Run crosses the pipe
(about half a megabyte for an article); the report it writes is byte for byte the one
this process would write.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
import sys
from pathlib import Path

from actscope._util.cores import usable_cores
from actscope._util.parallel import may_fork, portable_exception
from actscope.config import register_custom_activations


def worker_pays() -> bool:
    """Whether a report worker saves time here: the report stack is not loaded yet, there is
    a second core to load it on, and this process may fork (`parallel.may_fork`)."""
    return "matplotlib.pyplot" not in sys.modules and usable_cores() > 1 and may_fork()


class ReportWorker:
    """A forked process holding the report stack: ``write_report(run, out_dir)`` there.

    Use as a context manager (or call ``close``): a worker that is never given a Run is
    told to end, or ended, when the block exits.
    """

    def __init__(self, spec) -> None:
        ctx = mp.get_context("fork")
        self._conn, child_end = ctx.Pipe()
        # not daemonic: it draws with a pool of its own; `close` always ends it
        self._proc = ctx.Process(target=_serve, args=(child_end, self._conn, spec),
                                 name="actscope-report")
        self._proc.start()
        child_end.close()

    def trained(self, run) -> None:
        """Give the worker the trained ``run`` before it is measured: it starts drawing the
        figures that need only the arms (`report.start_early`). Optional, once, before
        `write_report`."""
        try:
            self._conn.send(("trained", run))
        except OSError:
            pass  # the worker ended early: `write_report` says why

    def write_report(self, run, out_dir: str | Path) -> Path:
        """Have the worker write ``figures/`` and ``report.html`` of ``run`` into ``out_dir``."""
        try:
            self._conn.send(("report", run, Path(out_dir)))
        except OSError:
            pass  # the worker ended early: its reply, or its absence, says why
        try:
            kind, value = self._conn.recv()
        except EOFError:
            self._proc.join()
            raise RuntimeError(f"the report process ended without a report "
                               f"(exit code {self._proc.exitcode})") from None
        if kind == "error":
            raise value
        return value

    def close(self) -> None:
        if self._proc.is_alive():
            try:
                self._conn.send(None)
            except OSError:
                pass
            self._proc.join(timeout=1.0)
            if self._proc.is_alive():
                self._proc.terminate()
                self._proc.join()
        self._conn.close()

    def __enter__(self) -> ReportWorker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _serve(conn, parent_end, spec) -> None:
    """The worker: import the report stack, prepare, draw the Run it is sent (or end)."""
    parent_end.close()  # so that the parent's death reads here as end of file
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # an interrupted run still gets its report
    try:
        from actscope import report  # deferred: loading matplotlib here, off the parent, is the point
        from actscope.report.html import start_early

        register_custom_activations(spec.activations)  # the Run's activations unpickle by name
        report.prepare(spec)
        early = None
        try:
            msg = conn.recv()
            if msg is not None and msg[0] == "trained":
                early = start_early(msg[1])  # while the parent measures the run
                msg = conn.recv()
        except EOFError:
            return
        if msg is None:
            return
        signal.signal(signal.SIGINT, signal.default_int_handler)  # drawing stops on Ctrl-C
        _, run, out_dir = msg
        conn.send(("done", report.write_report(run, out_dir, early=early)))
    except BaseException as err:  # noqa: BLE001 - every failure goes back to the parent
        try:
            conn.send(("error", portable_exception(err)))
        except OSError:
            pass
    finally:
        conn.close()
