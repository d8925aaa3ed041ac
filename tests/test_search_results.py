"""The search's results: tuned rates, the leaderboard's intervals and verdicts, theory as a
predictor, the Pareto front, found.toml and the self-contained report (issue 18, 4 and 5)."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass

import numpy as np
import pytest

from actscope.search.cost import front_table, pareto_front
from actscope.search.features import mean_field, spearman
from actscope.search.leaderboard import leaderboard, tuned

COLUMNS = ("stage", "task", "key", "seed", "lr", "train_loss", "val_loss", "val_acc", "test_loss", "test_acc")


@dataclass(frozen=True)
class Cand:
    """A stand-in for search.canonical.Candidate (what the leaderboard reads)."""

    key: str
    formula: str
    builtin: str | None = None
    size: int = 1
    flops: int = 1
    origin: str = "random"


def member_table(effects: dict[str, float], seeds: int, tasks=("a", "b"), lrs=(0.1, 0.5),
                 stage: int = 0, seed: int = 0, noise: float = 0.03) -> dict[str, np.ndarray]:
    """Members of every key × task × seed × lr: accuracy = 0.7 + a per-seed draw shared by
    every key (pairing) + the key's effect + small noise, clipped to [0, 1]."""
    rng = np.random.default_rng(seed)
    base = 0.7 + noise * rng.standard_normal((len(tasks), seeds))
    rows: dict[str, list] = {c: [] for c in COLUMNS}
    for key, eff in effects.items():
        for ti, t in enumerate(tasks):
            for s in range(seeds):
                for lr in lrs:
                    acc = float(np.clip(base[ti, s] + eff + 0.01 * rng.standard_normal(), 0, 1))
                    vals = (stage, t, key, s, lr, 0.3, 0.3 + lr, acc, 0.3, acc)
                    for c, v in zip(COLUMNS, vals):
                        rows[c].append(v)
    return {c: np.asarray(v) for c, v in rows.items()}


def concat(*tables):
    return {c: np.concatenate([t[c] for t in tables]) for c in COLUMNS}


# tuned() ----------------------------------------------------------------------------------

def _rows(key, lr, val_acc, val_loss, seeds=(0, 1)):
    n = len(seeds)
    return {"stage": np.zeros(n, int), "task": np.array(["t"] * n), "key": np.array([key] * n),
            "seed": np.array(seeds), "lr": np.full(n, lr), "train_loss": np.zeros(n),
            "val_loss": np.asarray(val_loss, float), "val_acc": np.asarray(val_acc, float),
            "test_loss": np.zeros(n), "test_acc": np.full(n, lr)}


def test_tuned_picks_the_best_mean_val_accuracy_then_lower_loss_then_smaller_rate():
    t = concat(
        _rows("k", 0.1, [0.8, 0.8], [0.1, 0.1]), _rows("k", 0.2, [0.9, 0.9], [0.5, 0.5]),
        _rows("k", 0.4, [0.95, 0.85], [0.3, 0.3]),           # same mean 0.9, lower loss: wins
        _rows("j", 0.1, [0.7, 0.7], [0.2, 0.2]), _rows("j", 0.2, [0.6, 0.8], [0.2, 0.2]),  # full tie
        _rows("d", 0.1, [0.6, 0.6], [0.4, 0.4]),
        _rows("d", 0.2, [0.99, np.nan], [0.1, np.nan]),      # a diverged seed counts as 0
    )
    got = tuned(t)
    chosen = {k: set(got["lr"][got["key"] == k].tolist()) for k in ("k", "j", "d")}
    assert chosen == {"k": {0.4}, "j": {0.1}, "d": {0.1}}
    assert len(got["key"]) == 6                               # one row per (key, seed)
    assert got["key"].tolist() == sorted(got["key"].tolist())


# The leaderboard --------------------------------------------------------------------------

def test_intervals_stay_in_0_1_and_none_under_five_seeds():
    cands = [Cand("r", "max(x, 0)", "relu", origin="reference"), Cand("hi", "x*x"), Cand("lo", "abs(x)")]
    t = concat(member_table({"r": 0.0, "hi": 0.29}, seeds=10, noise=0.05),  # near 1: clipped
               member_table({"lo": 0.0}, seeds=3, seed=1))
    board = leaderboard(cands, t, ["relu"], ["a", "b"])
    rows = {r["key"]: r for r in board["rows"]}
    for r in rows.values():
        for m in [r["overall"], *r["tasks"].values()]:
            if m["ci95"] is not None:
                assert 0.0 <= m["ci95"][0] <= m["mean"] <= m["ci95"][1] <= 1.0
    assert rows["hi"]["overall"]["ci95"] is not None and rows["hi"]["overall"]["ci95"][1] <= 1.0
    assert rows["lo"]["overall"]["ci95"] is None and rows["lo"]["seeds"] == 3
    assert "too few seeds" in rows["lo"]["overall"]["note"]


def test_clearly_better_is_greater_after_holm_and_three_seeds_are_too_few():
    cands = [Cand("r", "max(x, 0)", "relu", origin="reference"),
             Cand("s", "x*sigmoid(x)", "silu", origin="reference"),
             Cand("good", "x*x"), Cand("same", "abs(x)"), Cand("bad", "sin(x)")]
    t = member_table({"r": 0.0, "s": 0.0, "good": 0.12, "same": 0.0, "bad": -0.15}, seeds=10)
    board = leaderboard(cands, t, ["relu", "silu"], ["a", "b"])
    rows = {r["key"]: r for r in board["rows"]}
    assert [r["key"] for r in board["rows"]][0] == "good"
    assert len(board["comparisons"]) == 6                    # 3 candidates × 2 references
    assert all(c["n_tests"] == 6 for c in board["comparisons"])
    assert rows["good"]["vs"]["relu"]["decision"] == "greater"
    assert rows["good"]["vs"]["relu"]["p_adjusted"] >= rows["good"]["vs"]["relu"]["p"]
    assert rows["bad"]["vs"]["silu"]["decision"] == "less"
    assert rows["same"]["vs"]["relu"]["decision"] != "greater"
    assert "vs" not in rows["r"]                             # references are not tested against themselves
    assert board["seeds_needed"] == {"comparisons": 6, "needed": 8, "have": 10, "possible": True}
    few = leaderboard(cands, member_table({"r": 0.0, "s": 0.0, "good": 0.3}, seeds=3), ["relu", "silu"])
    assert {c["decision"] for c in few["comparisons"]} == {"too_few"}
    assert few["seeds_needed"]["possible"] is False


def test_ranked_at_the_last_stage_reached_later_stages_first():
    cands = [Cand("r", "max(x, 0)", "relu", origin="reference"), Cand("a", "x*x"), Cand("b", "abs(x)")]
    s0 = member_table({"r": 0.0, "a": 0.0, "b": 0.25}, seeds=5)
    s1 = member_table({"r": 0.0, "a": 0.05}, seeds=6, stage=1, seed=3)
    board = leaderboard(cands, concat(s0, s1), ["relu"])
    got = [(r["key"], r["stage"], r["seeds"]) for r in board["rows"]]
    assert got == [("a", 1, 6), ("r", 1, 6), ("b", 0, 5)]
    assert [c["candidate"] for c in board["comparisons"]] == ["a"]   # only the last stage is compared



def test_a_candidate_with_a_diverged_seed_ranks_after_those_whose_seeds_all_finished():
    """A diverged seed has no accuracy: the mean of the others must not lift the candidate
    above one that trained on every seed, and the seed is counted as left out."""
    cands = [Cand("r", "max(x, 0)", "relu", origin="reference"), Cand("a", "x*x")]
    s0 = member_table({"r": 0.0, "a": 0.1}, seeds=6)
    s0["test_acc"] = s0["test_acc"].astype(float)
    s0["test_acc"][(s0["key"] == "a") & (s0["seed"] == 2) & (s0["task"] == "a")] = np.nan
    board = leaderboard(cands, s0, ["relu"])
    rows = {r["key"]: r for r in board["rows"]}
    assert rows["a"]["overall"]["mean"] > rows["r"]["overall"]["mean"]   # higher on the seeds it has
    assert rows["a"]["overall"]["n_excluded"] == 1 and rows["r"]["overall"]["n_excluded"] == 0
    assert [r["key"] for r in board["rows"]] == ["r", "a"]

# Theory as a predictor --------------------------------------------------------------------

def test_mean_field_features_match_theory():
    from actscope.activations import get_activation
    from actscope.activations.formula import formula_activation
    from actscope.theory.length import fixed_point_q, gradient_gain

    acts = [get_activation(n) for n in ("relu", "tanh", "silu")] + [
        formula_activation("t1", "0.3 + tanh(x)"), formula_activation("c3", "0.125 * x**3"),
        formula_activation("e1", "exp(min(x, 10))")]  # a root just below q0; one at q* ~ 1e8
    K = len(acts)
    for sw2, sb2, q0 in ((1.5, 0.1, 1.6), (3.0, 0.05, 1.0), (2.0, 0.0, 2.0)):
        got = mean_field(acts, np.full(K, sw2), np.full(K, sb2), np.full(K, q0))
        for i, a in enumerate(acts):
            for q_key, c_key, start in (("q_star", "chi1", 0.0), ("q_star_data", "chi1_data", q0)):
                q = float(fixed_point_q(a, sw2, sb2, start))
                chi = float(gradient_gain(a, q, sw2))
                if np.isinf(q):
                    assert np.isinf(got[q_key][i])
                else:
                    assert got[q_key][i] == pytest.approx(q, rel=1e-3, abs=1e-9), (a.name, sw2, sb2)
                assert got[c_key][i] == pytest.approx(chi, rel=1e-3), (a.name, sw2, sb2)


def test_output_distribution_of_relu_under_a_standard_normal():
    from actscope.activations import get_activation
    from actscope.search.features import distribution

    d = distribution(get_activation("relu"))
    mean = 1 / np.sqrt(2 * np.pi)                            # E[max(z, 0)]
    assert d["out_mean"] == pytest.approx(mean, abs=1e-3)
    assert d["out_std"] == pytest.approx(np.sqrt(0.5 - mean**2), abs=1e-3)
    assert d["near_zero"] == pytest.approx(0.5 + 0.01 / np.sqrt(2 * np.pi), abs=1e-3)
    assert d["grad_sq"] == pytest.approx(0.5, abs=1e-3)
    assert d["out_skew"] > 0


def test_spearman_of_a_correlated_feature_is_positive_with_an_interval():
    rng = np.random.default_rng(0)
    acc = rng.uniform(0.5, 0.9, 200)
    feature = acc + 0.05 * rng.standard_normal(200)
    feature[:3] = [np.inf, np.nan, -np.inf]                  # inf ranks as an extreme, NaN is left out
    r = spearman(feature, acc)
    assert r["n"] == 199 and r["n_excluded"] == 1
    assert 0 < r["ci95"][0] < r["rho"] < r["ci95"][1] <= 1
    unrelated = spearman(rng.standard_normal(200), acc)
    assert unrelated["ci95"][0] < 0 < unrelated["ci95"][1]
    assert spearman([1, 2, 3], [1, 2, 3])["rho"] is None     # under 5 candidates


# Cost -------------------------------------------------------------------------------------

def test_pareto_front_is_exactly_the_non_dominated_set():
    rng = np.random.default_rng(1)
    for _ in range(200):
        n = int(rng.integers(1, 25))
        c, a = rng.integers(0, 5, n).astype(float), rng.integers(0, 5, n) / 4
        if rng.random() < 0.3:
            a[rng.integers(n)] = np.nan
        ok = [j for j in range(n) if not np.isnan(a[j])]
        want = [i for i in ok if not any(c[j] <= c[i] and a[j] >= a[i] and (c[j] < c[i] or a[j] > a[i])
                                         for j in ok)]
        assert pareto_front(c, a).tolist() == want
    t = front_table(["x", "y", "z"], [1.0, 2.0, 3.0], [0.8, 0.7, None], "FLOPs")
    assert t["front"] == ["x"] and [p["key"] for p in t["points"]] == ["x", "y", "z"]


# write_results ----------------------------------------------------------------------------

SEARCH = {"search": {"name": "t", "strategy": "random", "max_size": 2, "candidates": 10,
                     "references": ["relu", "silu"], "tasks": ["moons", "circles"],
                     "stages": [{"seeds": 5, "epochs": 2, "keep": 0.5}, {"seeds": 6, "epochs": 2}]},
          "tasks": {"moons": {"name": "moons", "n_samples": 60, "val_size": 0.2},
                    "circles": {"name": "circles", "n_samples": 60, "val_size": 0.2}},
          "model": {"hidden": [4, 4]}, "train": {"lr_grid": [0.1, 0.5]}}
FORMULAS = ("x * tanh(x)", "x * sin(x)", "abs(x)", "x * x * x + x", "tanh(x) * 0.5 + x", "sigmoid(x)")


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    from actscope.search.canonical import Candidate, canonicalise, reference_candidates
    from actscope.search.report import write_results
    from actscope.search.spec import parse_search

    spec = parse_search(SEARCH)
    cands = reference_candidates(spec.references)
    cands += [c for c in (canonicalise(f, "random") for f in FORMULAS) if isinstance(c, Candidate)]
    keys = [c.key for c in cands]
    table = concat(member_table({k: 0.04 * i for i, k in enumerate(keys)}, 5, tuple(spec.tasks)),
                   member_table({k: 0.04 * i for i, k in enumerate(keys) if i in (0, 1, 5, 6)}, 6,
                                tuple(spec.tasks), stage=1, seed=2))
    dirs = [tmp_path_factory.mktemp(f"search{i}") for i in range(2)]
    (dirs[0] / "rejected.json").write_text(json.dumps(
        {"strategy": "random", "raw": 40, "duplicates": 20, "rejected": {"constant": 7, "linear": 6},
         "candidates": len(cands) - 2}))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("actscope.search.cost.N_ELEMENTS", 4096)   # timings are not what is tested here,
        mp.setattr("actscope.engines.mixed.activation_values",  # nor the kernels' one-time compile
                   lambda act, z, dtype="float32": act.fn(z))
        summaries = [write_results(d, spec, cands, table, figures=i == 0) for i, d in enumerate(dirs)]
    return spec, cands, dirs, summaries


def test_results_are_byte_identical_for_the_same_table(written):
    _, _, (a, b), _ = written
    for name in ("leaderboard.json", "leaderboard.csv", "features.json", "found.toml"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    pa, pb = (json.loads((d / "pareto.json").read_text()) for d in (a, b))
    assert pa["flops"] == pb["flops"]                        # measured timings differ run to run
    assert not (b / "figures").exists()                      # figures=False draws none
    assert set(pa["numpy_time"]["front"]) <= {p["key"] for p in pa["numpy_time"]["points"]}


def test_found_toml_blocks_load_as_formulas_and_in_an_experiment_spec(written, tmp_path):
    from actscope.activations.formula import formula_activation
    from actscope.config.loading import load_spec
    from tiny_specs import TINY_ONE_ARM

    _, cands, (a, _), summary = written
    text = (a / "found.toml").read_text()
    blocks = tomllib.loads(text)["activations"]
    refs = {c.key for c in cands if c.origin == "reference"}
    found_builtin = [c for c in cands if c.builtin and c.key not in refs]
    assert [c.builtin for c in found_builtin] == ["sigmoid"]
    assert len(blocks) == len(cands) - len(refs) - 1         # every other non-reference (< TOP_N)
    assert "sigmoid" not in blocks and '[model] activation = "sigmoid"' in text
    by_name = {f"cand_{c.key}": c for c in cands}
    for name, block in blocks.items():
        act = formula_activation(name, block["formula"], block["family"])
        z = np.linspace(-3, 3, 61)
        np.testing.assert_allclose(act.fn(z), by_name[name].activation().fn(z), rtol=1e-9, atol=1e-12)
    assert re.search(r"# rank \d+: overall test accuracy [\d.]+% \(95% CI \[", text)
    name = next(iter(blocks))
    spec_file = tmp_path / "found_run.toml"
    spec_file.write_text(TINY_ONE_ARM.replace('activation = "relu"', f'activation = "{name}"') + text)
    spec = load_spec(spec_file)
    assert spec.arms[0].activation == name
    assert summary[0]["paths"]["found.toml"].endswith("found.toml")


def test_report_html_is_self_contained_and_states_the_rule(written):
    _, _, (a, _), _ = written
    html = (a / "report.html").read_text()
    refs = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', html)
    assert refs and all(r.startswith("data:image/png;base64,") for r in refs)
    assert "<link" not in html and "<script" not in html
    assert "Wilcoxon" in html and "Holm" in html and "BCa" in html
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert "40 raw proposals, 20 duplicates" in text and "constant 7, linear 6; 6 distinct" in text
    assert " 0 5 2 8 1 6 2 4 " in text                       # stage, seeds, epochs, candidates
    for fig in ("functions", "accuracy", "pareto", "features"):
        assert (a / "figures" / f"{fig}.png").stat().st_size > 1000


def test_leaderboard_files_agree(written):
    import csv

    _, cands, (a, _), summary = written
    board = json.loads((a / "leaderboard.json").read_text())
    lines = list(csv.DictReader((a / "leaderboard.csv").read_text().splitlines()))
    assert [r["key"] for r in board["rows"]] == [ln["key"] for ln in lines]
    assert len(lines) == len(cands)
    assert board["final_stage"] == 1
    first = board["rows"][0]
    assert float(lines[0]["overall_mean"]) == pytest.approx(first["overall"]["mean"])
    assert summary[0]["top"][0]["name"] == first["name"]
