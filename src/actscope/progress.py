"""Progress bars (rich, on stderr) for training: one task per arm."""

from __future__ import annotations

import math

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class TrainingProgress:
    """Context manager implementing the ``start(arm, epochs)`` / ``advance(arm, hist)`` protocol."""

    def __init__(self, enabled: bool = True) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description:<14}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[loss]}"), TimeRemainingColumn(),
            console=Console(stderr=True), disable=not enabled, transient=False,
        )
        self._tasks: dict[str, int] = {}

    def __enter__(self):
        self._progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self._progress.__exit__(*exc)

    def start(self, arm: str, epochs: int) -> None:
        self._tasks[arm] = self._progress.add_task(arm, total=epochs, loss="")

    def advance(self, arm: str, hist=None) -> None:
        loss = ""
        if hist is not None and "train/running_loss" in hist.values:
            vals = hist.last("train/running_loss")
            finite = [v for v in vals if math.isfinite(v)]
            if finite:
                loss = f"loss {sum(finite) / len(finite):.4f}"
        self._progress.update(self._tasks[arm], advance=1, loss=loss)
