"""The run's report: every figure as PNG, and one self-contained HTML page.

Figures are embedded as base64 data URIs, so ``report.html`` reads offline on its own.
Other modules add figures and sections by registering them (``add_figure``, ``add_section``).
"""

from __future__ import annotations

import base64
import io
import multiprocessing as mp
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import jinja2
import matplotlib.pyplot as plt

from actscope._util.atomic import atomic_write
from actscope._util.cores import env_workers, usable_cores
from actscope._util.parallel import can_fork
from actscope.experiment.rundir import Run
from actscope.report.early import EarlyFigures
from actscope.report.figures import FIGURES
from actscope.report.page_css import PAGE_CSS
from actscope.report.style import write_figure

# Extra figures: name -> (function(run) -> Figure | None, needs 2-D inputs)
_EXTRA_FIGURES: dict[str, tuple[Callable, bool]] = {}
# Extra sections: name -> function(run) -> HTML string (or None to skip)
_SECTIONS: dict[str, Callable[[Run], str | None]] = {}


# Figures that take longest to draw: they start first, so that the workers end together
_HEAVY: set[str] = {"hidden_space", "signal_trace", "decision_boundaries"}
# Figures that read the trained arms, never the metrics (`start_early` may draw them first)
_FROM_ARMS: set[str] = {"dataset", "loss_curves", "decision_boundaries", "hidden_space"}
# Work a figure can do from the spec alone, before the run exists: function(spec) -> None
_PREPARE: list[Callable] = []


def add_figure(name: str, fn: Callable, needs_2d: bool = False, heavy: bool = False,
               prepare: Callable | None = None, from_arms: bool = False) -> None:
    """Register ``fn(run) -> Figure | None``; ``prepare(spec)`` may compute ahead what it
    will need (`prepare` runs it in the report worker while the parent is still loading).
    ``from_arms``: the figure reads the spec, the data and the trained arms, never the
    run's metrics, so it may be drawn while they are computed (`start_early`)."""
    _EXTRA_FIGURES[name] = (fn, needs_2d)
    if heavy:
        _HEAVY.add(name)
    if from_arms:
        _FROM_ARMS.add(name)
    if prepare is not None:
        _PREPARE.append(prepare)


def prepare(spec) -> None:
    """Do every figure's spec-only work now; the figures of a run of ``spec`` then reuse it.
    Preparing only saves time: a preparer that fails leaves its figure to do (or report)
    the work when it draws."""
    for fn in _PREPARE:
        try:
            fn(spec)
        except Exception:  # noqa: BLE001, S112 - the figure meets the same error, and says it
            continue


def add_section(name: str, fn: Callable[[Run], str | None]) -> None:
    _SECTIONS[name] = fn


TEMPLATE = jinja2.Template("""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>actscope -- {{ name }}</title>
<style>
""" + PAGE_CSS + """</style></head><body>
<h1>{{ name }}</h1>
{% if description %}<p>{{ description }}</p>{% endif %}
{% if interrupted %}<p><b>This run was interrupted: only the finished arms are shown.</b></p>{% endif %}
<p class="note">{{ n_seeds }} seed(s) per arm; dataset {{ dataset.name }}: {{ dataset.n_train }} train,
{{ dataset.n_val }} validation, {{ dataset.n_test }} test points; engine {{ engine }}.
Intervals are 95% Student-t intervals over seeds{% if n_seeds < 2 %}
(with one seed no interval can be given){% endif %}.</p>
<h2>Results</h2>
<table>
<tr><th>arm</th><th>activation</th><th>test accuracy</th><th>95% CI</th><th>test loss</th>
<th>final train loss</th><th>hidden std (per layer)</th><th>diverged</th></tr>
{% for row in rows %}
<tr><td>{{ row.name }}</td><td>{{ row.activation }}</td><td>{{ row.acc }}</td><td>{{ row.ci }}</td>
<td>{{ row.test_loss }}</td><td>{{ row.train_loss }}</td><td>{{ row.std }}</td>
<td>{{ row.diverged }}</td></tr>
{% endfor %}
</table>
{% for title, html in sections %}<h2>{{ title }}</h2>{{ html|safe }}{% endfor %}
<h2>Figures</h2>
{% for fig in figures %}<h3>{{ fig.title }}</h3>
<img alt="{{ fig.title }}" src="data:image/png;base64,{{ fig.data }}">
{% if fig.note %}<p class="note">{{ fig.note }}</p>{% endif %}
{% endfor %}
{% for note in skipped %}<p class="note">{{ note }}</p>{% endfor %}
<h2>Configuration</h2><pre>{{ config }}</pre>
</body></html>
""", autoescape=True)


def _fmt(v, pct: bool = False) -> str:
    if v is None:
        return "--"
    return f"{100 * v:.1f}%" if pct else f"{v:.4f}"


def _rows(run: Run) -> list[dict]:
    rows = []
    for name, am in run.metrics.get("arms", {}).items():
        s = am["summary"].get("test_accuracy", {})
        ci = s.get("ci95")
        ok = [m for m in am["members"] if not m["diverged"]]
        stds = [m["hidden_std"] for m in ok]
        mean_std = [sum(col) / len(col) for col in zip(*stds)] if stds else []
        tl = am["summary"].get("test_loss", {}).get("mean")
        fl = am["summary"].get("final_train_loss", {}).get("mean")
        rows.append({
            "name": name, "activation": ", ".join(dict.fromkeys(am["activation"])),
            "acc": _fmt(s.get("mean"), pct=True),
            "ci": (f"[{100 * ci[0]:.1f}%, {100 * ci[1]:.1f}%]" if ci
                   else s.get("note") or "no interval"),
            "test_loss": _fmt(tl), "train_loss": _fmt(fl),
            "std": " → ".join(f"{v:.2f}" for v in mean_std),
            "diverged": f"{am.get('n_diverged', 0)}/{len(am['members'])}",
        })
    return rows


_RUN_FOR_WORKERS: Run | None = None  # the run the forked figure workers draw


def _all_figures() -> dict[str, tuple[Callable, bool]]:
    return {**FIGURES, **_EXTRA_FIGURES}


def render(run: Run, name: str, dpi: int) -> tuple[bytes | None, str | None]:
    """Figure ``name`` of ``run`` as PNG bytes, with the note to show under it.

    A figure function returns a Figure, ``(Figure, note)`` (a note shown under it), a
    string (why it is not drawn: the report says so) or None (it does not apply).
    Returns (PNG or None, note or None).
    """
    out = _all_figures()[name][0](run)
    fig, note = out if isinstance(out, tuple) else (out, None)
    if isinstance(fig, str):
        return None, f"Figure '{name}' not drawn: {fig}"
    if fig is None:
        return None, None
    buf = io.BytesIO()
    try:  # constrained or tight layouts: no "tight" bbox needed
        write_figure(fig, buf, dpi, format="png")
    finally:
        plt.close(fig)
    return buf.getvalue(), note


def _draw_one(task: tuple[str, int]) -> tuple[bytes | None, str | None]:
    """`render` one figure of ``_RUN_FOR_WORKERS`` (in this process or a forked one)."""
    name, dpi = task
    return render(_RUN_FOR_WORKERS, name, dpi)  # type: ignore[arg-type]  # set by write_figures


def _n_workers(n_tasks: int, workers: int | None) -> int:
    """Processes to draw with: ``workers``, else $ACTSCOPE_REPORT_WORKERS, else the CPU count;
    1 where processes cannot be forked (the figures then draw in this process)."""
    if workers is None:
        workers = env_workers("ACTSCOPE_REPORT_WORKERS", usable_cores())
    if not can_fork():
        return 1
    return max(1, min(workers, n_tasks))


def figure_names(run: Run) -> tuple[list[str], list[str]]:
    """The figures that apply to ``run``, in the report's order, and the notes on those
    skipped because they need 2-D inputs."""
    names, skipped = [], []
    for name, (_, needs_2d) in _all_figures().items():
        if needs_2d and not run.dataset.is_2d:
            skipped.append(f"Figure '{name}' skipped: it needs 2-D inputs and this data has "
                           f"{run.dataset.n_features} features.")
            continue
        names.append(name)
    return names, skipped


def write_figures(run: Run, out_dir: Path, dpi: int = 110, workers: int | None = None,
                  early: EarlyFigures | None = None) -> tuple[list[Path], list[str], dict[Path, str]]:
    """Save every figure that applies to ``run`` as PNG; returns the paths, the notes on
    figures not drawn (and why), and the notes to show under drawn figures.

    Figures are independent, so they are drawn by a pool of forked processes (matplotlib
    rendering is CPU-bound and single-threaded); ``workers=1`` draws them here, in order.
    ``early`` holds figures already being drawn from the trained arms (`start_early`).
    """
    global _RUN_FOR_WORKERS
    fig_dir = out_dir / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    names, skipped = figure_names(run)
    todo = [n for n in names if early is None or n not in early.names]
    todo.sort(key=lambda n: n not in _HEAVY)  # heavy first, so that the workers end together
    n = _n_workers(len(todo), workers)
    _RUN_FOR_WORKERS = run
    try:
        if n > 1:
            with ProcessPoolExecutor(n, mp_context=mp.get_context("fork")) as pool:
                drawn = dict(zip(todo, pool.map(_draw_one, [(name, dpi) for name in todo])))
        else:
            drawn = {name: _draw_one((name, dpi)) for name in todo}
    finally:
        _RUN_FOR_WORKERS = None
    if early is not None:
        drawn.update(early.result())
    paths, notes = [], {}
    for name in names:  # the report keeps the registry's order
        png, note = drawn[name]
        if png is None:
            if note:
                skipped.append(note)
            continue
        paths.append(atomic_write(fig_dir / f"{name}.png", png))
        if note:
            notes[paths[-1]] = note
    return paths, skipped, notes


def start_early(run: Run, workers: int | None = None) -> EarlyFigures | None:
    """Start drawing, in a forked process, the figures of ``run`` that need only its trained
    arms (registered ``from_arms``), while the run is still being measured; None where the
    figures are drawn in this process (one worker, or no fork)."""
    names = [n for n in figure_names(run)[0] if n in _FROM_ARMS]
    n = _n_workers(len(names) + 1, workers)
    if not names or n < 2:
        return None
    names.sort(key=lambda name: name not in _HEAVY)  # the longest first
    return EarlyFigures(run, names, run.spec.report.dpi, render, workers=n)


def write_report(run: Run, out_dir: str | Path, early: EarlyFigures | None = None) -> Path:
    """Write ``figures/*.png`` and ``report.html`` into ``out_dir``; returns the HTML path.
    ``early``: the figures `start_early` began drawing before ``run`` was measured."""
    out_dir = Path(out_dir)
    paths, skipped, notes = write_figures(run, out_dir, dpi=run.spec.report.dpi, early=early)
    figures = [{"title": p.stem.replace("_", " ").capitalize(), "note": notes.get(p),
                "data": base64.b64encode(p.read_bytes()).decode("ascii")} for p in paths]
    sections = []
    for title, fn in _SECTIONS.items():
        html = fn(run)
        if html:
            sections.append((title, html))
    eng = run.metrics.get("engine", {})
    html = TEMPLATE.render(
        name=run.spec.name, description=run.spec.description, interrupted=run.interrupted,
        n_seeds=len(run.spec.seeds.as_list()), dataset=run.metrics.get("dataset", {}),
        engine=f"{eng.get('name', '?')} ({eng.get('dtype', '?')}, {eng.get('device', '?')})",
        rows=_rows(run), figures=figures, skipped=skipped, sections=sections,
        config=run.spec.to_toml(),
    )
    return atomic_write(out_dir / "report.html", html)
