"""When the training loop evaluates the splits: every k-th epoch, or on a log scale.

Evaluating every split every epoch costs more than the epoch's training on a fused engine
(a forward pass over the training and test splits per epoch, for every member). The
``"log"`` schedule (the default) evaluates every epoch up to ``DENSE`` and then
``PER_DECADE`` epochs per decade, log-spaced, so that curves over a linear or a log epoch
axis keep their shape (most change happens early) at a cost that grows with log(epochs),
not epochs. The last epoch is always evaluated (the final metrics come from it), and so is
every epoch past the planned end (the playground trains on when asked to).
"""

from __future__ import annotations

import math
from functools import lru_cache

DENSE = 10  # the first epochs, each evaluated
PER_DECADE = 20  # log-spaced evaluations per decade of epochs after them


@lru_cache(maxsize=64)
def log_epochs(epochs: int) -> frozenset[int]:
    """The 0-based epochs the ``"log"`` schedule evaluates in an ``epochs``-epoch run."""
    top = math.log10(max(epochs, 1))
    marks = {round(10 ** (i / PER_DECADE)) for i in range(int(PER_DECADE * top) + 1)}
    marks |= set(range(1, DENSE + 1)) | {epochs}
    return frozenset(m - 1 for m in marks if 1 <= m <= epochs)


def evaluates(epoch: int, epochs: int, every: int | str) -> bool:
    """Whether the splits are evaluated after 0-based ``epoch`` of an ``epochs``-epoch run
    (``every``: a number of epochs, or ``"log"``)."""
    if epoch == epochs - 1:
        return True
    if every == "log":
        return epoch >= epochs or epoch in log_epochs(epochs)
    return (epoch + 1) % int(every) == 0
