"""A Run in a notebook: a one-line ``repr``, an HTML summary (per-arm table, verdicts, the key
figure) and pandas DataFrames of its members and its history.

Everything shown is read from the run's metrics and its history, as the report shows it;
the figure is the one the report drew (``figures/``), embedded as an inline PNG.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from actscope._util import notebook as nb
from actscope.training.history import STATS

KEY_FIGURES = ("decision_boundaries.png", "loss_curves.png")  # the first one drawn is shown
SUMMARY = (("test_accuracy", "test accuracy"), ("test_loss", "test loss"),
           ("final_train_loss", "final train loss"))
MEMBER_COLUMNS = ("arm", "activation", "seed")


def run_state(run) -> str:
    """complete, interrupted or (not saved) in memory."""
    if run.interrupted:
        return "interrupted"
    return "complete" if run.path is not None else "in memory"


def run_repr(run) -> str:
    """One line: name, arms, members, epochs, state and where the run is."""
    arms = list(run.arms)
    k = len(next(iter(run.arms.values())).seeds) if run.arms else 0
    shown = ", ".join(arms[:6]) + (f", … ({len(arms)} arms)" if len(arms) > 6 else "")
    where = f", path={str(run.path)!r}" if run.path is not None else ""
    return (f"Run({run.name!r}, arms=[{shown}], members={k}, epochs={run.metrics.get('epochs', '?')}, "
            f"{run_state(run)}{where})")


def _summary_cell(s: dict | None, percent: bool) -> str:
    """``mean [lo, hi]`` as the report writes it, or the reason there is no interval."""
    if not s or s.get("mean") is None:
        return "–"
    f = (lambda v: f"{100 * v:.1f}%") if percent else (lambda v: f"{v:.4f}")
    ci = s.get("ci95")
    if ci:
        return f"{f(s['mean'])} [{f(ci[0])}, {f(ci[1])}]"
    return f"{f(s['mean'])} ({s.get('note') or 'no interval'})"


def _arm_rows(run) -> list[list]:
    rows = []
    for name, am in run.metrics.get("arms", {}).items():
        acts = ", ".join(dict.fromkeys(am["activation"]))
        summ = [_summary_cell(am["summary"].get(key), "accuracy" in key) for key, _ in SUMMARY]
        rows.append([name, acts, f"{am.get('n_diverged', 0)}/{len(am['members'])}", *summ])
    return rows


def _figure(run) -> str:
    """The report's key figure, inline, or a line saying why there is none."""
    folder = Path(run.path) / "figures" if run.path is not None else None
    for name in KEY_FIGURES:
        if folder is not None and (folder / name).is_file():
            return nb.png(folder / name, f"{run.name}: {name[:-4].replace('_', ' ')}")
    why = "the run is not saved" if folder is None else f"no report figures in {folder}"
    return nb.paragraph(f"No figure: {why} (actscope report RUN_DIR draws them).")


def run_html(run) -> str:
    """The notebook view of a run: heading, per-arm summary, verdicts, the key figure."""
    m = run.metrics
    k = len(next(iter(run.arms.values())).seeds) if run.arms else 0
    engine = m.get("engine", {}).get("name", run.spec.train.engine)
    line = (f"{len(run.arms)} arms × {k} seeds, {m.get('epochs', run.spec.train.epochs)} epochs, "
            f"{run.dataset.name}, engine {engine}, {run_state(run)}"
            + (f" — {run.path}" if run.path is not None else ""))
    header = ["arm", "activation", "diverged", *(label + " (95% CI)" for _, label in SUMMARY)]
    parts = [nb.heading(f"actscope run {run.name}", line),
             nb.table(header, _arm_rows(run)) if m.get("arms") else nb.paragraph("No metrics yet.")]
    verdicts = [c["verdict"] for c in m.get("comparisons", []) if c.get("verdict")]
    warning = (m.get("statistics") or {}).get("warning")
    if warning:
        parts.append(nb.paragraph(f"Warning: {warning}"))
    if verdicts:
        parts.append(nb.paragraph("Verdicts (paired by seed, Wilcoxon signed-rank, Holm-corrected):")
                     + nb.items(verdicts))
    parts.append(_figure(run))
    return "<div>" + "".join(parts) + "</div>"


def members_frame(run):
    """A DataFrame with one row per arm and member: seed, diverged and every number
    metrics.json holds for that member (lists such as ``hidden_std`` one column per layer)."""
    pd = nb.pandas()
    rows = []
    for name, am in run.metrics.get("arms", {}).items():
        acts = ", ".join(dict.fromkeys(am["activation"]))
        for member in am["members"]:
            row = {"arm": name, "activation": acts}
            for key, value in member.items():
                if isinstance(value, list):
                    row.update({f"{key}.L{i + 1}": v for i, v in enumerate(value)})
                elif not isinstance(value, dict):
                    row[key] = value
            rows.append(row)
    return pd.DataFrame(rows)


def history_frame(run, per_member: bool = False):
    """The training history as a tidy DataFrame.

    By default one row per arm, metric (``train/running_loss``, ``test/accuracy``, ...)
    and epoch (1-based, only the epochs where it was measured), with the statistics over
    the members (n, mean, std, min, quantiles, max). ``per_member=True``: one row per
    arm, metric, epoch and seed with its value, where the run kept per-member rows
    (members × epochs ≤ 1,000,000); a ValueError otherwise.
    """
    pd = nb.pandas()
    frames = []
    for name, arm in run.arms.items():
        h = arm.history
        for key in h.keys():
            if per_member:
                frames.append(_member_rows(pd, name, key, h, arm.seeds))
                continue
            s = h.summary(key)
            rows = np.where(s[:, 0] > 0)[0]
            frame = pd.DataFrame(s[rows], columns=list(STATS))
            frame.insert(0, "epoch", rows + 1)
            frame.insert(0, "metric", key)
            frame.insert(0, "arm", name)
            frames.append(frame.astype({"n": "int64"}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _member_rows(pd, arm: str, key: str, h, seeds: list[int]):
    if key not in h.values:
        raise ValueError(f"history of arm {arm!r}: only summaries over members are kept "
                         "(members × epochs > 1,000,000); use per_member=False")
    v = h.values[key]
    epochs, cols = np.nonzero(np.isfinite(v))
    return pd.DataFrame({"arm": arm, "metric": key, "epoch": epochs + 1,
                         "seed": np.asarray(seeds)[cols], "value": v[epochs, cols]})


class NotebookProgress:
    """Training progress as a table in the notebook cell, one row per arm: epochs done, the
    last mean running loss. The ``start(arm, epochs)`` / ``advance(arm, loss)`` protocol of
    `experiment.run.train_arms`; the table is redrawn at most every ``REFRESH_S`` seconds
    and whenever an arm finishes."""

    REFRESH_S = 0.25

    def __init__(self) -> None:
        from IPython.display import HTML, display

        self._html = HTML
        self._handle = display(HTML(""), display_id=True)
        self._arms: dict[str, list] = {}
        self._shown = 0.0

    def start(self, arm: str, epochs: int) -> None:
        self._arms[arm] = [0, epochs, None]
        self._show()

    def advance(self, arm: str, loss: float | None = None) -> None:
        row = self._arms[arm]
        row[0] += 1
        row[2] = loss if loss is not None else row[2]
        if row[0] >= row[1] or time.monotonic() - self._shown > self.REFRESH_S:
            self._show()
            self._shown = time.monotonic()

    def _show(self) -> None:
        rows = [[arm, f"{done}/{total}", "–" if loss is None else f"{loss:.4f}"]
                for arm, (done, total, loss) in self._arms.items()]
        self._handle.update(self._html(nb.table(["arm", "epochs", "running loss"], rows, caption="training")))


def notebook_progress() -> NotebookProgress | None:
    """A NotebookProgress when this Python is a Jupyter kernel, else None."""
    if "ipykernel" not in sys.modules:
        return None
    from IPython import get_ipython

    shell = get_ipython()
    return NotebookProgress() if shell is not None and hasattr(shell, "kernel") else None
