"""The playground without a server (``actscope playground build``): the JavaScript network
against the NumPy engine in Node (float64, 1e-9), the JavaScript dialect of the activation
expressions, the URL state and TOML export, the command line, and the built page in
headless Chromium opened from disk with every network request refused."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
import tomllib
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from actscope.activations import get_activation
from actscope.cli import main
from actscope.config import TrainSpec, parse_spec
from actscope.data.generators import load_dataset
from actscope.engines import get_engine
from actscope.engines.codegen.common import UnsupportedActivation
from actscope.engines.codegen.js_source import activations_module, js_expr
from actscope.nn.model import MLPSpec
from actscope.serve.schema import PlaygroundConfig
from actscope.static_site import BuildOptions, build_site
from actscope.static_site.bundle import dataset_entry, js_activations, seed_entry
from actscope.training.stepper import Stepper

NODE = shutil.which("node") or "/usr/bin/node"
CHROMIUM = Path("/usr/bin/chromium")
STATIC = resources.files("actscope.static_site") / "static"
needs_node = pytest.mark.skipif(not Path(NODE).exists(), reason="Node.js is not installed")
FORMULA = "f(x) = x * tanh(softplus(x))"

DRIVER = """
const fs = require("fs");
const [actsPath, netPath, cfgPath] = process.argv.slice(2);
const ACTS = require(actsPath), net = require(netPath);
const cfg = JSON.parse(fs.readFileSync(cfgPath, "utf8"));
const acts = cfg.activations.map((n) => ({ ...ACTS[n], ...cfg.meta[n] }));
const seed = { raw: net.decodeF64(cfg.seed.raw), batch: cfg.seed.batch };
const arm = new net.Arm(cfg.spec, acts, cfg.data, seed);
const init = arm.layers.map((L) => ({ W: Array.from(L.W), b: Array.from(L.b) }));
for (let e = 0; e < cfg.epochs; e++) arm.runEpoch();
const w = arm.layers.map((L) => ({ W: Array.from(L.W), b: Array.from(L.b) }));
process.stdout.write(JSON.stringify({ history: arm.history, init, weights: w }));
"""


def _node(script: str, *args: str, tmp: Path) -> str:
    path = tmp / "driver.js"
    path.write_text(script)
    return subprocess.run([NODE, str(path), *args], capture_output=True, text=True, check=True,
                          timeout=120).stdout


def _js_train(tmp: Path, acts: list[str], hidden, init, train: TrainSpec, cfg: PlaygroundConfig,
              seed: int, epochs: int) -> dict:
    js, meta = js_activations(dict.fromkeys(acts))
    (tmp / "acts.js").write_text(js)
    spec = {"hidden": list(hidden), "init": init,
            "train": {"optimizer": train.optimizer, "lr": train.lr, "batch_size": train.batch_size,
                      "momentum": train.momentum, "betas": list(train.betas), "eps": train.eps}}
    c = {"activations": acts, "meta": meta, "seed": seed_entry(seed), "data": dataset_entry(cfg),
         "epochs": epochs, "spec": spec}
    (tmp / "cfg.json").write_text(json.dumps(c))
    out = _node(DRIVER, str(tmp / "acts.js"), str(STATIC / "net.js"), str(tmp / "cfg.json"), tmp=tmp)
    return json.loads(out)


CASES = [  # (activations per hidden layer, optimizer, init, dataset, batch, hidden)
    (["relu", "relu"], "sgd", "auto", "moons", 64, [8, 8]),
    (["sigmoid", "sigmoid"], "adam", "auto", "circles", 50, [8, 8]),
    (["tanh", "tanh", "tanh"], "momentum", "xavier_normal", "xor", 64, [6, 5, 4]),
    (["leaky_relu(0.1)"], "nesterov", "he_normal", "spiral", 32, [16]),
    ([FORMULA, FORMULA], "sgd", "lecun_normal", "moons", 64, [8, 8]),
    (["f(x) = max(x, 0.1 * x) + sin(x)", "softsign"], "adam", "he", "moons", 128, [7, 5]),
    (["gelu", "f(x) = x * erf(x)"], "adam", "auto", "circles", 64, [8, 8]),
]


@needs_node
@pytest.mark.parametrize("acts,optimizer,init,dataset,batch,hidden", CASES)
def test_javascript_network_equals_numpy_engine(tmp_path, acts, optimizer, init, dataset, batch, hidden):
    """Per-epoch losses (running, train, test), accuracies and the final weights of the
    JavaScript network equal the NumPy engine's training loop to 1e-9, float64."""
    names = [get_activation(a).name for a in acts]
    cfg = PlaygroundConfig(dataset=dataset)
    data = load_dataset(cfg.to_experiment().data)
    epochs, seed = 6, 3
    train = TrainSpec(optimizer=optimizer, lr=0.05, epochs=epochs, batch_size=batch, eval_every=1)
    mlp = MLPSpec(n_inputs=2, hidden=hidden, activation=names, init=init)
    eng = get_engine("numpy")
    params0 = eng.init(mlp, [seed])
    st = Stepper(eng, mlp, params0, data, train, [seed])
    for _ in range(epochs):
        st.run_epoch()
    out = _js_train(tmp_path, names, hidden, init, train, cfg, seed, epochs)
    for L0, js in zip(params0, out["init"]):  # the same initial weights, from the embedded draws
        np.testing.assert_allclose(js["W"], L0.W[0].ravel(), rtol=0, atol=1e-15)
    h = st.history.values
    for js_key, key in [("running_loss", "train/running_loss"), ("train_loss", "train/loss"),
                        ("test_loss", "test/loss"), ("train_acc", "train/accuracy"),
                        ("test_acc", "test/accuracy"), ("running_accuracy", "train/running_accuracy")]:
        ref = h[key][:epochs, 0]
        assert np.all(np.isfinite(ref))
        np.testing.assert_allclose(out["history"][js_key], ref, rtol=0, atol=1e-9, err_msg=js_key)
    assert h["train/loss"][epochs - 1, 0] < h["train/loss"][0, 0] + 0.5  # it trained (not NaN, not frozen)
    for L, js in zip(st.params, out["weights"]):
        np.testing.assert_allclose(js["W"], L.W[0].ravel(), rtol=0, atol=1e-9)
        np.testing.assert_allclose(js["b"], L.b[0], rtol=0, atol=1e-9)
    assert not np.allclose(out["weights"][0]["W"], out["init"][0]["W"])


def _floats(values) -> np.ndarray:
    """JSON numbers back to floats (JSON writes NaN and infinities as null)."""
    return np.array([np.nan if v is None else v for v in values], dtype=float)


@needs_node
def test_a_diverging_arm_stops_where_the_numpy_engine_stops(tmp_path):
    """A member whose minibatch loss stops being finite keeps its weights from that step and
    records NaN, in both."""
    cfg = PlaygroundConfig()
    data = load_dataset(cfg.to_experiment().data)
    train = TrainSpec(optimizer="sgd", lr=10.0, epochs=3, batch_size=16, eval_every=1)
    mlp = MLPSpec(n_inputs=2, hidden=[32] * 4, activation="relu", init="he")
    eng = get_engine("numpy")
    st = Stepper(eng, mlp, eng.init(mlp, [3]), data, train, [3])
    for _ in range(3):
        st.run_epoch()
    assert st.diverged_epoch[0] == 0
    out = _js_train(tmp_path, ["relu"] * 4, [32] * 4, "he", train, cfg, 3, 3)
    for key in ("running_loss", "train_loss", "test_loss"):
        assert np.isnan(_floats(out["history"][key])).all()
    for L, js in zip(st.params, out["weights"]):
        w = _floats(js["W"])
        ref = L.W[0].ravel()
        assert np.array_equal(np.isfinite(w), np.isfinite(ref))
        np.testing.assert_allclose(w[np.isfinite(w)], ref[np.isfinite(ref)], rtol=1e-9, atol=1e-9)


@needs_node
def test_pcg64_permutations_equal_numpy(tmp_path):
    """net.js's PCG64 draws Generator.permutation bit for bit, epoch after epoch."""
    from actscope.seeding import batch_stream

    script = """
const net = require(process.argv[2]);
const st = JSON.parse(process.argv[3]);
const rng = new net.Pcg64(st);
const out = [];
for (const n of [300, 7, 1000, 2]) out.push(Array.from(rng.permutation(n)));
process.stdout.write(JSON.stringify(out));
"""
    ref = batch_stream(12345, "default")
    state = json.dumps(seed_entry(12345)["batch"])
    got = json.loads(_node(script, str(STATIC / "net.js"), state, tmp=tmp_path))
    for n, perm in zip([300, 7, 1000, 2], got):
        assert perm == ref.permutation(n).tolist()


@needs_node
def test_dialect_values_and_derivatives(tmp_path):
    """Each activation with a JavaScript form gives NumPy's f and f' on a grid of points."""
    names = ["relu", "sigmoid", "tanh", "elu", "selu", "silu", "mish", "softplus", "hard_tanh",
             "hard_sigmoid", "gaussian", "sine", "softsign", "gelu", "gelu_tanh", "leaky_relu(0.2)", FORMULA,
             "f(x) = x / (1 + abs(x)) + 0.5 * x**2"]
    acts = {get_activation(n).name: get_activation(n) for n in names}
    js, meta = js_activations(acts)
    assert set(meta) == set(acts)
    (tmp_path / "a.js").write_text(js)
    zs = np.concatenate([np.linspace(-6, 6, 97), [0.0, -1e-9, 3.0, -3.0]])
    script = """
const A = require(process.argv[2]);
const zs = JSON.parse(process.argv[3]);
const out = {};
for (const [k, v] of Object.entries(A)) out[k] = zs.map((z) => [v.f(z), v.df(z, v.f(z))]);
process.stdout.write(JSON.stringify(out));
"""
    got = json.loads(_node(script, str(tmp_path / "a.js"), json.dumps(zs.tolist()), tmp=tmp_path))
    for name, act in acts.items():
        vals = np.array(got[name])
        np.testing.assert_allclose(vals[:, 0], act.fn(zs), rtol=1e-12, atol=1e-14, err_msg=name)
        np.testing.assert_allclose(vals[:, 1], act.grad(zs), rtol=1e-12, atol=1e-14, err_msg=name)


def test_dialect_text_and_refusals():
    """Parameters become literals, conditionals ?:, softplus its stable expansion; what the
    scalar language cannot say is refused."""
    act = get_activation("leaky_relu(0.1)")
    assert js_expr(act.scalar[0], act.params) == "((z > 0.0) ? z : (0.1 * z))"
    assert "Math.log1p(Math.exp" in js_expr("softplus(z)", {})
    assert js_expr("z * ndtr(z)", {}).count("AS.erfc(") == 1
    for bad in ("foo(z)", "z % 2.0", "z.real", "beta * z"):
        with pytest.raises(UnsupportedActivation):
            js_expr(bad, {})
    assert '"relu"' in activations_module({"relu": (act.scalar, act.params)})


@needs_node
def test_erf_without_a_javascript_erf(tmp_path):
    """The prelude's erf and erfc agree with SciPy's within 1e-14 and 5e-14 relative on [-10, 10]
    (JavaScript has none), and have the right limits."""
    from scipy.special import erf, erfc

    from actscope.engines.codegen.js_source import PRELUDE

    xs = np.concatenate([np.linspace(-10, 10, 2001), [0.0, 1e-300, -1e-8, 1.4999999, 1.5, 27.5]])
    (tmp_path / "xs.json").write_text(json.dumps(xs.tolist()))
    script = PRELUDE + """
const xs = JSON.parse(require("fs").readFileSync(process.argv[2], "utf8"));
const ends = [AS.erf(Infinity), AS.erf(-Infinity), AS.erfc(Infinity), AS.erfc(-Infinity)];
process.stdout.write(JSON.stringify({ v: xs.map((x) => [AS.erf(x), AS.erfc(x)]), ends }));
"""
    got = json.loads(_node(script, str(tmp_path / "xs.json"), tmp=tmp_path))
    v = np.array(got["v"])
    np.testing.assert_allclose(v[:, 0], erf(xs), rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(v[:, 1], erfc(xs), rtol=5e-14, atol=1e-300)
    assert got["ends"] == [1, -1, 0, 2]


@needs_node
@pytest.mark.parametrize("settings", [
    {},
    {"dataset": "blobs", "act_a": "tanh", "act_b": "tanh", "optimizer": "adam", "lr": 0.01, "depth": 3},
    {"act_a": FORMULA, "act_b": "relu", "init": "he", "batch_size": 10, "epochs": 50},
])
def test_toml_export_is_the_served_playgrounds(tmp_path, settings):
    """state.js's TOML export parses to the ExperimentSpec the served playground exports."""
    cfg = PlaygroundConfig.model_construct(**{**PlaygroundConfig().model_dump(), **settings})
    bundle = {"defaults": cfg.model_dump(), "dataset_extras": {"blobs": {"centers": 2}}}
    script = """
const S = require(process.argv[2]);
const b = JSON.parse(process.argv[3]);
process.stdout.write(S.exportToml(b.defaults, b));
"""
    text = _node(script, str(STATIC / "state.js"), json.dumps(bundle), tmp=tmp_path)
    got = parse_spec(tomllib.loads(text), source="export.toml").model_dump()
    if "(" in cfg.act_a:  # a formula names no file: the arms are A and B, the experiment generic
        assert got["name"] == "playground-formula"
        assert [(a["name"], a["activation"]) for a in got["arms"]] == [("A", FORMULA), ("B", "relu")]
        assert got["model"]["activation"] == FORMULA
        cfg = cfg.model_copy(update={"act_a": "mish"})  # the same settings with a named activation
        got["model"]["activation"] = "mish"
        for key in ("name", "arms"):
            got.pop(key)
    want = cfg.to_experiment().model_dump()
    for key in set(want) - set(got):
        want.pop(key)
    assert got == want


@needs_node
def test_url_state_lists_every_error_and_keeps_the_rest(tmp_path):
    """A bad link reports each bad field (value and what is allowed) and keeps the good ones."""
    bundle = {"defaults": PlaygroundConfig().model_dump(), "fixed": ["noise", "n_samples"],
              "limits": {"depth": {"min": 1, "max": 6}, "width": {"min": 1, "max": 32}},
              "datasets": {"moons": 1, "xor": 1}, "activations": {"relu": 1, "tanh": 1, "sigmoid": 1},
              "inits": ["auto", "he"], "optimizers": ["sgd", "adam"], "seeds": {"42": 1, "3": 1}}
    script = """
const S = require(process.argv[2]);
const b = JSON.parse(process.argv[3]);
process.stdout.write(JSON.stringify(S.parseState(process.argv[4], b)));
"""
    q = "?dataset=xor&depth=9&width=4&act_a=tanhh&seed=3&noise=0.5&lr=abc&bogus=1"
    got = json.loads(_node(script, str(STATIC / "state.js"), json.dumps(bundle), q, tmp=tmp_path))
    cfg, errors = got["cfg"], got["errors"]
    assert (cfg["dataset"], cfg["width"], cfg["seed"]) == ("xor", 4, 3)  # the valid ones kept
    assert (cfg["depth"], cfg["act_a"], cfg["noise"], cfg["lr"]) == (2, "sigmoid", 0.18, 0.05)
    assert len(errors) == 5
    assert any(e.startswith("depth = '9': must be between 1 and 6") for e in errors)
    assert any(e.startswith("act_a = 'tanhh': not offered here; known: relu, tanh, sigmoid") for e in errors)
    assert any(e.startswith("noise = '0.5': this static build has noise = 0.18") for e in errors)
    assert any(e.startswith("lr = 'abc': not a finite number") for e in errors)
    assert any(e.startswith("bogus: unknown setting") for e in errors)


# the command line ----------------------------------------------------------------------------

def test_cli_builds_a_site(tmp_path):
    out = tmp_path / "site"
    res = CliRunner().invoke(main, ["playground", "build", str(out), "--seeds", "5,1-2",
                                    "--activation", FORMULA, "--n-samples", "100"])
    assert res.exit_code == 0, res.output
    assert res.stdout.strip().splitlines()[-1] == str(out)
    assert {p.name for p in out.iterdir()} == {"index.html", "app.js", "net.js", "state.js", "style.css",
                                               "activations.js", "bundle.js"}
    bundle = json.loads((out / "bundle.js").read_text().split("=", 1)[1].rstrip().rstrip(";"))
    assert list(bundle["seeds"]) == ["5", "1", "2"]
    assert FORMULA in bundle["activations"] and "gelu" in bundle["activations"]
    moons = bundle["datasets"]["moons"]
    assert len(moons["y_train"]) + len(moons["y_test"]) == 100
    assert bundle["defaults"]["n_samples"] == 100
    assert FORMULA in (out / "activations.js").read_text()


@pytest.mark.parametrize("args,message", [
    (["--seeds", "1,x"], "error: --seeds = '1,x': 'x' is not a seed or a range a-b of seeds"),
    (["--seeds", "0-1000000000000"], "error: --seeds = '0-1000000000000': more than 64 seeds"),
    (["--seeds", "3,2147483648"], "error: --seeds = 2147483648: a seed is between 0 and 2147483647"),
    (["--n-samples", "5"], "error: --n-samples = 5: Input should be greater than or equal to 20"),
    (["--noise", "2"], "error: --noise = 2.0: Input should be less than or equal to 1"),
    (["--activation", "f(x) = foo(x)"], "error: --activation = 'f(x) = foo(x)': "),
])
def test_cli_bad_input_is_one_line_and_writes_nothing(tmp_path, args, message):
    out = tmp_path / "site"
    res = CliRunner().invoke(main, ["playground", "build", str(out), *args])
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), lines
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "keep.txt").write_text("x")
    res = CliRunner().invoke(main, ["playground", "build", str(tmp_path)])
    assert res.exit_code == 2
    assert res.stderr.strip() == f"error: DIR = '{tmp_path}': is not empty; give a new or empty folder"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


# the page in Chromium, from disk, offline ---------------------------------------------------------

@pytest.fixture(scope="module")
def site():
    d = Path(tempfile.mkdtemp(prefix="actscope-static-"))
    try:
        yield build_site(d / "site", BuildOptions(seeds=(42, 3), formulas=(FORMULA,)))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _coloured(pg, i: int) -> int:
    """Coloured (non-white, opaque) pixels of arm i's boundary canvas."""
    return pg.evaluate("""(i) => {
        const c = document.querySelectorAll("canvas.boundary")[i];
        const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let k = 0; k < d.length; k += 4) {
            if (d[k + 3] > 0 && !(d[k] > 250 && d[k + 1] > 250 && d[k + 2] > 250)) n++;
        }
        return n;
    }""", i)


def _wait(pg, condition: str, timeout: float = 60.0) -> None:
    """Poll ``condition`` from outside the page (the page's CSP forbids the string
    evaluation that Playwright's wait_for_function uses inside it)."""
    end = time.monotonic() + timeout
    while not pg.evaluate(f"() => {condition}"):
        assert time.monotonic() < end, f"timed out waiting for {condition}"
        time.sleep(0.05)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (/usr/bin/chromium)")
def test_built_page_trains_offline_from_disk(site):
    sync_api = pytest.importorskip("playwright.sync_api")
    attempted: list[str] = []
    errors: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=["--no-sandbox", "--headless", "--disable-gpu",
                                           "--disable-background-networking"])
        try:
            ctx = browser.new_context(viewport={"width": 1400, "height": 1000})

            def refuse(route):
                attempted.append(route.request.url)
                route.abort()

            ctx.route("http://**/*", refuse)
            ctx.route("https://**/*", refuse)
            ctx.route("ws://**/*", refuse)
            pg = ctx.new_page()
            pg.on("pageerror", lambda e: errors.append(str(e)))
            pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            url = (site / "index.html").as_uri() + "?act_a=" + FORMULA.replace(" ", "+") + "&epochs=8&seed=3"
            pg.goto(url)
            _wait(pg, "document.querySelector('#epochs').textContent === '8'")
            assert pg.locator("#error").is_hidden()
            assert pg.locator(".arm .act").first.text_content() == FORMULA
            blank = pg.evaluate("""() => { const c = document.createElement('canvas');
                c.width = 300; c.height = 300; return c.toDataURL(); }""")
            pg.click("#play")
            _wait(pg, "document.querySelector('#state').textContent === 'done'")
            assert pg.locator("#epoch").text_content() == "8"
            assert pg.locator("#state").text_content() == "done"
            for i in (0, 1):
                assert _coloured(pg, i) > 300 * 300 / 2  # the shaded boundary, not a blank canvas
                data = pg.evaluate("(i) => document.querySelectorAll('canvas.boundary')[i].toDataURL()", i)
                assert data != blank
            shown = [float(t) for t in pg.locator(".test-loss").all_text_contents()]
            curves = pg.evaluate("page.arms.map((a) => a.history)")
            shot = pg.screenshot(full_page=False)
            assert pg.locator(".server-only").is_visible()
            href = pg.get_attribute("#export", "href")
            assert href.startswith("data:text/plain")
            assert "seed=3" in pg.evaluate("location.search")
            assert errors == []
            assert attempted == []
            ctx.close()
        finally:
            browser.close()
    assert shot[:4] == b"\x89PNG"
    # the page trained what the NumPy engine trains: the same losses, epoch by epoch
    cfg = PlaygroundConfig()
    data = load_dataset(cfg.to_experiment().data)
    train = TrainSpec(optimizer=cfg.optimizer, lr=cfg.lr, epochs=8, batch_size=cfg.batch_size, eval_every=1)
    eng = get_engine("numpy")
    for act, hist, text in zip([FORMULA, cfg.act_b], curves, shown):
        mlp = MLPSpec(n_inputs=2, hidden=[cfg.width] * cfg.depth, activation=act, init=cfg.init)
        st = Stepper(eng, mlp, eng.init(mlp, [3]), data, train, [3])
        for _ in range(8):
            st.run_epoch()
        ref = st.history.values["test/loss"][:, 0]
        np.testing.assert_allclose(hist["test_loss"], ref, rtol=0, atol=1e-9)
        np.testing.assert_allclose(hist["running_loss"], st.history.values["train/running_loss"][:, 0],
                                   rtol=0, atol=1e-9)
        assert text == round(ref[-1], 4)
