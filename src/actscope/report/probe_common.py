"""What the probes' figures share: which probes a run measured, per-layer means with
their intervals, and error bars dodged so that many arms stay apart."""

from __future__ import annotations

import numpy as np

from actscope.analysis.intervals import MIN_SEEDS_INTERVAL
from actscope.experiment.rundir import Run


def probe_info(run: Run) -> dict | None:
    """The run's ``probes`` entry of metrics.json (None when no probe ran)."""
    return run.metrics.get("probes")


def included(run: Run, probe: str) -> dict | None:
    """The run's probe info when ``probe`` was measured, else None (no figure)."""
    info = probe_info(run)
    return info if info and probe in info["include"] else None


def not_measured(run: Run, probe: str) -> str | None:
    """Why a probe's figure is absent, in the words the report prints; None when the run
    measured no probe at all (``include = []``: the report has no probe section then)."""
    return f"the {probe!r} probe is not in [probes] include" if probe_info(run) else None


def interval_note(run: Run) -> str:
    n = len(run.spec.seeds.as_list())
    if n >= MIN_SEEDS_INTERVAL:
        return "mean ± 95% interval over seeds"
    return f"{n} seed{'s' if n > 1 else ''}: too few for an interval (need ≥{MIN_SEEDS_INTERVAL})"


def dodge(j: int, run: Run) -> float:
    """x offset of arm ``j``, so that the arms' error bars do not overlap."""
    return min(0.06, 0.5 / max(len(run.arms), 1)) * (j - (len(run.arms) - 1) / 2)


def stat(run: Run, arm: str, key: str) -> tuple[float, float, float] | None:
    """(mean, lo, hi) of a metric over an arm's seeds; lo = hi = mean without an interval."""
    s = run.metrics["arms"][arm]["summary"].get(key)
    if not s or s.get("mean") is None:
        return None
    ci = s.get("ci95") or [s["mean"], s["mean"]]
    return s["mean"], ci[0], ci[1]


def layers(run: Run, arm: str, base: str, start: int = 1) -> tuple[list[int], list, list, list]:
    """Layers where ``base.L<i>`` has a value, with means and the distances to the
    interval's bounds (error bar lengths, never negative)."""
    idx, m, lo, hi = [], [], [], []
    depth = run.arms[arm].mlp.depth
    for i in range(start, depth + 2):
        st = stat(run, arm, f"{base}.L{i}")
        if st is not None:
            idx.append(i)
            m.append(st[0])
            lo.append(max(st[0] - st[1], 0.0))
            hi.append(max(st[2] - st[0], 0.0))
    return idx, m, lo, hi


def errorbar(ax, x, m, lo, hi, color, label, style="o-", offset=0.0) -> None:
    if not x:
        return
    ax.errorbar(np.asarray(x, dtype=float) + offset, m, yerr=[lo, hi], fmt=style, color=color,
                lw=2, ms=6, capsize=3, label=label)


def smooth(v: np.ndarray, w: int = 10) -> np.ndarray:
    """Trailing moving average over ``w`` points (shorter at the start)."""
    c = np.cumsum(np.insert(v, 0, 0.0))
    n = np.minimum(np.arange(1, len(v) + 1), w)
    return (c[1:] - c[np.arange(1, len(v) + 1) - n]) / n
