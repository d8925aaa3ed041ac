"""The kernels' batch orders are numpy's ``Generator.permutation``, bit for bit, and leave
each stream's state (the PCG64 state and the buffered half of a 64-bit draw) exactly where
numpy leaves it: the next epoch's order, and any draw after, depends on it."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba", reason="the fast engine needs numba (extra 'fast')")

from actscope.engines.fast_engine import BatchOrders, pcg_states  # noqa: E402


def _streams(buffered: bool) -> list[np.random.Generator]:
    """Eight PCG64 streams; with ``buffered``, each holds the high half of a 64-bit draw
    (numpy's has_uint32), as after an odd number of 32-bit draws."""
    out = [np.random.default_rng(seed) for seed in range(8)]
    if buffered:
        for st in out:
            st.integers(0, 1000, dtype=np.uint32)
    return out


@pytest.mark.parametrize("buffered", [False, True])
@pytest.mark.parametrize("n", [1, 2, 3, 17, 300, 1000])
def test_orders_and_states_match_numpy(n, buffered):
    mine, theirs = _streams(buffered), _streams(buffered)
    assert all(st.bit_generator.state["has_uint32"] == int(buffered) for st in mine)
    orders = BatchOrders(mine, n)
    for _ in range(3):  # each order starts where the last one left the stream
        np.testing.assert_array_equal(orders.next(), np.stack([st.permutation(n) for st in theirs]))
        np.testing.assert_array_equal(orders.pcg, pcg_states(theirs))


def test_states_differ_between_members():
    """The check above could pass with one stream copied to all: the orders differ."""
    orders = BatchOrders(_streams(False), 300).next()
    assert len({tuple(row) for row in orders}) == len(orders)
