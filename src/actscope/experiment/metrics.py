"""metrics.json: what every member of every arm measured, summarised over seeds, with the
comparisons between arms. The schema: docs/design.md and metrics.schema.json."""

from __future__ import annotations

import numpy as np

from actscope.analysis import probes
from actscope.analysis.classmetrics import per_member_reports
from actscope.analysis.decisions import ALPHA, CORRECTION, TEST_NOTE, min_p, min_pairs
from actscope.analysis.intervals import CI_NOTE, MIN_SEEDS_INTERVAL
from actscope.analysis.stats import EQUIVALENCE_MARGIN, compare_arms, mean_ci, summarize_arm
from actscope.data.generators import Dataset
from actscope.experiment.rundir import ArmResult, Run

SUMMARY_METRICS = ("test_accuracy", "test_loss", "final_train_loss", "val_accuracy",
                   "test_macro_f1", "test_balanced_accuracy")


def member_metrics(engine, arm: ArmResult, data: Dataset, points: dict[str, np.ndarray]) -> list[dict]:
    """The per-member entries of metrics.json."""
    h = arm.history
    params = engine.from_numpy(arm.params)
    test_loss, test_acc = h.last("test/loss"), h.last("test/accuracy")
    std = probes.hidden_std(engine, arm.mlp, params, data.X_test)
    traces = {name: probes.signal_trace(engine, arm.mlp, params, x)[:, 0, :] for name, x in points.items()}
    has_val = "val/accuracy" in h
    val_acc = h.last("val/accuracy") if has_val else None
    reports = per_member_reports(engine, arm.mlp, params, data.X_test, data.y_test, data.n_classes)
    final_train = h.last("train/running_loss")
    diverged = h.diverged
    assert diverged is not None  # fit sets it
    out = []
    for k, seed in enumerate(arm.seeds):
        div = bool(diverged[k])

        def num(x):
            return None if div or not np.isfinite(x) else float(x)

        m = {"seed": int(seed), "diverged": div,
             "final_train_loss": num(final_train[k]),
             "test_accuracy": num(test_acc[k]), "test_loss": num(test_loss[k]),
             "hidden_std": None if div else [float(s) for s in std[k]],
             "signal_trace": {} if div else {n: [float(v) for v in t[k]] for n, t in traces.items()}}
        if val_acc is not None:  # has_val
            m["val_accuracy"] = num(val_acc[k])
        if not div:  # per-class metrics on the test split (classmetrics.py)
            rep = reports[k]
            m["test_macro_f1"] = rep.pop("macro_f1")
            m["test_balanced_accuracy"] = rep.pop("balanced_accuracy")
            m["test_per_class"] = rep
        if div:
            m["diverged_epoch"] = int(h.diverged_epoch[k]) + 1 if h.diverged_epoch is not None else None
        out.append(m)
    return out


def compute_metrics(run: Run, engine, points: dict[str, np.ndarray], setup=None) -> dict:
    """metrics.json for a Run whose arms are trained (``setup``: a probes.ProbeSetup)."""
    if setup is None and run.spec.probes.include:
        setup = probes.setup_probes(run.dataset, run.spec.probes, run.spec.data)
    arms = {}
    for arm in run.arms.values():
        members = member_metrics(engine, arm, run.dataset, points)
        summary = {key: mean_ci([m.get(key) for m in members], key=key)
                   for key in SUMMARY_METRICS if any(key in m for m in members)}
        if setup is not None:  # the probes of [probes] on the final parameters (probes.py)
            vals = probes.final_probes(engine, arm.mlp, engine.from_numpy(arm.params), arm.history, setup)
            probes.attach_to_members(members, vals)
            summary.update(summarize_arm({"members": members}, keys=list(vals)))
        arms[arm.name] = {"activation": list(arm.mlp.activation), "init": arm.mlp.init,
                          "n_classes": arm.mlp.n_classes, "sizes": list(arm.mlp.sizes),
                          "members": members, "summary": summary,
                          "n_diverged": int(sum(m["diverged"] for m in members))}
    d = run.dataset
    return {
        "name": run.spec.name, "arms": arms,
        "stages": probes.stage_names(next(iter(run.arms.values())).mlp) if run.arms else [],
        "points": {n: [float(v) for v in x] for n, x in points.items()},
        "epochs": run.spec.train.epochs,
        "dataset": {"name": d.name, "n_train": len(d.y_train), "n_test": len(d.y_test),
                    "n_val": 0 if d.y_val is None else len(d.y_val), "n_features": d.n_features,
                    "n_classes": d.n_classes, "class_names": list(d.class_names)},
        "interrupted": run.interrupted,
        "probes": None if setup is None else {
            "include": list(setup.include), "split": setup.split,
            "baseline": {k: float(v) if np.isfinite(v) else None for k, v in setup.baseline.items()},
            "epochs": [e + 1 for e in run.spec.probes.record_epochs(run.spec.train.epochs)]
            + [run.spec.train.epochs], "true_boundary": setup.true_dist is not None},
        **_comparisons(arms),
    }


def statistics(comparisons: list[dict]) -> dict:
    """The rule behind the summaries and the comparisons, stated for metrics.json and the
    report: α, correction, test, interval, minimum seeds, and a warning when the seeds are
    too few for any verdict."""
    n_tests = len([c for c in comparisons if c.get("p") is not None])
    seeds = max((c["n"] for c in comparisons), default=0)
    need = min_pairs(ALPHA)
    warning = None
    if comparisons and seeds < need:
        warning = (f"{seeds} paired seed{'s' if seeds != 1 else ''} cannot give any verdict: the smallest "
                   f"attainable p is {min_p(seeds):.2g} > α = {ALPHA:g}; "
                   f"a difference needs at least {need} seeds")
    elif n_tests > 1 and seeds < min_pairs(ALPHA, n_tests):
        warning = (f"{seeds} paired seeds cannot pass Holm's correction over {n_tests} tests: its first "
                   f"step needs p ≤ {ALPHA / n_tests:.2g} and the smallest attainable p is "
                   f"{min_p(seeds):.2g}, so no difference can be declared; that needs at least "
                   f"{min_pairs(ALPHA, n_tests)} seeds")
    return {"ci": CI_NOTE, "paired": TEST_NOTE, "alpha": ALPHA, "correction": CORRECTION,
            "n_tests": n_tests, "min_seeds_interval": MIN_SEEDS_INTERVAL, "min_seeds_verdict": need,
            "equivalence_margin": EQUIVALENCE_MARGIN, "warning": warning}


def _comparisons(arms: dict) -> dict:
    comps = compare_arms(arms, label=probes.label)
    return {"statistics": statistics(comps), "comparisons": comps}
