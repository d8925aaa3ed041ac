"""The playground for learners: formula activations, uploaded points, the weights as JSON,
the gradient-flow view and links that keep what they got right."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from actscope.config import load_spec  # noqa: E402
from actscope.experiment import run_experiment  # noqa: E402
from actscope.serve.schema import PlaygroundConfig, parse_config, salvage  # noqa: E402
from actscope.serve.server import ServerThread  # noqa: E402
from actscope.serve.session import Settings  # noqa: E402
from actscope.serve.trainer import PairedTrainer  # noqa: E402
from actscope.serve.upload import MAX_BYTES  # noqa: E402
from actscope.serve.views import fingerprint  # noqa: E402

SMALL = {"n_samples": 120, "width": 4, "epochs": 40}
MISH = "x * tanh(log(1 + exp(x)))"


@pytest.fixture(scope="module")
def srv():
    """The server thread itself (its sessions are read directly) and a client."""
    thread = ServerThread(settings=Settings(max_per_client=1000))
    with thread as url, httpx.Client(base_url=url, timeout=30) as c:
        yield thread, c


def new_session(client, **cfg) -> dict:
    r = client.post("/api/sessions", json={**SMALL, **cfg})
    assert r.status_code == 201, r.text
    return r.json()


def points_csv(n: int = 60, seed: int = 0, header: str = "x1,x2,label") -> str:
    """Two noisy clusters, one per class, as CSV text."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    X = rng.normal(size=(n, 2)) * 0.6 + np.c_[2 * y - 1, 0.5 * y]
    rows = [f"{a:.3f},{b:.3f},{'yes' if c else 'no'}" for (a, b), c in zip(X, y)]
    return "\n".join([header, *rows]) + "\n"


# activations typed by the learner ---------------------------------------------------------

def test_a_formula_and_a_parameterised_activation_train_as_actscope_run_trains_them(srv, tmp_path):
    _, client = srv
    snap = new_session(client, act_a=MISH, act_b="leaky_relu(0.1)", epochs=4)
    assert snap["config"]["act_a"] == f"f(x) = {MISH}" and snap["config"]["act_b"] == "leaky_relu(0.1)"
    sid = snap["session"]
    for _ in range(4):
        done = client.post(f"/api/sessions/{sid}/step", json={}).json()
    assert done["epoch"] == 4
    path = tmp_path / "formula.toml"
    path.write_text(client.get(f"/api/sessions/{sid}/config.toml").text)
    spec = load_spec(path)
    assert [a.activation for a in spec.arms] == [f"f(x) = {MISH}", "leaky_relu(0.1)"]
    run = run_experiment(spec)
    # the same formula, parsed by the same parser, trained by the same loop: the same weights
    assert [fingerprint(a.params) for a in run.arms.values()] == [a["weights"] for a in done["arms"]]


@pytest.mark.parametrize("typed, fragment", [
    ("x * tanh(", "column 9"),
    ("x ** y", "unknown name 'y'"),
    ("__import__('os')", "unknown function '__import__'"),
    ("leaky_relu(slope=-1, 2)", "leaky_relu"),
])
def test_a_bad_formula_is_refused_with_the_parsers_message(srv, typed, fragment):
    _, client = srv
    r = client.post("/api/sessions", json={**SMALL, "act_a": typed})
    assert r.status_code == 422
    msg = r.json()["detail"]
    assert msg.startswith(f"act_a = {typed!r}") and fragment in msg
    if "column" in fragment:
        assert "‸" in msg  # the caret marks the place


def test_names_are_still_names():
    assert parse_config({"act_a": "swish"}).act_a == "silu"  # an alias
    assert parse_config({"act_a": "tanh(x)"}).act_a == "f(x) = tanh(x)"  # not parameterised: a formula
    with pytest.raises(Exception, match="unknown activation; known: .*relu"):
        parse_config({"act_a": "swishy"})


# uploaded points ---------------------------------------------------------------------------

def test_uploaded_points_train_and_export_with_the_file(srv, tmp_path):
    _, client = srv
    sid = new_session(client, epochs=3)["session"]
    text = points_csv(80)
    r = client.post(f"/api/sessions/{sid}/points", json={"name": "my points.csv", "csv": text})
    assert r.status_code == 200, r.text
    snap = r.json()
    assert snap["config"]["dataset"] == "upload" and snap["epoch"] == 0
    assert snap["upload"] == {"name": "my_points.csv", "rows": 80}
    assert snap["data"]["n_train"] + snap["data"]["n_test"] == 80
    for _ in range(3):
        done = client.post(f"/api/sessions/{sid}/step", json={}).json()
    toml = client.get(f"/api/sessions/{sid}/config.toml").text
    assert "my_points.csv" in toml
    (tmp_path / "exp.toml").write_text(toml)
    (tmp_path / "my_points.csv").write_text(text)
    run = run_experiment(load_spec(tmp_path / "exp.toml"))
    assert [fingerprint(a.params) for a in run.arms.values()] == [a["weights"] for a in done["arms"]]
    # other settings keep the points; a built-in dataset and back again
    back = client.put(f"/api/sessions/{sid}/config", json={**snap["config"], "width": 3}).json()
    assert back["config"]["dataset"] == "upload" and back["data"]["n_train"] + back["data"]["n_test"] == 80


@pytest.mark.parametrize("text, fragment", [
    (points_csv(30).replace("0.", "a.", 1), "line 2, column 'x1'"),
    (points_csv(30, header="x1,x2,x3,label").replace(",no", ",1,no").replace(",yes", ",1,yes"),
     "3 feature columns"),
    (points_csv(30, header="x1,x2,class"), "label column 'label' not found"),
    (points_csv(30).replace(",no\n", ",maybe\n", 3), "3 classes"),
    (points_csv(10), "10 rows"),
    ("x1,x2,label\n" + "1.0,2.0,a\n" * (MAX_BYTES // 10), "at most 12,000 bytes"),
])
def test_a_bad_upload_is_one_line_naming_what_is_wrong(srv, text, fragment):
    _, client = srv
    sid = new_session(client)["session"]
    r = client.post(f"/api/sessions/{sid}/points", json={"name": "p.csv", "csv": text[:15_000]})
    assert r.status_code in (413, 422), r.text
    msg = r.json()["detail"]
    assert "\n" not in msg and fragment in msg
    assert client.get(f"/api/sessions/{sid}").json()["config"]["dataset"] == "moons"  # unchanged


def test_a_link_naming_uploaded_points_keeps_the_rest():
    cfg, errors = salvage({"dataset": "upload", "width": 5})
    assert cfg["dataset"] == "moons" and cfg["width"] == 5
    assert len(errors) == 1 and "upload the CSV file again" in errors[0]


# weights -----------------------------------------------------------------------------------

def test_the_weights_json_holds_exactly_the_servers_parameters(srv):
    thread, client = srv
    sid = new_session(client, depth=3, act_a=MISH)["session"]
    for _ in range(2):
        client.post(f"/api/sessions/{sid}/step", json={})
    r = client.get(f"/api/sessions/{sid}/weights.json")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    doc = r.json()
    tr = thread.app.state.manager.sessions[sid].trainer
    assert doc["epoch"] == tr.epoch == 2
    np.testing.assert_array_equal(doc["scaler"]["mean"], tr.data.scaler[0])
    for arm_doc, arm in zip(doc["arms"], tr.arms):
        assert arm_doc["activation"] == arm.activation
        params = tr.engine.to_numpy(arm.params)
        assert [lay["shape"] for lay in arm_doc["layers"]] == [list(W.shape[1:]) for W, _ in params]
        for lay, (W, b) in zip(arm_doc["layers"], params):
            np.testing.assert_array_equal(np.array(lay["W"]), W[0])  # bit for bit
            np.testing.assert_array_equal(np.array(lay["b"]), b[0])


# gradient flow -----------------------------------------------------------------------------

def test_depth_six_sigmoid_shows_vanishing_gradients_and_relu_does_not():
    cfg = parse_config({"act_a": "sigmoid", "act_b": "relu", "depth": 6, "width": 8, "epochs": 10})
    tr = PairedTrainer(cfg.to_experiment())
    tr.advance(100_000, 10, 10)
    sig, relu = (arm.grad_norms() for arm in tr.arms)
    assert sig.shape == relu.shape == (10, 7)  # 6 hidden layers and the output layer
    assert (sig[:, 0] < 1e-2 * sig[:, -1]).all()  # orders of magnitude below the output layer
    assert (relu[:, 0] > 0.1 * relu[:, -1]).all()


def test_the_snapshot_carries_each_layers_gradient_norm(srv):
    _, client = srv
    sid = new_session(client, depth=3)["session"]
    snap = client.post(f"/api/sessions/{sid}/step", json={}).json()
    g = snap["arms"][0]["gradients"]
    assert g["epoch"] == [1] and len(g["layers"]) == 4 and all(v[0] > 0 for v in g["layers"])


# links -------------------------------------------------------------------------------------

def test_a_bad_link_lists_every_error_and_keeps_the_valid_settings(srv):
    _, client = srv
    r = client.post("/api/check", json={"width": 999, "act_a": "x * tanh(", "act_b": "leaky_relu(0.2)",
                                        "seed": 7, "colour": "red", "lr": "fast", "depth": 3})
    assert r.status_code == 200
    cfg, errors = r.json()["config"], r.json()["errors"]
    assert (cfg["act_b"], cfg["seed"], cfg["depth"]) == ("leaky_relu(0.2)", 7, 3)
    default = PlaygroundConfig()
    assert (cfg["width"], cfg["act_a"], cfg["lr"]) == (default.width, default.act_a, default.lr)
    assert len(errors) == 4
    for fragment in ("width = 999", "act_a = 'x * tanh('", "unknown field 'colour'", "lr = 'fast'"):
        assert any(e.startswith(fragment) for e in errors), (fragment, errors)


def test_the_init_hashes_differ_exactly_when_the_schemes_scale_the_shared_draws_differently(srv):
    _, client = srv
    auto = new_session(client, act_a="sigmoid", act_b="relu")["arms"]
    assert [a["init_sigma_w2"][0] for a in auto] == [1.0, 2.0]  # xavier for sigmoid, he for relu
    assert auto[0]["init"] != auto[1]["init"]
    same = new_session(client, act_a="sigmoid", act_b="relu", init="he")["arms"]
    assert same[0]["init_sigma_w2"] == same[1]["init_sigma_w2"]
    assert same[0]["init"] == same[1]["init"]  # the same raw draws, scaled alike: the same weights
