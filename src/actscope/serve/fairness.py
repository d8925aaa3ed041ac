"""Sharing the training workers fairly among sessions: by work done, not by request order.

`FairGate` hands out ``slots`` worker slots. When they are all taken, the next free slot
goes to the waiting session that has used the least training time so far. A session seen
for the first time, or back from a pause, starts no lower than the account of the last
slice served (start-time fair queueing's virtual time), so it neither waits behind the
others' past nor takes over with a credit saved while idle. Urgent work (a button the
user pressed: step, reset, a new config) goes before any training slice. Each holder
reports the seconds it used when it releases, and the freed slot is handed out on the
next turn of the event loop, after a session that still wants more has queued again. So a
session whose slices cost ten times more gets about a tenth as many: every playing session
advances, at a rate set by its own cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time


class FairGate:
    """At most ``slots`` slices at a time; waiting slices are served least-used first."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self.busy = 0
        self.used: dict[str, float] = {}
        self.clock = 0.0  # the account of the last training slice granted
        self._waiting: list[tuple[int, float, int, str, asyncio.Future]] = []
        self._seq = itertools.count()

    def usage(self, key: str) -> float:
        """Seconds of work ``key`` is charged with, lifted to the clock if it is behind it."""
        self.used[key] = max(self.used.get(key, self.clock), self.clock)
        return self.used[key]

    def order(self, key: str, urgent: bool = False) -> tuple:
        """Where a slice of ``key`` stands in the queue: urgent first, then least used, then arrival."""
        return (0 if urgent else 1, self.usage(key), next(self._seq))

    async def acquire(self, key: str, urgent: bool = False) -> None:
        """Wait for a slot (at once if one is free and nobody waits)."""
        rank = self.order(key, urgent)
        if self.busy < self.slots and not self._waiting:
            self.busy += 1
            if not urgent:  # an urgent slice jumps the queue: it does not move the clock
                self.clock = max(self.clock, rank[1])
            return
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (*rank, key, future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():  # granted, then cancelled: pass it on
                self.release(key, 0.0)
            raise

    def release(self, key: str, seconds: float) -> None:
        """Give the slot back, charging ``key`` for the ``seconds`` it used."""
        if key in self.used:
            self.used[key] += seconds
        self.busy -= 1
        if self._waiting:  # granted on the next turn of the loop, once the holder re-queued
            asyncio.get_running_loop().call_soon(self._grant)

    def _grant(self) -> None:
        """Hand the free slots to the first waiters in order."""
        while self._waiting and self.busy < self.slots:
            lane, account, _, _, future = heapq.heappop(self._waiting)
            if not future.done():
                self.busy += 1
                if lane == 1:
                    self.clock = max(self.clock, account)
                future.set_result(None)

    @contextlib.asynccontextmanager
    async def slot(self, key: str, urgent: bool = False):
        """``async with gate.slot(key):`` run one slice, charged by its wall time."""
        await self.acquire(key, urgent)
        began = time.perf_counter()
        try:
            yield
        finally:
            self.release(key, time.perf_counter() - began)

    def forget(self, key: str) -> None:
        """Drop the account of a session that is gone."""
        self.used.pop(key, None)
