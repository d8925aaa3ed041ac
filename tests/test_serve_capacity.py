"""The playground fair under load: per-client caps, expiry by the user's actions (not by an
open stream), and training time shared by work among the playing sessions."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from actscope.serve.fairness import FairGate  # noqa: E402
from actscope.serve.schema import parse_config  # noqa: E402
from actscope.serve.server import ServerThread  # noqa: E402
from actscope.serve.session import SessionLimitError, SessionManager, Settings  # noqa: E402

SMALL = {"n_samples": 120, "width": 4, "epochs": 40}
HEAVY = {"n_samples": 2000, "depth": 6, "width": 32, "batch_size": 8, "epochs": 5000, "layer": 6,
         "epochs_per_update": 50, "update_rate": 20}


# per-client cap ---------------------------------------------------------------------------

def test_one_client_past_its_cap_is_refused_with_a_message():
    with ServerThread(settings=Settings(max_per_client=2)) as url, \
            httpx.Client(base_url=url, timeout=20) as c:
        first = [c.post("/api/sessions", json=SMALL) for _ in range(2)]
        assert [r.status_code for r in first] == [201, 201]
        r = c.post("/api/sessions", json=SMALL)
        assert r.status_code == 429
        assert "too many sessions from 127.0.0.1" in r.json()["detail"] and "at most 2" in r.json()["detail"]
        c.delete(f"/api/sessions/{first[0].json()['session']}")  # closing a tab frees a place
        assert c.post("/api/sessions", json=SMALL).status_code == 201


def test_the_cap_is_per_client_address():
    async def scenario():
        m = SessionManager(Settings(max_per_client=1, max_sessions=10))
        cfg = parse_config(SMALL)
        await m.create(cfg, client="10.0.0.1")
        with pytest.raises(SessionLimitError, match="10.0.0.1"):
            await m.create(cfg, client="10.0.0.1")
        await m.create(cfg, client="10.0.0.2")  # another student is not locked out
        m.close_all()
        return len(m.sessions)

    assert asyncio.run(scenario()) == 0


# expiry -----------------------------------------------------------------------------------

def test_an_open_event_stream_alone_does_not_keep_a_session_alive():
    settings = Settings(ttl_s=0.6, sweep_every_s=0.1)
    with ServerThread(settings=settings) as url, httpx.Client(base_url=url, timeout=20) as c:
        watched = c.post("/api/sessions", json=SMALL).json()["session"]
        used = c.post("/api/sessions", json=SMALL).json()["session"]
        events: list[str] = []

        def listen():
            with httpx.Client(base_url=url, timeout=20) as s, \
                    s.stream("GET", f"/api/sessions/{watched}/events") as r:
                for line in r.iter_lines():
                    events.append(line)
                    if line.startswith("event: gone"):
                        return

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        for _ in range(10):  # the other page sends its heartbeat
            time.sleep(0.15)
            assert c.post(f"/api/sessions/{used}/heartbeat", json={}).status_code == 200
        listener.join(timeout=5)
        assert "event: gone" in events  # the stream was told, then closed
        assert c.get(f"/api/sessions/{watched}").status_code == 404
        assert c.get(f"/api/sessions/{used}").status_code == 200


# fair scheduling --------------------------------------------------------------------------

def test_the_gate_serves_urgent_work_first_then_the_least_used_session():
    async def scenario():
        gate = FairGate(1)
        gate.used.update({"a": 5.0, "b": 1.0, "c": 10.0})
        await gate.acquire("holder")
        order: list[str] = []

        async def wait(key, urgent=False):
            await gate.acquire(key, urgent)
            order.append(key)
            gate.release(key, 0.0)

        tasks = [asyncio.create_task(wait("a")), asyncio.create_task(wait("b")),
                 asyncio.create_task(wait("c", urgent=True))]
        await asyncio.sleep(0)
        gate.release("holder", 0.0)
        await asyncio.gather(*tasks)
        return order, gate

    order, gate = asyncio.run(scenario())
    assert order == ["c", "b", "a"]  # request order was a, b, c
    # a newcomer starts at the account of the last slice served, not at zero
    assert gate.usage("newcomer") == gate.clock == 5.0


def test_the_gate_shares_time_by_work_not_by_turns():
    cost = {"big": 0.010, "small": 0.001}  # seconds charged per slice

    async def scenario():
        gate = FairGate(1)
        slices = {"big": 0, "small": 0}

        async def play(key):
            while sum(slices.values()) < 220:
                await gate.acquire(key)
                slices[key] += 1
                await asyncio.sleep(0)
                gate.release(key, cost[key])

        await asyncio.gather(play("big"), play("small"))
        return slices

    slices = asyncio.run(scenario())
    time_big, time_small = slices["big"] * cost["big"], slices["small"] * cost["small"]
    assert slices["big"] >= 10 and slices["small"] >= 10 * slices["big"] - 20
    assert abs(time_big - time_small) <= cost["big"] + cost["small"]  # equal shares of time


def test_two_playing_sessions_of_very_different_sizes_both_advance():
    with ServerThread(settings=Settings(workers=1)) as url, httpx.Client(base_url=url, timeout=20) as c:
        heavy = c.post("/api/sessions", json=HEAVY).json()["session"]
        small = c.post("/api/sessions", json={**SMALL, "epochs": 5000, "epochs_per_update": 50,
                                              "update_rate": 20}).json()["session"]
        for sid in (heavy, small):
            c.post(f"/api/sessions/{sid}/play", json={})
        time.sleep(2.0)
        paused = [_redrawn(c, sid, c.post(f"/api/sessions/{sid}/pause", json={}).json())
                  for sid in (heavy, small)]
    assert all(p["state"] == "paused" for p in paused)
    heavy_arm, small_snap = paused[0]["arms"][0], paused[1]
    # the big one is not starved: it trained (mid-epoch counts: one of its epochs is 188 steps per arm)
    assert heavy_arm["weights"] != heavy_arm["init"]
    # the cheap one is not held to the big one's pace: many epochs in the same 2 s
    assert small_snap["epoch"] >= 20, small_snap["epoch"]

def _redrawn(c, sid: str, snap: dict) -> dict:
    """The snapshot drawn after a pause (the pause answers at once with the last one drawn)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        now = c.get(f"/api/sessions/{sid}").json()
        if now["version"] > snap["version"]:
            return now
        time.sleep(0.05)
    return snap


def test_play_and_pause_answer_while_every_worker_is_busy():
    async def scenario():
        m = SessionManager(Settings(workers=1))
        s = await m.create(parse_config(SMALL), client="10.0.0.1")
        await m.gate.acquire("someone else's long slice")  # the only worker is taken
        await asyncio.wait_for(s.play(), 5)  # answered without a worker
        playing = json.loads(s.payload)["state"]
        await asyncio.wait_for(s.pause(), 5)
        paused = json.loads(s.payload)["state"]
        stepping = asyncio.create_task(s.step())  # a step needs the worker: it waits
        await asyncio.sleep(0.2)
        waited = not stepping.done()
        m.gate.release("someone else's long slice", 0.0)
        await asyncio.wait_for(stepping, 10)  # and goes first once it is free
        stepped = json.loads(s.payload)["epoch"]
        m.close_all()
        return playing, paused, waited, stepped

    assert asyncio.run(scenario()) == ("playing", "paused", True, 1)
