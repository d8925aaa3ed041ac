"""Verdicts: paired comparisons stated in one line, and the probes end to end in a run."""

from __future__ import annotations

import re

import numpy as np
import pytest

from actscope.analysis import probes
from actscope.analysis.stats import compare_arms, paired_difference, verdict_text
from actscope.config import parse_spec
from actscope.experiment import run_experiment

LINE = re.compile(r"^relu > sigmoid in test accuracy: \+\d+\.\d pp \[\d+\.\d, \d+\.\d\], "
                  r"(\d+)/(\d+) seeds, p = [0-9.e+-]+$")


def _comparison(a, b, metric="test_accuracy", names=("sigmoid", "relu")):
    return {"a": names[0], "b": names[1], "metric": metric, **paired_difference(a, b)}


def test_verdict_names_the_larger_arm_first_with_interval_wins_and_p():
    rng = np.random.default_rng(0)
    relu = 0.96 + 0.01 * rng.standard_normal(20)
    sigmoid = 0.79 + 0.01 * rng.standard_normal(20)
    line = verdict_text(_comparison(sigmoid, relu), label=probes.label)
    m = LINE.match(line)
    assert m, line
    assert m.groups() == ("20", "20")
    assert "+17." in line or "+16." in line or "+18." in line


def test_verdict_with_one_seed_gives_no_interval_and_no_verdict():
    line = verdict_text(_comparison([0.79], [0.96]), label=probes.label)
    assert line.startswith("relu vs sigmoid in test accuracy: too few seeds for a verdict: +17.0 pp")
    assert "[" not in line and ">" not in line and "1 seed can reach p = 1 at best" in line


def test_verdict_says_no_detectable_difference_with_the_smallest_attainable_p():
    a = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
    b = a + np.array([0.3, -0.2, 0.1, -0.25, 0.1, 0.05, -0.15])
    line = verdict_text(_comparison(a, b, metric="repr.pr.L2"), label=probes.label)
    assert " vs " in line and "no detectable difference" in line and "participation ratio, layer 2" in line
    assert "smallest attainable p = 0.016" in line and " pp" not in line


def test_compare_arms_pairs_members_by_seed():
    arms = {"sigmoid": {"members": [{"seed": s, "diverged": False, "test_accuracy": 0.8}
                                    for s in range(1, 8)]},
            "relu": {"members": [{"seed": s, "diverged": False, "test_accuracy": 0.9 + 0.001 * s}
                                 for s in range(7, 0, -1)]}}
    (c,) = compare_arms(arms)
    assert (c["a"], c["b"], c["n"], c["losses"]) == ("sigmoid", "relu", 7, 7)
    assert c["mean_diff"] == pytest.approx(-0.104)  # seed 1 with seed 1, not the list order
    assert c["verdict"] == "relu > sigmoid in test_accuracy: +10.4 pp [10.2, 10.6], 7/7 seeds, p = 0.016"


# a small experiment, end to end ---------------------------------------------------------------

SPEC = {
    "name": "probe-check",
    "data": {"n_samples": 120, "noise": 0.15, "random_state": 0, "split_seed": 0},
    "model": {"hidden": [6, 6]},
    "train": {"epochs": 12, "lr": 0.1, "batch_size": 32},
    "arms": [{"name": "sigmoid", "activation": "sigmoid"}, {"name": "relu", "activation": "relu"}],
    "seeds": {"start": 0, "count": 3},
    "probes": {"epochs": [4], "grid": 40},
    "report": {"dpi": 40},
}


@pytest.fixture(scope="module")
def small_run():
    return run_experiment(parse_spec(SPEC))


def test_probes_are_recorded_at_the_chosen_epochs_and_at_the_end(small_run):
    h = small_run.arms["relu"].history
    pr = h.values["test/repr.pr.L2"]
    assert np.isfinite(pr[3]).all() and np.isfinite(pr[11]).all()
    assert np.isnan(pr[5]).all()
    assert np.isfinite(h.values["grid/regions.count"][[3, 11]]).all()
    assert "grid/regions.count" not in small_run.arms["sigmoid"].history.values
    assert np.isfinite(h.values["train/batch_grad_norm.L3"]).all()  # every epoch
    assert small_run.metrics["probes"]["epochs"] == [4, 12]


def test_metrics_hold_every_probe_and_say_three_seeds_are_too_few(small_run):
    arm = small_run.metrics["arms"]["relu"]
    for key in ("signal.dead.L1", "grad_norm.L2", "context.rho_norm.L1", "context.rho_norm_true.L2",
                "context.rho_logit", "repr.pr.L2", "repr.probe_acc.L1", "regions.count",
                "batch_grad_norm.L1"):
        s = arm["summary"][key]
        assert s["n"] == 3 and s["ci95"] is None and s["mean"] is not None, key
        assert s["note"].startswith("too few seeds for an interval (n=3, need ≥5)"), key
        assert all(key in m["probes"] for m in arm["members"])
    assert "signal.saturated.L1" in small_run.metrics["arms"]["sigmoid"]["summary"]
    assert small_run.metrics["timing"]["probes_s"] > 0
    st = small_run.metrics["statistics"]
    assert st["alpha"] == 0.05 and st["correction"] == "holm" and st["min_seeds_verdict"] == 6
    assert st["warning"].startswith("3 paired seeds cannot give any verdict: "
                                    "the smallest attainable p is 0.25")
    assert all(c["decision"] == "too_few" and c["ci95"] is None for c in small_run.metrics["comparisons"])


def test_comparisons_cover_probes_and_headline_metrics(small_run):
    comps = small_run.metrics["comparisons"]
    metrics = {c["metric"] for c in comps}
    assert {"test_accuracy", "repr.probe_acc.L2", "context.rho_norm_true.L1"} <= metrics
    assert "regions.count" not in metrics  # only the ReLU arm has linear regions
    assert all(1 <= c["n"] <= 3 and c["verdict"] for c in comps)
    assert next(c for c in comps if c["metric"] == "test_accuracy")["n"] == 3


def test_report_shows_verdicts_probe_table_and_figures(small_run, tmp_path, monkeypatch):
    from actscope.experiment.rundir import save_run
    from actscope.report import html as report_html
    from actscope.report import write_report

    # only the probes' figures: the others are tested by their owners (and cost ~20 s here)
    mine = {k: v for k, v in report_html._EXTRA_FIGURES.items() if k.startswith("probe")}
    monkeypatch.setattr(report_html, "FIGURES", {})
    monkeypatch.setattr(report_html, "_EXTRA_FIGURES", mine)
    save_run(small_run, tmp_path / "run", extra=lambda r, d: write_report(r, d))
    html = (tmp_path / "run" / "report.html").read_text()
    assert "<h2>Verdicts</h2>" in html and "<h2>Probes</h2>" in html
    assert "Rule: α = 0.05" in html and "Holm correction across all" in html and "Too few seeds:" in html
    assert "participation ratio, layer 2" in html
    figs = {p.stem for p in (tmp_path / "run" / "figures").glob("*.png")}
    assert {"probe_signal", "probe_gradients", "probe_context", "probe_representation",
            "probe_regions", "probe_heatmaps", "probes_over_epochs"} <= figs
    with np.load(tmp_path / "run" / "history.npz") as z:
        rows = [(k.split("/")[2], e + 1) for k in z.files if k.endswith("/repr.pr.L1") and "/members/" in k
                for e in np.where(np.isfinite(z[k]).any(axis=1))[0]]
    assert {e for _, e in rows} == {4, 12} and {s for s, _ in rows} == {"test"}


def test_cli_run_prints_the_verdict_and_takes_the_rng_protocol(tmp_path):
    import tomli_w
    from click.testing import CliRunner

    from actscope.cli import main
    from actscope.experiment.rundir import load_run

    cfg = tmp_path / "small.toml"
    spec = {**SPEC, "train": {**SPEC["train"], "epochs": 3, "rng": "article"},
            "probes": {"include": ["signal", "representation"]}}
    cfg.write_text(tomli_w.dumps(spec))
    out = tmp_path / "run"
    res = CliRunner().invoke(main, ["run", str(cfg), "--seeds", "2", "--rng", "default", "--no-report",
                                    "--quiet", "--out", str(out)])
    assert res.exit_code == 0, res.output
    lines = res.output.strip().splitlines()
    assert lines[-1] == str(out)
    assert any(" in test accuracy: " in line and "/2 seeds" in line for line in lines)
    run = load_run(out)
    assert run.spec.train.rng == "default" and run.spec.probes.include == ["signal", "representation"]
    assert "repr.pr.L1" in run.metrics["arms"]["relu"]["summary"]
    assert not any(k.startswith("test/context") for k in run.arms["relu"].history.values)
