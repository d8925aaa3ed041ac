"""Per-browser-session state and its training loop.

Each session owns a PairedTrainer and the latest snapshot. Training runs in worker threads
in bounded slices (a few hundred minibatch steps and about 50-100 ms at most), at most
``workers`` slices at a time over all sessions, handed out by a `fairness.FairGate`: the
least-served playing session goes next, and a button press (step, reset, new settings)
before any training slice. Play and pause need no worker: they change the state and
republish the latest snapshot at once. So the event loop stays free and controls answer
quickly under load. Listeners (server-sent events) wait for a new snapshot version.

A session lives while its user acts: any request about it, or the page's heartbeat, renews
it; an open event stream alone does not. Sessions not seen for ``ttl_s`` seconds are dropped
by ``SessionManager.sweep``. Each client address may hold ``max_per_client`` sessions, the
server ``max_sessions``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from dataclasses import dataclass

from actscope.serve.fairness import FairGate
from actscope.serve.schema import UPLOAD, PlaygroundConfig
from actscope.serve.trainer import PairedTrainer
from actscope.serve.upload import Points, load_points
from actscope.serve.views import make_grids, snapshot


@dataclass(frozen=True)
class Settings:
    """Server-wide limits (not settable from a browser)."""

    ttl_s: float = 600.0
    max_sessions: int = 32
    max_per_client: int = 4
    workers: int = 2
    max_steps_per_tick: int = 400
    tick_budget_s: float = 0.05
    sweep_every_s: float = 15.0


class SessionLimitError(RuntimeError):
    pass


class Session:
    """One browser's playground: config, trainer, play state and the latest snapshot."""

    def __init__(self, sid: str, cfg: PlaygroundConfig, settings: Settings, gate: FairGate,
                 client: str = "") -> None:
        self.id = sid
        self.client = client
        self.settings = settings
        self.cfg = cfg
        self.gate = gate
        self.lock = asyncio.Lock()
        self.changed = asyncio.Condition()
        self.version = 0
        self.payload = "{}"
        self.snap: dict = {}
        self.playing = False
        self.closed = False
        self.task: asyncio.Task | None = None
        self.last_seen = time.monotonic()
        self.trainer: PairedTrainer | None = None
        self.points: Points | None = None  # uploaded 2-D points (dataset "upload")
        self.grids: dict = {}
        self.render_s = 0.0
        self.rendered_at = 0.0

    # building and publishing (in worker threads) ------------------------------------------
    @property
    def upload_name(self) -> str | None:
        return None if self.points is None else self.points.name

    @property
    def built(self) -> PairedTrainer:
        """The trainer, which `_build` makes before anything else runs."""
        assert self.trainer is not None, "the session is not built"
        return self.trainer

    def _build(self) -> None:
        spec = self.cfg.to_experiment(upload=self.upload_name)
        # to_experiment refuses dataset 'upload' when no points were uploaded
        uploaded = self.cfg.dataset == UPLOAD and self.points is not None
        data = load_points(self.points, spec) if uploaded and self.points is not None else None
        self.trainer = PairedTrainer(spec, data=data)
        self.grids = make_grids(self.trainer)

    def _render(self) -> tuple[dict, str]:
        began = time.perf_counter()
        snap = snapshot(self.built, self.cfg.layer, self.grids)
        snap.update({"session": self.id, "version": self.version + 1, "state": self.state,
                     "epochs": self.cfg.epochs, "config": self.cfg.model_dump(),
                     "upload": None if self.points is None else
                     {"name": self.points.name, "rows": self.points.rows}})
        text = json.dumps(snap, separators=(",", ":"))
        self.render_s = time.perf_counter() - began
        self.rendered_at = time.monotonic()
        return snap, text

    def _render_due(self) -> bool:
        """Whether a training slice ends with a new snapshot: drawing an expensive session
        (up to about a second at depth 6, width 32) takes at most a third of its time."""
        if self.state != "playing":
            return True
        return time.monotonic() - self.rendered_at >= max(1.0 / self.cfg.update_rate, 2 * self.render_s)

    @property
    def state(self) -> str:
        tr = self.trainer
        if tr is not None and (tr.epoch >= self.cfg.epochs or tr.all_diverged):
            return "finished"
        return "playing" if self.playing else "paused"

    async def _work(self, fn, urgent: bool = True) -> None:
        """Run ``fn`` in a worker thread (a fair share of the workers), then publish a snapshot
        (a training slice: only when one is due). The session's lock is taken once the slot is
        granted, so a button pressed meanwhile never waits behind its own queued slice."""
        def run():
            fn()
            return self._render() if urgent or self._render_due() else (None, None)

        async with self.gate.slot(self.id, urgent), self.lock:
            snap, payload = await asyncio.to_thread(run)
        if snap is None:
            return
        if snap["state"] != self.state:  # play or pause was pressed while it ran
            snap["state"] = self.state
            payload = json.dumps(snap, separators=(",", ":"))
        await self._announce(snap, payload)

    async def _announce(self, snap: dict, payload: str) -> None:
        self.snap, self.payload = snap, payload
        self.version += 1
        async with self.changed:
            self.changed.notify_all()

    async def _restate(self) -> None:
        """Republish the latest snapshot with the current play state (no worker needed)."""
        snap = {**self.snap, "state": self.state, "version": self.version + 1}
        await self._announce(snap, json.dumps(snap, separators=(",", ":")))

    async def start(self) -> None:
        await self._work(self._build)

    # actions ------------------------------------------------------------------------------
    def touch(self) -> None:
        self.last_seen = time.monotonic()

    async def play(self) -> None:
        if self.state != "finished":
            self.playing = True
            if self.task is None or self.task.done():
                self.task = asyncio.create_task(self._loop())
        await self._restate()

    async def pause(self) -> None:
        """Paused at once; the snapshot of where training stopped follows when drawn."""
        self.playing = False
        await self._restate()
        self.redraw = asyncio.create_task(self._redraw())

    async def _redraw(self) -> None:
        if not self.playing:
            await self._work(lambda: None, urgent=False)

    async def step(self) -> None:
        self.playing = False
        await self._work(lambda: self.built.finish_epoch(self.cfg.epochs))

    async def reset(self) -> None:
        self.playing = False
        await self._work(self.built.reset)

    async def configure(self, cfg: PlaygroundConfig) -> None:
        """New settings: a change to what training depends on rebuilds (and pauses)."""
        rebuild = cfg.training_key() != self.cfg.training_key()
        if rebuild:
            self.playing = False

        def apply():  # in the worker, under the lock: never beside a slice of the old settings
            self.cfg = cfg
            if rebuild:
                self._build()

        await self._work(apply)

    async def upload(self, points: Points) -> None:
        """Train on uploaded points from now on (paused, at epoch 0); the other settings stay."""
        self.playing = False
        cfg = self.cfg.model_copy(update={"dataset": UPLOAD})

        def apply():
            self.points, self.cfg = points, cfg
            self._build()

        await self._work(apply)

    async def _loop(self) -> None:
        """Train while playing: one bounded slice per tick, ``update_rate`` ticks a second."""
        while self.playing and self.state == "playing":
            began = time.monotonic()
            cfg = self.cfg
            await self._work(lambda: self._train(cfg), urgent=False)
            if self.state == "finished":
                self.playing = False
                await self._restate()
                break
            pause = 1.0 / cfg.update_rate - (time.monotonic() - began)
            if pause > 0:  # behind its rate, it queues again at once (see fairness.FairGate)
                await asyncio.sleep(pause)

    def _train(self, cfg: PlaygroundConfig) -> None:
        """One training slice, unless play was paused while it waited for a worker."""
        if self.playing:
            self.built.advance(self.settings.max_steps_per_tick, cfg.epochs_per_update, cfg.epochs,
                                 budget_s=self._budget())

    def _budget(self) -> float:
        """Seconds of training per slice: at most 0.1 s (a button pressed meanwhile waits for a
        slice to end)."""
        return min(max(self.settings.tick_budget_s, self.render_s), 0.1)

    async def wait_newer(self, version: int, timeout: float) -> bool:
        """Wait until a snapshot newer than ``version`` exists (False on timeout)."""
        if self.version > version:
            return True
        async with self.changed:
            try:
                await asyncio.wait_for(self.changed.wait_for(lambda: self.version > version or self.closed),
                                       timeout)
            except TimeoutError:
                return False
        return True

    def close(self) -> None:
        """Stop training and wake the listeners (their streams then end)."""
        self.playing = False
        self.closed = True
        if self.task is not None:
            self.task.cancel()
        with contextlib.suppress(RuntimeError):  # no running loop: nobody is listening
            asyncio.get_running_loop().create_task(self._wake())

    async def _wake(self) -> None:
        async with self.changed:
            self.changed.notify_all()


class SessionManager:
    """Every live session, by id; drops the ones not seen for ``ttl_s``."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.sessions: dict[str, Session] = {}
        self.gate = FairGate(self.settings.workers)

    async def create(self, cfg: PlaygroundConfig, client: str = "") -> Session:
        """A new session for ``client`` (its address), within the server's and the client's caps."""
        self.sweep()
        if len(self.sessions) >= self.settings.max_sessions:
            raise SessionLimitError(
                f"too many sessions ({self.settings.max_sessions}); try again when idle ones expire")
        mine = sum(s.client == client for s in self.sessions.values())
        if mine >= self.settings.max_per_client:
            raise SessionLimitError(
                f"too many sessions from {client or 'this client'} ({mine}; at most "
                f"{self.settings.max_per_client} per client): close a tab or wait "
                f"{self.settings.ttl_s:.0f} s for an idle one to expire")
        sid = secrets.token_urlsafe(12)
        session = Session(sid, cfg, self.settings, self.gate, client)
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
            self.gate.forget(sid)
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
