"""How many playing playground sessions one machine serves, and how fast controls answer.

A playground server runs in its own process (as ``actscope serve`` does: single-threaded
BLAS, the default two workers). For N = 1, 2, 4, ... this script opens N sessions with the
default settings (only ``epochs`` raised so that none finishes during the measurement),
presses play on all of them, and over a window of ``--window`` seconds measures

  epochs/s    each session's finished epochs per second (the slowest and the median; the
              ratio is against one session alone, measured first in the same run)
  controls    the latency of pause and play presses sent to random sessions throughout
              the window (p50 and p95, milliseconds)

The served figure is the largest N whose slowest session still gets at least ``--min-rate``
epochs per second while controls answer within ``--max-p95`` ms at p95. The machine's load
(``os.getloadavg``) is printed before and after: the figure is only as good as the machine
was idle.

    python benchmarks/bench_playground_load.py [--levels 1,2,4,6,8,12,16] [--window 6]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import threading
import time

import httpx

SERVER = ("from actscope.serve.server import serve; from actscope.serve.session import Settings; "
          "serve(port={port}, settings=Settings(max_per_client=1000, max_sessions=1000))")
CONFIG = {"epochs": 5000}  # the defaults otherwise: moons, 400 points, 2 x 8, 5 epochs x 10 updates/s


def start_server(port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", SERVER.format(port=port)])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/options", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the playground server did not start")


def epochs(client: httpx.Client, sids: list[str]) -> list[int]:
    return [client.get(f"/api/sessions/{sid}").json()["epoch"] for sid in sids]


def press_controls(url: str, sids: list[str], stop: threading.Event, latencies: list[float]) -> None:
    """Pause then play a random session every 100 ms, timing each press."""
    rng = random.Random(0)
    with httpx.Client(base_url=url, timeout=30) as c:
        while not stop.is_set():
            sid = rng.choice(sids)
            for action in ("pause", "play"):
                t = time.perf_counter()
                c.post(f"/api/sessions/{sid}/{action}", json={}).raise_for_status()
                latencies.append(time.perf_counter() - t)
            stop.wait(0.1)


def level(url: str, n: int, window: float) -> dict:
    """Measure N default sessions playing together."""
    with httpx.Client(base_url=url, timeout=30) as c:
        sids = [c.post("/api/sessions", json=CONFIG).json()["session"] for _ in range(n)]
        for sid in sids:
            c.post(f"/api/sessions/{sid}/play", json={}).raise_for_status()
        time.sleep(1.0)  # warm up
        latencies: list[float] = []
        stop = threading.Event()
        presser = threading.Thread(target=press_controls, args=(url, sids, stop, latencies))
        before, t0 = epochs(c, sids), time.perf_counter()
        presser.start()
        time.sleep(window)
        after, t1 = epochs(c, sids), time.perf_counter()
        stop.set()
        presser.join()
        for sid in sids:
            c.delete(f"/api/sessions/{sid}")
    rates = [(b - a) / (t1 - t0) for a, b in zip(before, after)]
    ms = sorted(1000 * x for x in latencies)
    return {"n": n, "min": min(rates), "median": statistics.median(rates),
            "p50": ms[len(ms) // 2], "p95": ms[int(0.95 * (len(ms) - 1))], "presses": len(ms)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--levels", default="1,2,4,6,8,12,16")
    ap.add_argument("--window", type=float, default=6.0)
    ap.add_argument("--min-rate", type=float, default=10.0, help="epochs/s each session must keep")
    ap.add_argument("--max-p95", type=float, default=200.0, help="control latency bound, ms")
    ap.add_argument("--port", type=int, default=8799)
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    server = start_server(args.port)
    url = f"http://127.0.0.1:{args.port}"
    try:
        rows = [level(url, int(n), args.window) for n in args.levels.split(",")]
    finally:
        server.terminate()
        server.wait(timeout=30)
    alone = rows[0]["median"]
    heads = ("sessions", "min ep/s", "median", "vs alone", "p50 ms", "p95 ms", "presses")
    print(" ".join(f"{h:>9}" for h in heads))
    served = 0
    for r in rows:
        ok = r["min"] >= args.min_rate and r["p95"] <= args.max_p95
        served = r["n"] if ok else served
        print(f"{r['n']:>9} {r['min']:>9.1f} {r['median']:>9.1f} {r['min'] / alone:>8.2f}x "
              f"{r['p50']:>9.1f} {r['p95']:>9.1f} {r['presses']:>9}  {'ok' if ok else '-'}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(f"served: {served} concurrent default sessions with >= {args.min_rate:g} epochs/s each "
          f"and controls within {args.max_p95:g} ms at p95")


if __name__ == "__main__":
    main()
