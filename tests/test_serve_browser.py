"""The playground in real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
sync_api = pytest.importorskip("playwright.sync_api")

from actscope.config import load_spec  # noqa: E402
from actscope.serve.server import ServerThread  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed (/usr/bin/chromium); `make test` installs it as root",
)


@pytest.fixture(scope="module")
def page():
    profile = tempfile.mkdtemp(prefix="actscope-chromium-")
    try:
        with ServerThread() as url, sync_api.sync_playwright() as pw:
            ctx = pw.chromium.launch_persistent_context(
                profile, executable_path=str(CHROMIUM), args=FLAGS, headless=True,
                viewport={"width": 1400, "height": 980}, accept_downloads=True,
                bypass_csp=True)  # the test's own predicates are evaluated JS; the page needs no eval
            pg = ctx.new_page()
            errors: list[str] = []
            pg.on("pageerror", lambda e: errors.append(str(e)))
            pg.base_url = url
            pg.js_errors = errors
            yield pg
            ctx.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def _drawn(pg, i: int) -> bool:
    """Whether boundary canvas ``i`` holds coloured pixels (not a blank canvas)."""
    return pg.evaluate("""(i) => {
        const c = document.getElementById(`boundary-${i}`);
        if (!c || c.dataset.drawn !== "1") return false;
        const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        let coloured = 0;
        for (let k = 0; k < d.length; k += 4) {
            const white = d[k] > 250 && d[k + 1] > 250 && d[k + 2] > 250;
            if (d[k + 3] > 0 && !white) coloured++;
        }
        return coloured > c.width * c.height / 4;
    }""", i)


def test_sigmoid_vs_relu_on_moons_play_seed_reset(page, tmp_path):
    pg = page
    # start from a link with other settings, then choose sigmoid vs ReLU on moons in the form
    pg.goto(f"{pg.base_url}/?act_a=tanh&act_b=tanh&epochs=5000&epochs_per_update=10&update_rate=20")
    pg.wait_for_selector("#acc-1")
    assert pg.text_content("#arm-0 .act") == "tanh"
    pg.select_option("select[name=dataset]", "moons")
    pg.select_option("select[name=act_a]", "sigmoid")
    pg.select_option("select[name=act_b]", "relu")
    pg.wait_for_function("document.querySelector('#arm-0 .act').textContent === 'sigmoid'"
                         " && document.querySelector('#arm-1 .act').textContent === 'relu'")
    pg.wait_for_function("location.search.includes('act_a=sigmoid')"
                         " && location.search.includes('act_b=relu')")
    init_before = [pg.text_content(f"#arm-{i} .init") for i in (0, 1)]

    pg.click("#play")
    pg.wait_for_function("Number(document.getElementById('epoch').textContent) >= 150", timeout=60_000)
    for i in (0, 1):
        assert _drawn(pg, i), f"boundary {i} not drawn"
        # read value and text in one go: training goes on and updates them meanwhile
        value, text = pg.evaluate(
            "i => { const e = document.getElementById('acc-' + i);"
            " return [e.dataset.value, e.textContent]; }", i)
        acc = float(value)
        assert 0.5 < acc <= 1.0
        assert text == f"{acc:.3f}"
    assert len(pg.query_selector_all("#arm-1 .neurons canvas")) == 8
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / "playground.png"), full_page=True)
    pg.click("#play")  # pause
    pg.wait_for_function("document.getElementById('state').textContent === 'paused'")

    # the TOML download loads with actscope's own config loader
    with pg.expect_download() as dl:
        pg.click("#export")
    path = tmp_path / "exported.toml"
    dl.value.save_as(path)
    spec = load_spec(path)
    assert [a.activation for a in spec.arms] == ["sigmoid", "relu"] and spec.seeds.as_list() == [42]

    # a new seed: new initial weights, back at epoch 0
    pg.fill("input[name=seed]", "7")
    pg.press("input[name=seed]", "Tab")
    pg.wait_for_function("document.getElementById('epoch').textContent === '0'"
                         f" && document.querySelector('#arm-0 .init').textContent !== '{init_before[0]}'")
    init_seed7 = [pg.text_content(f"#arm-{i} .init") for i in (0, 1)]
    assert init_seed7 != init_before
    pg.wait_for_function("location.search.includes('seed=7')")

    # train a little, then reset: epoch 0 with the same initial weights as before training
    pg.click("#step")
    pg.click("#step")
    pg.wait_for_function("document.getElementById('epoch').textContent === '2'")
    pg.click("#reset")
    pg.wait_for_function("document.getElementById('epoch').textContent === '0'")
    assert [pg.text_content(f"#arm-{i} .init") for i in (0, 1)] == init_seed7
    assert pg.get_attribute("#boundary-0", "data-epoch") == "0"
    pg.screenshot(path=str(ARTIFACTS / "playground-after-reset.png"), full_page=True)

    # the URL carries the whole state: a fresh page opens the same setup
    shared = pg.url
    pg.goto("about:blank")
    pg.goto(shared)
    pg.wait_for_function("document.querySelector('#arm-1 .act') && "
                         "document.querySelector('#arm-1 .act').textContent === 'relu'")
    assert pg.input_value("input[name=seed]") == "7"
    assert pg.input_value("select[name=act_a]") == "sigmoid"
    assert [pg.text_content(f"#arm-{i} .init") for i in (0, 1)] == init_seed7
    assert pg.js_errors == []


def test_a_refused_setting_shows_the_servers_message(page):
    pg = page
    pg.goto(f"{pg.base_url}/")
    pg.wait_for_selector("#acc-0")
    pg.fill("input[name=width]", "999")
    pg.press("input[name=width]", "Tab")
    pg.wait_for_selector("#error:not([hidden])")
    assert pg.text_content("#error").startswith("width = 999")
    assert "invalid" in pg.get_attribute("input[name=width]", "class")
    assert pg.js_errors == []
