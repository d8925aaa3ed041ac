"""The learners' playground in headless Chromium (Playwright): a formula typed and trained,
points uploaded, the weights downloaded and checked against the server's, the banner when the
server stops and the offer to resume after it restarts, and the page under its own CSP."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
sync_api = pytest.importorskip("playwright.sync_api")

from actscope.serve.server import ServerThread, free_port  # noqa: E402
from actscope.serve.session import Settings  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MISH = "x * tanh(log(1 + exp(x)))"
expect = sync_api.expect

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed (/usr/bin/chromium); `make test` installs it as root",
)


def _browser(pw, profile: str, bypass_csp: bool = True):
    return pw.chromium.launch_persistent_context(
        profile, executable_path=str(CHROMIUM), args=FLAGS, headless=True,
        viewport={"width": 1400, "height": 980}, accept_downloads=True, bypass_csp=bypass_csp)


def _watch(pg) -> list[str]:
    """Page errors and console errors (CSP violations are reported there) of ``pg``."""
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return errors


@pytest.fixture(scope="module")
def pw():
    """One Playwright for the module (the sync API runs one at a time)."""
    with sync_api.sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def served(pw):
    """A server thread (its sessions are read directly) and a page on it."""
    profile = tempfile.mkdtemp(prefix="actscope-chromium-")
    thread = ServerThread(settings=Settings(max_per_client=100))
    try:
        with thread as url:
            ctx = _browser(pw, profile)
            pg = ctx.new_page()
            pg.base_url = url
            yield thread, pg
            ctx.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def _epoch(pg) -> int:
    return int(pg.text_content("#epoch"))


def _sid(pg) -> str:
    return pg.get_attribute("#weights", "href").split("/")[3]


def test_a_typed_formula_trains_and_a_bad_one_shows_the_caret_beside_its_box(served):
    _, pg = served
    pg.goto(f"{pg.base_url}/?depth=2&epochs=400&epochs_per_update=10&update_rate=20")
    pg.wait_for_selector("#acc-1")
    pg.fill("input[name=formula_a]", "x * tanh(")
    pg.press("input[name=formula_a]", "Tab")
    pg.wait_for_selector("#formula-error-a:not([hidden])")
    assert "‸" in pg.text_content("#formula-error-a") and "column" in pg.text_content("#formula-error-a")
    assert pg.is_hidden("#error")
    pg.fill("input[name=formula_a]", MISH)
    pg.press("input[name=formula_a]", "Tab")
    pg.wait_for_function(f"document.querySelector('#arm-0 .act').textContent === 'f(x) = {MISH}'")
    # the live stream may show the new formula a moment before the PUT's reply clears the error
    pg.wait_for_selector("#formula-error-a", state="hidden", timeout=10_000)
    assert pg.input_value("select[name=act_a]") == ""  # the list says "(formula)"
    pg.click("#play")
    pg.wait_for_function("Number(document.getElementById('epoch').textContent) >= 60", timeout=60_000)
    pg.click("#play")
    pg.wait_for_function("document.getElementById('state').textContent === 'paused'")
    acc = float(pg.get_attribute("#acc-0", "data-value"))
    assert 0.7 < acc <= 1.0
    assert pg.get_attribute("#gradients-0", "data-layers") == "3"
    assert "act_a=f%28x%29" in pg.url  # the link carries the formula
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / "playground-learners.png"), full_page=True)


def test_uploaded_points_are_trained_and_a_bad_file_is_named(served, tmp_path):
    _, pg = served
    pg.goto(f"{pg.base_url}/?optimizer=adam&lr=0.05&epochs=60&epochs_per_update=20&update_rate=20")
    pg.wait_for_selector("#acc-1")
    rng = np.random.default_rng(1)
    y = np.arange(60) % 2
    X = rng.normal(size=(60, 2)) * 0.5 + np.c_[3 * y - 1.5, np.zeros(60)]
    good = tmp_path / "blobs.csv"
    good.write_text("a,b,label\n" + "".join(f"{p:.3f},{q:.3f},{c}\n" for (p, q), c in zip(X, y)))
    pg.set_input_files("#upload", str(good))
    pg.wait_for_function("document.querySelector('select[name=dataset]').value === 'upload'")
    assert "blobs.csv, 60 rows" in pg.text_content("select[name=dataset] option[value=upload]")
    pg.click("#play")
    pg.wait_for_function("document.getElementById('state').textContent === 'finished'", timeout=60_000)
    assert float(pg.get_attribute("#acc-1", "data-value")) >= 0.9  # two separated clusters
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,label\n" + "1.0,2.0,0\n" * 10 + "1.0,oops,1\n" + "2.0,1.0,1\n" * 10)
    pg.set_input_files("#upload", str(bad))
    pg.wait_for_selector("#upload-error:not([hidden])")
    assert pg.text_content("#upload-error").startswith("bad.csv: line 12, column 'b'")


def test_the_downloaded_weights_are_the_servers(served, tmp_path):
    thread, pg = served
    pg.goto(f"{pg.base_url}/?act_b=leaky_relu(0.1)&depth=3&width=5")
    pg.wait_for_selector("#acc-1")
    pg.click("#step")
    pg.wait_for_function("document.getElementById('epoch').textContent === '1'")
    with pg.expect_download() as dl:
        pg.click("#weights")
    path = tmp_path / "weights.json"
    dl.value.save_as(path)
    doc = json.loads(path.read_text())
    tr = thread.app.state.manager.sessions[_sid(pg)].trainer
    assert doc["epoch"] == 1 and [a["activation"] for a in doc["arms"]] == ["sigmoid", "leaky_relu(0.1)"]
    for arm_doc, arm in zip(doc["arms"], tr.arms):
        params = tr.engine.to_numpy(arm.params)
        assert [lay["shape"] for lay in arm_doc["layers"]] == [[2, 5], [5, 5], [5, 5], [5, 1]]
        for lay, (W, b) in zip(arm_doc["layers"], params):
            np.testing.assert_array_equal(np.array(lay["W"]), W[0])
            np.testing.assert_array_equal(np.array(lay["b"]), b[0])


def test_a_stopped_server_shows_a_banner_and_a_restart_offers_to_resume(pw):
    port = free_port()
    profile = tempfile.mkdtemp(prefix="actscope-chromium-")
    try:
        if True:
            ctx = _browser(pw, profile)
            pg = ctx.new_page()
            errors = _watch(pg)
            first = ServerThread(port=port)
            url = first.__enter__()
            try:
                pg.goto(f"{url}/?act_a=leaky_relu(0.1)&epochs=5000&update_rate=5&epochs_per_update=1")
                pg.wait_for_selector("#acc-1")
                pg.click("#play")
                pg.wait_for_function("document.getElementById('state').textContent === 'playing'")
            finally:
                first.__exit__(None, None, None)
            pg.wait_for_selector("#banner:not([hidden])", timeout=20_000)
            assert "Connection to the server lost" in pg.text_content("#banner-text")
            assert pg.text_content("#state") == "offline" and pg.is_hidden("#resume")
            lost_at = _epoch(pg)
            with ServerThread(port=port):
                pg.wait_for_selector("#resume:not([hidden])", timeout=20_000)
                text = pg.text_content("#banner-text")
                assert f"epoch {lost_at} of both arms" in text and "was lost" in text
                assert pg.text_content("#state") == "lost"
                pg.click("#resume")
                pg.wait_for_selector("#banner", state="hidden")
                pg.wait_for_function("document.getElementById('state').textContent === 'paused'")
                assert _epoch(pg) == 0
                assert pg.text_content("#arm-0 .act") == "leaky_relu(0.1)"  # the link's settings
            ctx.close()
        assert not [e for e in errors if "Content Security Policy" in e]
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def test_the_page_runs_under_its_content_security_policy(pw):
    """Without bypass_csp: no CSP violation, no script error, and training shows."""
    profile = tempfile.mkdtemp(prefix="actscope-chromium-")
    try:
        with ServerThread() as url:
            ctx = _browser(pw, profile, bypass_csp=False)
            pg = ctx.new_page()
            errors = _watch(pg)
            pg.goto(f"{url}/?act_a=f(x) = x * sigmoid(x)&epochs=20&epochs_per_update=5")
            pg.wait_for_selector("#acc-1")
            pg.click("#play")
            expect(pg.locator("#state")).to_have_text("finished", timeout=60_000)
            expect(pg.locator("#epoch")).to_have_text("20")
            assert pg.locator(".neurons canvas").count() == 16
            ctx.close()
        assert errors == []
    finally:
        shutil.rmtree(profile, ignore_errors=True)
