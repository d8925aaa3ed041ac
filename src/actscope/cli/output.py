"""``--json``: one JSON document on stdout, and nothing else there; the summaries it holds."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click


def _finite(v: Any) -> Any:
    """NaN and infinities as null: JSON has no such numbers."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_finite(x) for x in v]
    return v


def echo_json(doc: dict) -> None:
    """Print ``doc`` as one JSON document on stdout (paths as strings, NaN as null)."""
    click.echo(json.dumps(_finite(doc), indent=2, default=str, allow_nan=False))


def run_summary(metrics: dict, path: Path, report: Path | None) -> dict:
    """What a run prints, as data: its directory, each arm's test accuracy (mean, 95%
    interval, n, why there is none) and final training loss, and the test-accuracy verdicts."""
    arms = {}
    for name, arm in metrics["arms"].items():
        s = arm["summary"]["test_accuracy"]
        arms[name] = {"activation": arm.get("activation"),
                      "test_accuracy": {k: s.get(k) for k in ("mean", "ci95", "n", "note")},
                      "final_train_loss": arm["summary"].get("final_train_loss", {}).get("mean")}
    verdicts = [{k: c.get(k) for k in ("a", "b", "estimate", "ci95", "p_adjusted", "decision", "verdict")}
                for c in metrics.get("comparisons", []) if c["metric"] == "test_accuracy"]
    return {"run_dir": str(path), "report": None if report is None else str(report),
            "interrupted": bool(metrics.get("interrupted")), "arms": arms, "verdicts": verdicts}


def run_lines(summary: dict) -> list[str]:
    """The summary as the lines ``run`` prints: one per arm, then the verdicts."""
    lines = []
    for name, arm in summary["arms"].items():
        s = arm["test_accuracy"]
        ci = s.get("ci95")
        ci_txt = f"  95% CI [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else (f"  {s['note']}" if s.get("note") else "")
        fl = arm["final_train_loss"]
        fl_txt = f"  final train loss {fl:.4f}" if fl is not None else ""
        acc_txt = "n/a" if s.get("mean") is None else f"{s['mean']:.4f}"
        lines.append(f"{name:<12} test accuracy {acc_txt} (n={s['n']}){ci_txt}{fl_txt}")
    return lines + [v["verdict"] for v in summary["verdicts"]]
