"""The playground safe by default: body limits, Host allowlist, cross-site actions, the access
token off localhost, security headers, no API docs, strict validation with parse limits."""

from __future__ import annotations

import select
import socket
import time

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from actscope.serve.body import MAX_DEPTH  # noqa: E402
from actscope.serve.guards import LOOPBACK_HOSTS, MAX_BODY, Access  # noqa: E402
from actscope.serve.server import ServerThread, announce  # noqa: E402
from actscope.serve.session import Settings  # noqa: E402

SMALL = {"n_samples": 120, "width": 4, "epochs": 40}


@pytest.fixture(scope="module")
def server():
    with ServerThread(settings=Settings(max_per_client=1000)) as url:
        yield url


@pytest.fixture()
def client(server):
    with httpx.Client(base_url=server, timeout=20) as c:
        yield c


def _session(client) -> str:
    r = client.post("/api/sessions", json=SMALL)
    assert r.status_code == 201, r.text
    return r.json()["session"]


# the body limit counts bytes read -----------------------------------------------------------

def test_a_chunked_oversize_body_is_refused_before_it_is_all_sent(server):
    host, port = server.removeprefix("http://").split(":")
    chunk = b"4000\r\n" + b" " * 0x4000 + b"\r\n"  # 16 KiB per chunk, no Content-Length
    sent, reply = 0, b""
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST /api/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        deadline = time.monotonic() + 10
        while not reply and time.monotonic() < deadline and sent < 64 * MAX_BODY:
            try:
                sock.sendall(chunk)
                sent += 0x4000
            except OSError:  # the server answered and closed: stop sending
                break
            if select.select([sock], [], [], 0.05)[0]:
                reply = sock.recv(65536)
        while b'"}' not in reply:  # the rest of the reply (headers and body may come apart)
            more = sock.recv(65536)
            if not more:
                break
            reply += more
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert b"at most 16384 bytes" in reply
    # refused long before the end (1 MiB was on offer; the terminating chunk was never sent)
    assert sent <= 8 * MAX_BODY


def test_a_large_invalid_value_is_not_echoed_back(client):
    r = client.post("/api/sessions", json={"dataset": "x" * 12_000})
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert detail.startswith("dataset = 'xxxx") and "12002 characters" in detail
    assert len(r.content) < 600
    for bad in (client.get("/api/sessions/" + "y" * 5000),
                client.post("/api/sessions/nope/" + "z" * 5000, json={})):
        assert bad.status_code in (404, 422) and len(bad.content) < 600


# Host allowlist, cross-site actions ---------------------------------------------------------

@pytest.mark.parametrize("method, path", [("GET", "/"), ("GET", "/api/options"), ("POST", "/api/sessions")])
def test_a_foreign_host_is_refused(client, method, path):
    r = client.request(method, path, json=SMALL if method == "POST" else None,
                       headers={"Host": "evil.example"})
    assert r.status_code == 400
    assert "Host = 'evil.example'" in r.json()["detail"] and "localhost" in r.json()["detail"]


def test_the_loopback_names_are_served(client, server):
    port = server.rsplit(":", 1)[1]
    for name in ("localhost", "127.0.0.1", "[::1]"):
        assert client.get("/api/options", headers={"Host": f"{name}:{port}"}).status_code == 200


@pytest.mark.parametrize("headers, status, fragment", [
    ({"Origin": "http://evil.example"}, 403, "Origin = 'http://evil.example'"),
    ({"Origin": "null"}, 403, "Origin = 'null'"),
    ({"Sec-Fetch-Site": "cross-site"}, 403, "Sec-Fetch-Site = 'cross-site'"),
    ({"Sec-Fetch-Site": "same-site"}, 403, "Sec-Fetch-Site = 'same-site'"),
    ({"content-type": "text/plain"}, 415, "content-type = 'text/plain'"),
])
def test_a_cross_site_action_does_not_start_training(client, headers, status, fragment):
    sid = _session(client)
    r = client.post(f"/api/sessions/{sid}/play", content=b"{}",
                    headers={"content-type": "application/json", **headers})
    assert r.status_code == status and fragment in r.json()["detail"]
    assert client.get(f"/api/sessions/{sid}").json()["state"] == "paused"
    assert client.delete(f"/api/sessions/{sid}", headers={"Origin": "http://evil.example"}).status_code == 403


def test_the_pages_own_origin_may_act(client, server):
    sid = _session(client)
    r = client.post(f"/api/sessions/{sid}/pause", json={},
                    headers={"Origin": server, "Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 200 and r.json()["state"] == "paused"


# security headers, no API docs --------------------------------------------------------------

def test_every_response_carries_security_headers(client):
    for path in ("/", "/static/app.js", "/api/options", "/api/sessions/nope"):
        h = client.get(path).headers
        csp = h["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "http" not in csp and "unsafe" not in csp  # no outside source, no inline code
        assert h["x-frame-options"] == "DENY" and h["x-content-type-options"] == "nosniff"
        assert h["referrer-policy"] == "no-referrer"


def test_the_api_docs_are_off(client):
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert client.get(path).status_code == 404


# validation: strict types, NaN, parse limits ------------------------------------------------

@pytest.mark.parametrize("raw, status, fragment", [
    (b'{"width": true}', 422, "width = True: Input should be a valid integer"),
    (b'{"width": "8"}', 422, "width = '8': Input should be a valid integer"),
    (b'{"lr": NaN}', 422, "lr = nan: Input should be a finite number"),
    (b'{"noise": Infinity}', 422, "noise = inf: Input should be a finite number"),
    (b'{"width": ' + b"7" * 5000 + b"}", 422, "width = <a 5000-digit integer>"),
    (b"[" * 5000 + b"]" * 5000, 400, f"nested 5000 levels deep refused: at most {MAX_DEPTH}"),
    (b'{"width": 8,', 400, "malformed JSON"),
])
def test_bodies_are_parsed_strictly_and_with_limits(client, raw, status, fragment):
    r = client.post("/api/sessions", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    assert fragment in r.json()["detail"]
    assert len(r.content) < 600


# the access token off localhost -------------------------------------------------------------

def test_a_non_loopback_bind_needs_a_token_and_names_its_hosts():
    assert Access.for_bind("127.0.0.1").token is None
    wild = Access.for_bind("0.0.0.0")
    assert len(wild.token) >= 20 and wild.allowed_hosts == ("*",)
    assert Access.for_bind("0.0.0.0").token != wild.token  # random each time
    lan = Access.for_bind("192.168.1.5", ("class.local",))
    assert lan.token and set(lan.allowed_hosts) == {*LOOPBACK_HOSTS, "class.local", "192.168.1.5"}
    url, warning = announce("192.168.1.5", 8765, lan)
    assert url == f"http://192.168.1.5:8765/?token={lan.token}" and "warning" in warning
    assert announce("127.0.0.1", 8765, Access()) == ("http://127.0.0.1:8765/", None)


def test_without_the_token_nothing_is_served_and_the_printed_url_lets_the_page_in():
    access = Access.for_bind("0.0.0.0")  # what `serve --host 0.0.0.0` uses (tested on loopback)
    token = access.token
    with ServerThread(access=access) as url, httpx.Client(base_url=url, timeout=20) as c:
        for path in ("/", "/api/options", "/static/app.js"):
            r = c.get(path)
            assert r.status_code == 401 and "token" in r.json()["detail"]
        assert c.post("/api/sessions", json=SMALL).status_code == 401
        assert c.get("/api/options", headers={"X-Actscope-Token": "wrong"}).status_code == 401
        guess = c.get("/?token=wrong")  # a wrong token gets no cookie (nor the right token)
        assert guess.status_code == 401 and "set-cookie" not in guess.headers
        assert token not in guess.text and not c.cookies
        assert c.get("/api/options", headers={"X-Actscope-Token": token}).status_code == 200
        page = c.get(f"/?token={token}")  # the URL the server prints
        assert page.status_code == 200 and "SameSite=Strict" in page.headers["set-cookie"]
        assert c.post("/api/sessions", json=SMALL).status_code == 201  # the cookie carries it now


def test_cli_serve_off_localhost_warns_and_prints_a_token_url(monkeypatch):
    from click.testing import CliRunner

    import actscope.serve.server as server_module
    from actscope.cli import main

    calls = []
    monkeypatch.setattr(server_module, "serve", lambda **kw: calls.append(kw))
    out = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0", "--port", "9000",
                                    "--max-per-client", "3"])
    assert out.exit_code == 0, out.output
    token = calls[0]["access"].token
    assert "warning: listening on 0.0.0.0" in out.output
    assert f":9000/?token={token}" in out.output
    assert calls[0]["settings"].max_per_client == 3
    local = CliRunner().invoke(main, ["serve"])
    assert "warning" not in local.output and calls[1]["access"].token is None


def test_the_page_runs_under_its_csp_no_inline_code_or_outside_assets():
    import re
    from pathlib import Path

    import actscope.serve as serve_pkg

    static = Path(serve_pkg.__file__).parent / "static"
    html = (static / "index.html").read_text()
    assert not re.search(r"\son[a-z]+\s*=", html)  # inline event handlers
    assert not re.search(r"<script(?![^>]*\bsrc=)", html) and "style=" not in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html)  # every asset is served here
    assert not re.search(r"\beval\(|new Function\(", (static / "app.js").read_text())
