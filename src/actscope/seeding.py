"""Random streams per ensemble member: the only source of randomness in actscope.

Two protocols:

- ``"default"``: independent NumPy Generators per member, one for the initial weights and
  one for the batch order, both derived from the member's seed with SeedSequence.
- ``"article"``: the first reference article's protocol. One legacy ``RandomState(seed)``
  per member (what ``np.random.seed(seed)`` sets up); the weights are drawn from it first,
  and the per-epoch permutations continue the same stream after the initialisation.
"""

from __future__ import annotations

import numpy as np

PROTOCOLS = ("default", "article")
Stream = np.random.Generator | np.random.RandomState


def init_stream(seed: int, protocol: str = "default") -> Stream:
    """The stream the initial weights of member ``seed`` are drawn from."""
    if protocol == "article":
        return np.random.RandomState(seed)
    if protocol == "default":
        return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,)))
    raise ValueError(f"rng protocol {protocol!r} is not one of {', '.join(PROTOCOLS)}")


def batch_stream(seed: int, protocol: str, advance=None) -> Stream:
    """The stream of member ``seed``'s batch order.

    Under the article protocol it is the init stream after the weights were drawn:
    ``advance(stream)`` replays those draws (see ``model.draw_raw_weights``).
    """
    if protocol == "article":
        stream = np.random.RandomState(seed)
        if advance is not None:
            advance(stream)
        return stream
    if protocol == "default":
        return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,)))
    raise ValueError(f"rng protocol {protocol!r} is not one of {', '.join(PROTOCOLS)}")


def aux_rng(seed: int, purpose: int) -> np.random.Generator:
    """A further independent Generator for member ``seed`` (dropout masks, probes...)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2, purpose)))
