"""More than two classes: softmax + cross-entropy gradients, per-class metrics, n-D reports."""

from __future__ import annotations

import json

import numpy as np
import pytest

from actscope.analysis.classmetrics import class_report, confusion
from actscope.config import parse_spec
from actscope.engines import get_engine
from actscope.nn.model import Layer, MLPSpec
from actscope.pipeline import run_experiment
from gradcheck import finite_difference_grads

ENGINE = get_engine("numpy")


def _fd(spec, params, X, y):
    return finite_difference_grads(ENGINE, spec, params, X, y)


@pytest.mark.parametrize("classes", [3, 4])
@pytest.mark.parametrize("acts", [["gelu"], ["relu", "elu(0.5)"], ["tanh", "silu", "softsign"]])
def test_softmax_gradients_match_finite_differences(classes, acts, rng):
    spec = MLPSpec(n_inputs=3, hidden=[4] * len(acts), activation=acts, n_classes=classes)
    params = [Layer(W, b + 0.1 * rng.normal(size=b.shape)) for W, b in ENGINE.init(spec, [0, 1])]
    X = rng.normal(size=(9, 3))
    y = np.arange(9) % classes
    loss, grads = ENGINE.loss_and_grad(spec, params, X, y)
    out = ENGINE.forward(spec, params, X)
    assert out.prob.shape == (2, 9, classes)
    np.testing.assert_allclose(out.prob.sum(axis=-1), 1.0)
    for (gW, gb), (fW, fb) in zip(grads, _fd(spec, params, X, y)):
        np.testing.assert_allclose(gW, fW, rtol=1e-5, atol=1e-8)
        np.testing.assert_allclose(gb, fb, rtol=1e-5, atol=1e-8)


def test_torch_engine_agrees_on_multiclass(rng):
    pytest.importorskip("torch")
    torch_engine = get_engine("torch", dtype="float64")
    spec = MLPSpec(n_inputs=3, hidden=[5, 4], activation=["mish", "leaky_relu(0.1)"], n_classes=4)
    params = ENGINE.init(spec, [0, 1, 2])
    X = rng.normal(size=(11, 3))
    y = np.arange(11) % 4
    loss, grads = ENGINE.loss_and_grad(spec, params, X, y)
    tloss, tgrads = torch_engine.loss_and_grad(spec, torch_engine.from_numpy(params), X, y)
    np.testing.assert_allclose(np.asarray(tloss.cpu().numpy() if hasattr(tloss, "cpu") else tloss), loss,
                               rtol=1e-10)
    for (gW, gb), (tW, tb) in zip(grads, torch_engine.to_numpy(tgrads)):
        np.testing.assert_allclose(tW, gW, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(tb, gb, rtol=1e-9, atol=1e-12)


def test_class_report_matches_scikit_learn(rng):
    from sklearn.metrics import balanced_accuracy_score, f1_score, precision_recall_fscore_support

    y = rng.integers(0, 4, 200)
    pred = np.where(rng.random(200) < 0.7, y, rng.integers(0, 4, 200))
    pred[pred == 3] = 2  # class 3 is never predicted: precision 0 by convention
    rep = class_report(confusion(y, pred, 4))
    p, r, f, s = precision_recall_fscore_support(y, pred, labels=range(4), zero_division=0)
    np.testing.assert_allclose(rep["precision"], p)
    np.testing.assert_allclose(rep["recall"], r)
    np.testing.assert_allclose(rep["f1"], f)
    assert rep["support"] == list(s)
    assert rep["macro_f1"] == pytest.approx(f1_score(y, pred, average="macro", zero_division=0))
    assert rep["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred))


def test_iris_run_has_per_class_metrics_and_an_nd_report(in_tmp):
    spec = parse_spec({
        "name": "iris-test", "data": {"name": "iris"}, "model": {"hidden": [6]},
        "train": {"optimizer": "adam", "lr": 0.02, "epochs": 30, "batch_size": 16},
        "seeds": {"count": 2}, "arms": [{"name": "gelu", "activation": "gelu"}],
    })
    out = in_tmp / "run"
    run_experiment(spec, out=out)
    m = json.loads((out / "metrics.json").read_text())
    member = m["arms"]["gelu"]["members"][0]
    pc = member["test_per_class"]
    assert len(pc["recall"]) == 3 and sum(pc["support"]) == m["dataset"]["n_test"]
    n_test = m["dataset"]["n_test"]
    assert np.trace(np.array(pc["confusion"])) / n_test == pytest.approx(member["test_accuracy"])
    assert member["test_accuracy"] > 0.8
    assert m["dataset"]["class_names"] == ["setosa", "versicolor", "virginica"]
    assert "test_macro_f1" in m["arms"]["gelu"]["summary"]
    figs = {p.stem for p in (out / "figures").glob("*.png")}
    assert {"confusion", "dataset_pca", "loss_curves"} <= figs
    assert "decision_boundaries" not in figs
    html = (out / "report.html").read_text()
    assert "skipped: it needs 2-D inputs and this data has 4 features" in html


def test_binary_2d_reports_get_no_nd_figures(small_moons):
    from actscope.experiment.rundir import Run
    from actscope.report.ndfigures import confusion_figure, dataset_pca_figure

    spec = parse_spec({"arms": [{"name": "a", "activation": "relu"}]})
    run = Run(spec=spec, dataset=small_moons, arms={})
    assert dataset_pca_figure(run) is None and confusion_figure(run) is None
