"""Per-browser-session state and its training loop.

Each session owns a PairedTrainer and the latest snapshot. Training runs in worker threads
in bounded slices (a few hundred minibatch steps and about 50 ms at most), at most ``workers`` slices at a
time over all sessions, so the event loop stays free to answer every other request.
Listeners (server-sent events) wait for a new snapshot version. Sessions not seen for
``ttl_s`` seconds are dropped by ``SessionManager.sweep``.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from dataclasses import dataclass

from actscope.serve.schema import PlaygroundConfig
from actscope.serve.trainer import PairedTrainer
from actscope.serve.views import make_grids, snapshot


@dataclass(frozen=True)
class Settings:
    """Server-wide limits (not settable from a browser)."""

    ttl_s: float = 600.0
    max_sessions: int = 32
    workers: int = 2
    max_steps_per_tick: int = 400
    tick_budget_s: float = 0.05
    sweep_every_s: float = 15.0


class SessionLimitError(RuntimeError):
    pass


class Session:
    """One browser's playground: config, trainer, play state and the latest snapshot."""

    def __init__(self, sid: str, cfg: PlaygroundConfig, settings: Settings, gate: asyncio.Semaphore) -> None:
        self.id = sid
        self.settings = settings
        self.cfg = cfg
        self.gate = gate
        self.lock = asyncio.Lock()
        self.changed = asyncio.Condition()
        self.version = 0
        self.payload = "{}"
        self.playing = False
        self.task: asyncio.Task | None = None
        self.last_seen = time.monotonic()
        self.trainer: PairedTrainer | None = None
        self.grids: dict = {}
        self.render_s = 0.0

    # building and publishing (in worker threads) ------------------------------------------
    def _build(self) -> None:
        self.trainer = PairedTrainer(self.cfg.to_experiment())
        self.grids = make_grids(self.trainer)

    def _render(self) -> str:
        began = time.perf_counter()
        snap = snapshot(self.trainer, self.cfg.layer, self.grids)
        snap.update({"session": self.id, "version": self.version + 1, "state": self.state,
                     "epochs": self.cfg.epochs, "config": self.cfg.model_dump()})
        text = json.dumps(snap, separators=(",", ":"))
        self.render_s = time.perf_counter() - began
        return text

    @property
    def state(self) -> str:
        tr = self.trainer
        if tr is not None and (tr.epoch >= self.cfg.epochs or tr.all_diverged):
            return "finished"
        return "playing" if self.playing else "paused"

    async def _work(self, fn) -> None:
        """Run ``fn`` in a worker thread (bounded concurrency), then publish a snapshot."""
        async with self.gate:
            payload = await asyncio.to_thread(lambda: (fn(), self._render())[1])
        self.payload = payload
        self.version += 1
        async with self.changed:
            self.changed.notify_all()

    async def start(self) -> None:
        async with self.lock:
            await self._work(self._build)

    # actions ------------------------------------------------------------------------------
    def touch(self) -> None:
        self.last_seen = time.monotonic()

    async def play(self) -> None:
        if self.state != "finished":
            self.playing = True
            if self.task is None or self.task.done():
                self.task = asyncio.create_task(self._loop())
        await self._publish()

    async def pause(self) -> None:
        self.playing = False
        await self._publish()

    async def step(self) -> None:
        self.playing = False
        async with self.lock:
            await self._work(lambda: self.trainer.finish_epoch(self.cfg.epochs))

    async def reset(self) -> None:
        self.playing = False
        async with self.lock:
            await self._work(self.trainer.reset)

    async def configure(self, cfg: PlaygroundConfig) -> None:
        """New settings: a change to what training depends on rebuilds (and pauses)."""
        rebuild = cfg.training_key() != self.cfg.training_key()
        if rebuild:
            self.playing = False
        async with self.lock:
            self.cfg = cfg
            await self._work(self._build if rebuild else (lambda: None))

    async def _publish(self) -> None:
        async with self.lock:
            await self._work(lambda: None)

    async def _loop(self) -> None:
        """Train while playing: one bounded slice per tick, ``update_rate`` ticks a second."""
        while self.playing and self.state == "playing":
            began = time.monotonic()
            cfg = self.cfg
            async with self.lock:
                if not self.playing:
                    break
                await self._work(lambda: self.trainer.advance(
                    self.settings.max_steps_per_tick, cfg.epochs_per_update, cfg.epochs,
                    budget_s=self._budget()))
            if self.state == "finished":
                self.playing = False
                await self._publish()
                break
            await asyncio.sleep(max(0.0, 1.0 / cfg.update_rate - (time.monotonic() - began)))

    def _budget(self) -> float:
        """Seconds of training per tick: at least as long as drawing takes, at most 0.25 s."""
        return min(max(self.settings.tick_budget_s, self.render_s), 0.25)

    async def wait_newer(self, version: int, timeout: float) -> bool:
        """Wait until a snapshot newer than ``version`` exists (False on timeout)."""
        if self.version > version:
            return True
        async with self.changed:
            try:
                await asyncio.wait_for(self.changed.wait_for(lambda: self.version > version), timeout)
            except TimeoutError:
                return False
        return True

    def close(self) -> None:
        self.playing = False
        if self.task is not None:
            self.task.cancel()


class SessionManager:
    """Every live session, by id; drops the ones not seen for ``ttl_s``."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.sessions: dict[str, Session] = {}
        self._gate: asyncio.Semaphore | None = None

    @property
    def gate(self) -> asyncio.Semaphore:
        if self._gate is None:
            self._gate = asyncio.Semaphore(self.settings.workers)
        return self._gate

    async def create(self, cfg: PlaygroundConfig) -> Session:
        self.sweep()
        if len(self.sessions) >= self.settings.max_sessions:
            raise SessionLimitError(
                f"too many sessions ({self.settings.max_sessions}); try again when idle ones expire")
        sid = secrets.token_urlsafe(12)
        session = Session(sid, cfg, self.settings, self.gate)
        self.sessions[sid] = session
        try:
            await session.start()
        except Exception:
            self.sessions.pop(sid, None)
            raise
        return session

    def get(self, sid: str) -> Session | None:
        s = self.sessions.get(sid)
        if s is not None:
            s.touch()
        return s

    def drop(self, sid: str) -> bool:
        s = self.sessions.pop(sid, None)
        if s is not None:
            s.close()
        return s is not None

    def sweep(self, now: float | None = None) -> list[str]:
        """Drop sessions idle for longer than the TTL; returns their ids."""
        now = time.monotonic() if now is None else now
        old = [sid for sid, s in self.sessions.items() if now - s.last_seen > self.settings.ttl_s]
        for sid in old:
            self.drop(sid)
        return old

    def close_all(self) -> None:
        for sid in list(self.sessions):
            self.drop(sid)
