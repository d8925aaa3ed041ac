"""The progress of a sweep on stderr (rich): cells finished, and the epochs of the current cell."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class SweepProgress:
    """Progress on stderr (rich): cells finished, and the epochs of the current cell."""

    def __init__(self, total: int, enabled: bool = True) -> None:
        self._p = Progress(TextColumn("[bold]{task.description:<22}"), BarColumn(), MofNCompleteColumn(),
                           TimeElapsedColumn(), TimeRemainingColumn(), console=Console(stderr=True),
                           disable=not enabled)
        self._cells = self._p.add_task("cells", total=total)
        self._epochs: TaskID | None = None

    def __enter__(self):
        self._p.__enter__()
        return self

    def __exit__(self, *exc):
        return self._p.__exit__(*exc)

    def start(self, arm: str, epochs: int) -> None:  # the training-progress protocol
        if self._epochs is None:
            self._epochs = self._p.add_task(arm, total=epochs)
        self._p.reset(self._epochs, total=epochs, description=arm[:22])

    def advance(self, arm: str, loss: float | None = None) -> None:
        if self._epochs is not None:
            self._p.advance(self._epochs)

    def cell_done(self, res: dict) -> None:
        m = res["meta"]
        self._p.update(self._cells, advance=1,
                       description=f"{m['activation']} {m['hidden']} lr {m['lr']:g}"[:22])
