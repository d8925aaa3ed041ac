"""Where a network's initialisation sits in the mean-field phase diagram (`actscope.theory`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from actscope.nn.model import MLPSpec, init_variances

if TYPE_CHECKING:  # the theory loads SciPy's optimisers: at run time only where it is used
    from actscope.theory import FixedPoint


@dataclass(frozen=True)
class InitPoint:
    """The (σw², σb²) a hidden layer of an arm is initialised at, and its mean-field state."""

    arm: str
    layer: int
    activation: str
    init: str
    point: FixedPoint


def init_points(mlp: MLPSpec, arm: str = "") -> list[InitPoint]:
    """(σw², σb²) of each hidden layer of an MLPSpec, from its init scheme, with the
    mean-field state there (the first layer sees the data; the maps describe the rest)."""
    # deferred: the theory loads SciPy's optimisers (half a second), which MLPSpec alone does not need
    from actscope.theory import fixed_point

    variances = init_variances(mlp)
    seen: dict[tuple[str, float, float], FixedPoint] = {}
    out = []
    for i in range(mlp.depth):
        sw2, sb2 = variances[i]
        key = (mlp.activation[i], round(sw2, 12), round(sb2, 12))
        if key not in seen:
            seen[key] = fixed_point(*key)
        out.append(InitPoint(arm, i + 1, mlp.activation[i], mlp.init, seen[key]))
    return out
