"""The playground's HTTP API: validation, sessions, actions, events, export."""

from __future__ import annotations

import json
import time
import warnings

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from actscope.config import load_spec  # noqa: E402
from actscope.experiment import run_experiment  # noqa: E402
from actscope.serve.schema import LIMITS, PlaygroundConfig, parse_config  # noqa: E402
from actscope.serve.server import ServerThread  # noqa: E402
from actscope.serve.session import SessionManager, Settings  # noqa: E402
from actscope.serve.trainer import PairedTrainer  # noqa: E402
from actscope.serve.views import fingerprint, make_grids, snapshot  # noqa: E402

SMALL = {"n_samples": 120, "width": 4, "epochs": 40}


@pytest.fixture(scope="module")
def client():
    # every test shares one client address: lift the per-client cap (tested on its own)
    with ServerThread(settings=Settings(max_per_client=1000)) as url, \
            httpx.Client(base_url=url, timeout=20) as c:
        yield c


def new_session(client, **cfg) -> dict:
    r = client.post("/api/sessions", json={**SMALL, **cfg})
    assert r.status_code == 201, r.text
    return r.json()


def sid_of(snap: dict) -> str:
    return snap["session"]


# validation -------------------------------------------------------------------------------

def test_out_of_range_width_is_refused_with_the_field_value_and_limit(client):
    r = client.post("/api/sessions", json={"width": 500})
    assert r.status_code == 422
    msg = r.json()["detail"]
    assert msg.startswith("width = 500")
    assert str(LIMITS["width"][1]) in msg


def test_unknown_activation_is_refused_and_the_known_ones_listed(client):
    r = client.post("/api/sessions", json={"act_b": "swishy"})
    assert r.status_code == 422
    msg = r.json()["detail"]
    assert "act_b = 'swishy'" in msg and "unknown activation" in msg
    assert "relu" in msg and "sigmoid" in msg


def test_malformed_json_is_a_400_that_says_so(client):
    r = client.post("/api/sessions", content=b'{"width": 8,', headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert "malformed JSON" in r.json()["detail"]


@pytest.mark.parametrize("body, status, fragment", [
    ([1, 2], 422, "JSON object"),
    ({"colour": "red"}, 422, "unknown field 'colour'"),
    ({"depth": 2, "layer": 3}, 422, "layer = 3"),
    ({"n_samples": 10**6}, 422, "n_samples = 1000000"),
    ({"epochs_per_update": 0}, 422, "epochs_per_update = 0"),
    ({"update_rate": 1000}, 422, "update_rate = 1000"),
    ({"dataset": "no-such-data"}, 422, "dataset = 'no-such-data'"),
    ({"lr": "fast"}, 422, "lr = 'fast'"),
])
def test_every_limit_is_checked_on_the_server(client, body, status, fragment):
    r = client.post("/api/sessions", json=body)
    assert r.status_code == status, r.text
    assert fragment in r.json()["detail"]


def test_an_oversized_body_is_refused_before_it_is_read(client):
    r = client.post("/api/sessions", content=b"{" + b" " * 100_000 + b"}",
                    headers={"content-type": "application/json"})
    assert r.status_code == 413 and "at most" in r.json()["detail"]


def test_unknown_session_and_unknown_action(client):
    assert client.post("/api/sessions/nope/play", json={}).status_code == 404
    snap = new_session(client)
    r = client.post(f"/api/sessions/{sid_of(snap)}/explode", json={})
    assert r.status_code == 422 and "play" in r.json()["detail"]
    bad = client.put(f"/api/sessions/{sid_of(snap)}/config", json={**SMALL, "width": 0})
    assert bad.status_code == 422 and bad.json()["detail"].startswith("width = 0")


# training, reset and views ----------------------------------------------------------------

def test_step_reset_keeps_the_init_and_the_seed_changes_it(client):
    snap = new_session(client)
    sid = sid_of(snap)
    init = [a["init"] for a in snap["arms"]]
    assert [a["weights"] for a in snap["arms"]] == init
    for _ in range(3):
        stepped = client.post(f"/api/sessions/{sid}/step", json={}).json()
    assert stepped["epoch"] == 3
    assert all(a["weights"] != a["init"] for a in stepped["arms"])
    assert all(a["last"]["test_acc"] is not None for a in stepped["arms"])
    back = client.post(f"/api/sessions/{sid}/reset", json={}).json()
    assert back["epoch"] == 0
    assert [a["weights"] for a in back["arms"]] == init
    reseeded = client.put(f"/api/sessions/{sid}/config", json={**SMALL, "seed": 7}).json()
    assert all(a["init"] != i for a, i in zip(reseeded["arms"], init))
    again = client.put(f"/api/sessions/{sid}/config", json={**SMALL, "seed": 42}).json()
    assert [a["init"] for a in again["arms"]] == init


def test_view_settings_do_not_reset_training(client):
    snap = new_session(client, depth=3)
    sid = sid_of(snap)
    client.post(f"/api/sessions/{sid}/step", json={})
    after = client.put(f"/api/sessions/{sid}/config", json={**SMALL, "depth": 3, "layer": 3}).json()
    assert after["epoch"] == 1
    arm = after["arms"][1]
    assert arm["scatter"]["layer"] == 3 and arm["neurons"]["layer"] == 3
    assert len(arm["neurons"]["maps"]) == SMALL["width"]
    assert len(arm["signal"]["values"]) == 2 * 3 + 1
    assert len(arm["hidden_std"]) == 3


def test_the_two_arms_share_data_seed_and_batches_and_match_actscope_run(client, tmp_path):
    snap = new_session(client, act_a="sigmoid", act_b="relu", epochs=6)
    sid = sid_of(snap)
    done = _play_until_finished(client, sid)
    assert done["state"] == "finished" and done["epoch"] == 6
    toml = client.get(f"/api/sessions/{sid}/config.toml")
    assert toml.status_code == 200 and "attachment" in toml.headers["content-disposition"]
    path = tmp_path / "exported.toml"
    path.write_text(toml.text)
    spec = load_spec(path)
    assert [a.activation for a in spec.arms] == ["sigmoid", "relu"]
    assert spec.model.hidden == [SMALL["width"]] * 2 and spec.train.epochs == 6
    run = run_experiment(spec)
    for arm_run, arm_page in zip(run.arms.values(), done["arms"]):
        # same data, seed, init and batch order: bit-identical weights after 6 epochs
        assert fingerprint(arm_run.params) == arm_page["weights"]
        assert abs(arm_run.history.last("test/accuracy")[0] - arm_page["last"]["test_acc"]) < 1e-4


def _play_until_finished(client, sid: str) -> dict:
    snap = client.post(f"/api/sessions/{sid}/play", json={}).json()
    deadline = time.monotonic() + 30
    while snap["state"] != "finished" and time.monotonic() < deadline:
        time.sleep(0.05)
        snap = client.get(f"/api/sessions/{sid}").json()
    return snap


def test_more_epochs_after_finishing_continue_training(client):
    sid = sid_of(new_session(client, epochs=3))
    assert _play_until_finished(client, sid)["epoch"] == 3
    assert client.post(f"/api/sessions/{sid}/play", json={}).json()["state"] == "finished"
    more = client.put(f"/api/sessions/{sid}/config", json={**SMALL, "epochs": 5}).json()
    assert (more["state"], more["epoch"]) == ("paused", 3)
    done = _play_until_finished(client, sid)
    assert (done["state"], done["epoch"]) == ("finished", 5)
    assert len(done["arms"][0]["curves"]["test_acc"]) == 5


def test_every_offered_dataset_trains_and_exports(client, tmp_path):
    offered = client.get("/api/options").json()["datasets"]
    assert {"moons", "circles", "xor", "spiral", "blobs"} <= set(offered)
    for name in offered:
        snap = new_session(client, dataset=name, noise=0.1)
        stepped = client.post(f"/api/sessions/{sid_of(snap)}/step", json={}).json()
        assert stepped["epoch"] == 1 and stepped["data"]["name"] == name
        assert set(stepped["data"]["train"]["y"]) == {0, 1}
        b = stepped["arms"][0]["boundary"]
        assert len(b["data"]) > 0 and b["nx"] * b["ny"] > 1000
        path = tmp_path / f"{name}.toml"
        path.write_text(client.get(f"/api/sessions/{sid_of(snap)}/config.toml").text)
        assert load_spec(path).data.name == name
        client.delete(f"/api/sessions/{sid_of(snap)}")
    r = client.post("/api/sessions", json={"dataset": "breast_cancer"})
    assert r.status_code == 422 and "2-D two-class" in r.json()["detail"]


def test_a_diverged_arm_is_reported_not_drawn_from_nan():
    cfg = parse_config({"lr": 10, "act_a": "sigmoid", "act_b": "relu", "width": 32, "depth": 6,
                        "layer": 6, "epochs": 30})
    tr = PairedTrainer(cfg.to_experiment())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warnings leak out of the server
        tr.advance(10_000, 30, 30)
        snap = json.loads(json.dumps(snapshot(tr, 6, make_grids(tr)), allow_nan=False))
    relu = snap["arms"][1]
    assert relu["diverged"] and relu["last"]["test_acc"] is None
    assert not snap["arms"][0]["diverged"] and snap["arms"][0]["last"]["test_acc"] is not None


def test_export_without_a_session_is_valid_toml(client, tmp_path):
    r = client.post("/api/export.toml", json={"act_a": "tanh", "act_b": "relu", "depth": 3, "width": 5})
    assert r.status_code == 200
    path = tmp_path / "x.toml"
    path.write_text(r.text)
    spec = load_spec(path)
    assert spec.model.hidden == [5, 5, 5]
    assert {a.activation for a in spec.arms} == {"tanh", "relu"}


def test_events_stream_snapshots_while_playing_and_sessions_are_isolated(client):
    a = sid_of(new_session(client, epochs_per_update=2, update_rate=20))
    b = sid_of(new_session(client))
    client.post(f"/api/sessions/{a}/play", json={})
    epochs = []
    with client.stream("GET", f"/api/sessions/{a}/events") as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        for line in resp.iter_lines():
            if line.startswith("data:"):
                epochs.append(json.loads(line[5:])["epoch"])
                if epochs[-1] >= 10 or len(epochs) > 50:
                    break
    client.post(f"/api/sessions/{a}/pause", json={})
    assert epochs[-1] >= 10
    assert epochs == sorted(epochs)
    assert client.get(f"/api/sessions/{b}").json()["epoch"] == 0


def test_server_stays_responsive_with_several_sessions_training(client):
    heavy = {"n_samples": 2000, "depth": 6, "width": 32, "batch_size": 8, "epochs": 5000,
             "epochs_per_update": 50, "update_rate": 20, "layer": 6}
    sids = [sid_of(new_session(client, **heavy)) for _ in range(4)]
    for sid in sids:
        client.post(f"/api/sessions/{sid}/play", json={})
    worst = 0.0
    try:
        for _ in range(10):
            t = time.perf_counter()
            assert client.get("/api/options").status_code == 200
            worst = max(worst, time.perf_counter() - t)
            time.sleep(0.1)
        states = [client.get(f"/api/sessions/{s}").json() for s in sids]
    finally:
        for sid in sids:
            client.delete(f"/api/sessions/{sid}")
    assert all(s["state"] == "playing" for s in states)
    assert worst < 2.0, f"a request took {worst:.2f} s while 4 sessions trained"


# lifetime ---------------------------------------------------------------------------------

def test_abandoned_sessions_are_swept():
    settings = Settings(ttl_s=0.3, sweep_every_s=0.1, max_sessions=2)
    with ServerThread(settings=settings) as url, httpx.Client(base_url=url, timeout=20) as c:
        sid = sid_of(new_session(c))
        assert c.get(f"/api/sessions/{sid}").status_code == 200
        time.sleep(1.0)
        assert c.get(f"/api/sessions/{sid}").status_code == 404


def test_session_count_is_bounded():
    with ServerThread(settings=Settings(max_sessions=2)) as url, httpx.Client(base_url=url, timeout=20) as c:
        new_session(c)
        new_session(c)
        r = c.post("/api/sessions", json=SMALL)
        assert r.status_code == 429 and "too many sessions" in r.json()["detail"]


def test_sweep_drops_only_idle_sessions():
    m = SessionManager(Settings(ttl_s=10))

    class Fake:
        def __init__(self, seen):
            self.last_seen, self.closed = seen, False

        def close(self):
            self.closed = True

    m.sessions = {"old": Fake(0.0), "new": Fake(95.0)}
    old = m.sessions["old"]
    assert m.sweep(now=100.0) == ["old"]
    assert list(m.sessions) == ["new"] and old.closed


def test_defaults_match_the_first_article():
    cfg = PlaygroundConfig()
    spec = cfg.to_experiment()
    assert spec.data.name == "moons" and spec.model.hidden == [8, 8]
    assert (spec.train.optimizer, spec.train.lr, spec.train.batch_size) == ("sgd", 0.05, 64)


def test_cli_serve_help_names_localhost():
    from click.testing import CliRunner

    from actscope.cli import main

    out = CliRunner().invoke(main, ["serve", "--help"])
    assert out.exit_code == 0 and "127.0.0.1" in out.output and "--port" in out.output


def test_cli_serve_without_the_web_extra_says_how_to_install(monkeypatch):
    import sys

    from click.testing import CliRunner

    from actscope.cli import main

    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if the extra were not installed
    for name in ("actscope.serve.server", "actscope.serve.app"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    out = CliRunner().invoke(main, ["serve", "--port", "8765"])
    assert out.exit_code == 2
    assert "pip install 'actscope[serve]'" in out.output and "uvicorn" in out.output
