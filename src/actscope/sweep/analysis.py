"""What a sweep's table says: naive vs tuned rates, gaps between activations, cost.

A *configuration* is a cell without its learning rate: an arm, an architecture, a dataset.
Its *naive* result is at the sweep's one shared rate; its *tuned* result is at the rate
validation chose for it (tune.select_rate). Gaps between activations are paired by seed
and judged by the rule of ``analysis.decisions`` (exact signed-rank test, Hodges–Lehmann
interval, Holm across the sweep's gaps, TOST within ±1 pp: "the arms are alike" is a claim
that must be tested, not read off a small mean); the cheapest network and the Pareto
fronts use tuned results.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from actscope.analysis import cost, decisions, stats
from actscope.data.generators import load_dataset
from actscope.nn.model import MLPSpec
from actscope.training import tuning as tune

ARCH_COLUMNS = ("hidden", "depth", "width")
EQUIVALENCE_MARGIN = stats.EQUIVALENCE_MARGIN  # ±1 pp of test accuracy: "the arms are alike"
GAP_FIELDS = ("estimate", "ci95", "p", "p_min", "n", "wins", "direction", "margin", "p_equivalence",
              "ci_equivalence")
NOT_KEY = {"cell", "lr", "n_params", "flops", "seed", "diverged", "engine", "elapsed_s", "cpu_s",
           "test_accuracy", "test_loss", "val_accuracy", "val_loss", "train_accuracy",
           "train_loss", "final_train_loss"}


def _series_label(cfg: dict, extra: list[str]) -> str:
    parts = [str(cfg["activation"])] + [f"{k}={cfg[k]}" for k in extra]
    return " | ".join(parts)


def configurations(rows: list[dict], tuned: bool, shared_lr: float) -> list[dict]:
    """One entry per configuration: naive and tuned per-seed test accuracies and more."""
    if not rows:
        return []
    key_cols = [c for c in rows[0] if c not in NOT_KEY]
    if not tuned:
        key_cols.append("lr")
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        groups[tuple(r[c] for c in key_cols)].append(r)
    extra = [c for c in key_cols if c not in ("arm", "activation", "lr", *ARCH_COLUMNS)
             and len({r[c] for r in rows}) > 1]
    out = []
    for key, members in groups.items():
        cfg = dict(zip(key_cols, key))
        by_lr: dict[float, dict[int, dict]] = defaultdict(dict)
        for r in members:
            by_lr[float(r["lr"])][int(r["seed"])] = r
        rates = sorted(by_lr)
        seeds = sorted(set().union(*(set(v) for v in by_lr.values())))

        def col(lr, name):
            return [by_lr[lr].get(s, {}).get(name) for s in seeds]

        def nan(v):
            return np.nan if v is None else v

        val_acc = [[nan(v) for v in col(lr, "val_accuracy")] for lr in rates]
        val_loss = [[nan(v) for v in col(lr, "val_loss")] for lr in rates]
        div = [[bool(by_lr[lr].get(s, {}).get("diverged", True)) for s in seeds] for lr in rates]
        has_val = any(np.isfinite(v).any() for v in np.asarray(val_acc, dtype=float))
        chosen = rates[tune.select_rate(val_acc, val_loss, div)] if (tuned and has_val) else rates[0]
        acc_mean, _ = tune.selection_scores(val_acc, val_loss, div)
        naive_lr = shared_lr if shared_lr in by_lr else (rates[0] if not tuned else None)
        first = members[0]
        cfg.update({"n_params": first["n_params"], "flops": first["flops"], "seeds": seeds,
                    "rates": rates, "val_accuracy_by_rate": [float(v) for v in acc_mean],
                    "test_accuracy_by_rate": [stats.mean_ci(col(lr, "test_accuracy"), method="t")["mean"]
                                              for lr in rates],
                    "series": _series_label(cfg, extra)})
        for name, lr in (("naive", naive_lr), ("tuned", chosen)):
            if lr is None:
                cfg[name] = None
                continue
            test = col(lr, "test_accuracy")
            s = stats.mean_ci(test, key="test_accuracy")
            cfg[name] = {"lr": lr, "test": test, "mean": s["mean"], "ci95": s["ci95"],
                         "n_diverged": sum(bool(by_lr[lr][sd]["diverged"]) for sd in by_lr[lr])}
        out.append(cfg)
    return out


def _pair_gap(ref: dict, other: dict, which: str) -> dict | None:
    a, b = ref.get(which), other.get(which)
    if a is None or b is None:
        return None
    seeds, va, vb = stats.pair_by_seed(ref["seeds"], a["test"], other["seeds"], b["test"])
    if not seeds:
        return None
    d = stats.paired_difference(va, vb, margin=EQUIVALENCE_MARGIN if which == "tuned" else None)
    return {"mean": d["mean_diff"], **{k: d[k] for k in GAP_FIELDS}, "ref_lr": a["lr"], "other_lr": b["lr"]}


def _across(values: list[float], margin: float | None) -> dict | None:
    """The rule applied across architectures: each architecture's mean gap is one unit."""
    if not values:
        return None
    d = stats.paired_difference(np.asarray(values), np.zeros(len(values)), margin=margin)
    return {"mean": d["mean_diff"], **{k: d[k] for k in GAP_FIELDS}}


def _overall(per: list[dict]) -> dict:
    """Per activation: the average gaps, how many architectures each decision took, and the
    rule applied across architectures (naive and tuned)."""
    overall = {}
    for act in dict.fromkeys(p["activation"] for p in per):
        mine = [p for p in per if p["activation"] == act]
        entry: dict = {"n_architectures": len(mine)}
        for which in ("naive", "tuned"):
            gs = [p[which] for p in mine if p[which] and p[which]["mean"] is not None]
            entry[f"{which}_mean"] = float(np.mean([g["mean"] for g in gs])) if gs else None
            for name, dec in (("significant", "greater"), ("reversed", "less"), ("equivalent", "equivalent")):
                entry[f"{which}_{name}"] = sum(g.get("decision") == dec for g in gs)
            entry[f"{which}_test"] = _across([g["mean"] for g in gs],
                                             EQUIVALENCE_MARGIN if which == "tuned" else None)
        entry["survives"] = _survives({"mean": entry["naive_mean"]}, {"mean": entry["tuned_mean"]})
        overall[act] = entry
    return overall


def _gap_verdict(g: dict, ref: str, act: str, what: str) -> str:
    """One line for a gap (ref minus act) under the decision rule."""
    pp = f"{100 * g['estimate']:+.1f} pp"
    ci = f" [{100 * g['ci95'][0]:.1f}, {100 * g['ci95'][1]:.1f}]" if g["ci95"] else ""
    p_txt = f"p = {g['p_adjusted']:.2g} (Holm, {g['n_tests']} tests)"
    if g["decision"] == "greater":
        return f"{ref} > {act} {what}: {pp}{ci}, {p_txt}"
    if g["decision"] == "less":
        return f"{act} > {ref} {what}: {pp}{ci}, {p_txt}"
    m = f"±{100 * g['margin']:g} pp" if g["margin"] else ""
    if g["decision"] == "equivalent":
        eq = g["ci_equivalence"]
        return (f"{ref} ≈ {act} {what}: equivalent within {m}: {pp} [{100 * eq[0]:.1f}, {100 * eq[1]:.1f}] "
                f"(90%), TOST p = {g['p_equivalence_adjusted']:.2g} (Holm, {g['n_equivalence_tests']} tests)")
    pe = g.get("p_equivalence_adjusted")
    pe_txt = "" if pe is None else (f"; not shown equivalent within {m} (TOST p = {pe:.2g}, Holm, "
                                    f"{g['n_equivalence_tests']} tests)")
    if g["decision"] == "too_few":
        return (f"{ref} vs {act} {what}: too few units for a verdict: {pp}; {g['n']} can reach "
                f"p = {g['p_min']:.2g} at best{pe_txt}")
    holm_txt = ("; the interval excludes 0 before Holm's correction, not after"
                if g["ci95"] and (g["ci95"][0] > 0 or g["ci95"][1] < 0) else "")
    return (f"{ref} vs {act} {what}: no detectable difference: {pp}{ci}, {p_txt}; smallest attainable "
            f"p = {g['p_min']:.2g}{holm_txt}{pe_txt}")


def gaps(configs: list[dict], reference: str, focus: str | None) -> dict:
    """Reference minus each other activation, naive and tuned, per architecture and overall.

    Per architecture, a gap is paired by seed; across architectures, each architecture's
    mean gap is one unit. Each family (all per-architecture gaps; all overall tests) is
    judged by the rule of ``analysis.decisions``: Holm-corrected tests, and for the fair
    (tuned) gaps, where the sweep asks whether the arms are alike, TOST within
    ``EQUIVALENCE_MARGIN`` (Holm across those)."""
    def arch_key(c):
        return tuple((k, v) for k, v in c.items() if k not in {
            "arm", "activation", "n_params", "flops", "seeds", "rates", "val_accuracy_by_rate",
            "test_accuracy_by_rate", "series", "naive", "tuned"})

    refs = {arch_key(c): c for c in configs if c["activation"] == reference}
    per = []
    for c in configs:
        if c["activation"] == reference or arch_key(c) not in refs:
            continue
        r = refs[arch_key(c)]
        naive, fair = _pair_gap(r, c, "naive"), _pair_gap(r, c, "tuned")
        per.append({"activation": c["activation"], "hidden": c.get("hidden"), "series": c["series"],
                    "naive": naive, "tuned": fair, "survives": _survives(naive, fair)})
    decisions.decide([p[w] for p in per for w in ("naive", "tuned") if p[w]])
    for p in per:
        for w in ("naive", "tuned"):
            if p[w]:
                p[w]["verdict"] = _gap_verdict(p[w], reference, p["activation"], f"{w}, at {p['hidden']}")
    overall = _overall(per)
    tests = [(act, w, o[f"{w}_test"]) for act, o in overall.items() for w in ("naive", "tuned")
             if o[f"{w}_test"]]
    decisions.decide([t for _, _, t in tests])
    for act, w, t in tests:
        n = overall[act]["n_architectures"]
        t["verdict"] = _gap_verdict(t, reference, act, f"{'naive' if w == 'naive' else 'tuned'}, "
                                    f"over {n} architectures")
    focus_rows = [p for p in per if focus is not None and p["hidden"] == focus]
    return {"reference": reference, "focus": focus, "per_architecture": per, "focus_rows": focus_rows,
            "overall": overall, "equivalence_margin": EQUIVALENCE_MARGIN, "alpha": decisions.ALPHA,
            "correction": decisions.CORRECTION, "warning": _seeds_warning(per)}


def _seeds_warning(per: list[dict]) -> str | None:
    """Why no per-architecture gap can pass Holm's correction, when the seeds are too few."""
    gs = [p[w] for p in per for w in ("naive", "tuned") if p[w]]
    if not gs:
        return None
    n, m = max(g["n"] for g in gs), gs[0]["n_tests"]
    if n >= decisions.min_pairs(decisions.ALPHA, m):
        return None
    return (f"{n} paired seeds cannot pass Holm's correction over the {m} per-architecture gaps (its "
            f"first step needs p ≤ {decisions.ALPHA / m:.2g}; {n} seeds reach {decisions.min_p(n):.2g} "
            f"at best): per architecture the report gives estimates and intervals, and the verdicts "
            f"come from the tests across architectures")


def _survives(naive: dict | None, fair: dict | None) -> float | None:
    """The fraction of the naive gap left after tuning (None when there was no gap)."""
    if not naive or not fair or naive.get("mean") is None or fair.get("mean") is None:
        return None
    if abs(naive["mean"]) < 0.005:
        return None
    return float(fair["mean"] / naive["mean"])


def cheapest_table(configs: list[dict], target: float, fraction: float, which: str) -> dict:
    """Per series, the cheapest configuration reaching ``target`` in ``fraction`` of seeds."""
    rows = [{"series": c["series"], "flops": c["flops"], "n_params": c["n_params"],
             "test": c[which]["test"], "cfg": c} for c in configs if c.get(which)]
    best = cost.cheapest(rows, target, fraction, key="test", by="series")
    out: dict[str, dict | None] = {}
    for series, r in best.items():
        if r is None:
            out[series] = None
            continue
        c = r["cfg"]
        out[series] = {"hidden": c.get("hidden"), "flops": c["flops"], "n_params": c["n_params"],
                       "lr": c[which]["lr"], "mean": c[which]["mean"],
                       "success": cost.success_rate(c[which]["test"], target)}
    return out


def pareto(configs: list[dict], which: str = "tuned") -> dict:
    """Per series: its points (FLOPs, mean test accuracy, architecture) and front indices."""
    out = {}
    for series in dict.fromkeys(c["series"] for c in configs):
        pts = [c for c in configs if c["series"] == series and c.get(which) and c[which]["mean"] is not None]
        fl = [p["flops"] for p in pts]
        acc = [p[which]["mean"] for p in pts]
        out[series] = {"flops": fl, "accuracy": acc, "hidden": [p.get("hidden") for p in pts],
                       "front": cost.pareto_front(fl, acc)}
    return out


def measure(configs: list[dict], cheapest: dict, focus: str | None, engine: str, batch: int,
            n_inputs: int = 2, n_classes: int = 2) -> dict:
    """Measured timings on this machine: each activation alone, the focus architecture, the
    largest one swept, and each series' cheapest network."""
    acts = list(dict.fromkeys(c["activation"] for c in configs))
    out: dict = {"engine": engine, "batch": batch, "activation_ns_per_element": {}, "networks": []}
    for a in acts:
        if "/" not in a:
            out["activation_ns_per_element"][a] = cost.activation_ns_per_element(a)
    archs = []
    if focus:
        archs.append(("focus", focus))
    big = max(configs, key=lambda c: c["flops"]).get("hidden") if configs else None
    if big and big != focus:
        archs.append(("largest", big))
    for label, hidden in archs:
        for a in acts:
            out["networks"].append(_timed(label, a, hidden, engine, batch, n_inputs, n_classes, MLPSpec))
    for series, best in cheapest.items():
        if best is not None:
            act = series.split(" | ")[0]
            out["networks"].append(_timed(f"cheapest ({series})", act, best["hidden"], engine, batch,
                                          n_inputs, n_classes, MLPSpec))
    return out


def _timed(label, act, hidden, engine, batch, n_inputs, n_classes, MLPSpec) -> dict:
    sizes = [int(h) for h in str(hidden).split("-")]
    acts = act.split("/") if "/" in act else act
    mlp = MLPSpec(n_inputs=n_inputs, hidden=sizes, activation=acts, n_classes=n_classes)
    t = cost.measure_latency(mlp, engine=engine, batch=batch)
    return {"label": label, "activation": act, "hidden": hidden, "flops": cost.flops_per_prediction(mlp),
            **t}


def analyse(sweep, rows: list[dict]) -> dict:
    """Everything the sweep report states, as plain data (written to analysis.json)."""
    t = sweep.table
    configs = configurations(rows, sweep.tuned, sweep.shared_lr)
    acts = list(dict.fromkeys(c["activation"] for c in configs))
    reference = t.reference or ("relu" if "relu" in acts else (acts[0] if acts else None))
    focus_hidden = t.focus or list(sweep.base.model.hidden)
    focus: str | None = "-".join(map(str, focus_hidden))
    if not any(c.get("hidden") == focus for c in configs):
        focus = None
    cheap_t = cheapest_table(configs, t.target_accuracy, t.success_fraction, "tuned")
    cheap_n = cheapest_table(configs, t.target_accuracy, t.success_fraction, "naive")
    out = {"name": sweep.name, "description": t.description, "tuned": sweep.tuned,
           "shared_lr": sweep.shared_lr, "lr_grid": sweep.lr_values,
           "target_accuracy": t.target_accuracy, "success_fraction": t.success_fraction,
           "n_rows": len(rows), "n_configs": len(configs), "seeds": len(sweep.base.seeds.as_list()),
           "epochs": sweep.base.train.epochs, "engine": sweep.base.train.engine,
           "activations": acts, "configs": configs,
           "gaps": gaps(configs, reference, focus) if reference else None,
           "cheapest": {"tuned": cheap_t, "naive": cheap_n},
           "pareto": pareto(configs, "tuned"),
           "grid_edge": grid_edge(configs) if sweep.tuned else None,
           "convention": cost.convention_table([a for a in acts if "/" not in a]),
           "latency": None}
    if t.latency and configs:
        n_inputs = 2
        try:
            d = load_dataset(sweep.base.data)
            n_inputs, n_classes = d.n_features, d.n_classes
        except Exception:  # noqa: BLE001 - timing is a complement; never fail the sweep for it
            n_classes = 2
        out["latency"] = measure(configs, cheap_t, focus, sweep.base.train.engine, t.latency_batch,
                                 n_inputs, n_classes)
    return out


def grid_edge(configs: list[dict]) -> dict:
    """How many configurations chose the smallest or the largest rate of the grid (where a
    wider grid might have found a better one), per activation."""
    out: dict = {}
    for c in configs:
        if not c.get("tuned") or len(c["rates"]) < 2:
            continue
        e = out.setdefault(c["activation"], {"n": 0, "lowest": 0, "highest": 0})
        e["n"] += 1
        e["lowest"] += c["tuned"]["lr"] == c["rates"][0]
        e["highest"] += c["tuned"]["lr"] == c["rates"][-1]
    return out


def configs_csv_rows(analysis: dict) -> list[dict]:
    """configs.csv: one row per configuration, naive and tuned side by side."""
    out = []
    for c in analysis["configs"]:
        row = {k: v for k, v in c.items() if k not in (
            "seeds", "rates", "val_accuracy_by_rate", "test_accuracy_by_rate", "naive", "tuned")}
        for name in ("naive", "tuned"):
            r = c.get(name)
            row[f"{name}_lr"] = r["lr"] if r else None
            row[f"{name}_test_accuracy"] = r["mean"] if r else None
            row[f"{name}_ci_low"] = r["ci95"][0] if r and r["ci95"] else None
            row[f"{name}_ci_high"] = r["ci95"][1] if r and r["ci95"] else None
            row[f"{name}_success"] = (cost.success_rate(r["test"], analysis["target_accuracy"])
                                      if r else None)
        out.append(row)
    return out
