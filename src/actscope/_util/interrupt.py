"""SIGTERM handled as Ctrl-C: a terminated command keeps every finished result.

A scheduler, ``timeout`` or ``kill`` stops a process with SIGTERM, which by default ends it
at once: a run between two arms or a sweep between two cells would lose nothing on disk
(results are written atomically) but would leave its workers running and skip the line
that says what was kept. ``terminate_as_interrupt`` turns SIGTERM into ``Terminated``, a
KeyboardInterrupt, so the one interrupt path every long command already has (keep what is
finished, stop the workers, say where it is) serves both; ``interrupt_status`` is then
the exit status the shell convention gives each signal (130 for SIGINT, 143 for SIGTERM).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

SIGINT_STATUS, SIGTERM_STATUS = 128 + signal.SIGINT, 128 + signal.SIGTERM
_received: list[int] = []


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process receives SIGTERM."""


def _raise_terminated(signum, frame) -> None:
    _received.append(signum)
    raise Terminated(f"signal {signum}")


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises ``Terminated`` in the main thread (left as it is
    elsewhere: off the main thread, or where someone installed their own handler)."""
    installed = (threading.current_thread() is threading.main_thread()
                 and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL)
    if installed:
        _received.clear()
        signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        if installed:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


def interrupt_status() -> int:
    """143 when the interrupt came from SIGTERM, else 130 (Ctrl-C)."""
    return SIGTERM_STATUS if _received else SIGINT_STATUS


__all__ = ["SIGINT_STATUS", "SIGTERM_STATUS", "Terminated", "interrupt_status", "terminate_as_interrupt"]
