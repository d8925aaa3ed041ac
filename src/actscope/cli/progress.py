"""Progress bars (rich, on stderr) for training: one task per arm."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn


class TrainingProgress:
    """Context manager implementing the ``start(arm, epochs)`` / ``advance(arm, loss)`` protocol.

    It refreshes the display from ``advance`` (at most every REFRESH_S seconds) rather than
    from a background thread, so that forking while it shows is safe."""

    REFRESH_S = 0.1

    def __init__(self, enabled: bool = True) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description:<14}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[loss]}"), TimeRemainingColumn(),
            console=Console(stderr=True), disable=not enabled, transient=False,
            auto_refresh=False,  # no refresh thread: arms may train in forked processes
        )
        self._shown = 0.0
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self):
        self._progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self._progress.__exit__(*exc)

    def start(self, arm: str, epochs: int) -> None:
        self._tasks[arm] = self._progress.add_task(arm, total=epochs, loss="")

    def advance(self, arm: str, loss: float | None = None) -> None:
        """One epoch of ``arm`` done; ``loss``: its mean running training loss, if finite."""
        self._progress.update(self._tasks[arm], advance=1, loss="" if loss is None else f"loss {loss:.4f}")
        now = time.monotonic()
        if now - self._shown > self.REFRESH_S:
            self._progress.refresh()
            self._shown = now
