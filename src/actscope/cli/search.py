"""The ``search`` command: a search for activation functions, resumable cell by cell."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import click

from actscope._util.interrupt import interrupt_status
from actscope.cli.group import main
from actscope.cli.logs import quieter
from actscope.cli.options import JSON, SET
from actscope.errors import input_error

log = logging.getLogger(__name__)
TOP = 10  # leaderboard rows printed at the end


def _search_presets() -> str:
    """The built-in search presets, read from the presets folder without pydantic."""
    import tomllib
    from importlib.resources import files

    folder = files("actscope.config").joinpath("presets")
    return ", ".join(sorted(p.name.removesuffix(".toml") for p in folder.iterdir()
                            if p.name.endswith(".toml")
                            and "search" in tomllib.loads(p.read_text(encoding="utf-8"))))


class _SearchCommand(click.Command):
    """``search --help`` names the search presets (read when the help is shown)."""

    def format_help_text(self, ctx, formatter):
        super().format_help_text(ctx, formatter)
        with formatter.indentation():
            formatter.write_paragraph()
            formatter.write_text(f"Presets: {_search_presets()}.")


class SearchProgress:
    """A rich progress bar on stderr fed by `run_search`'s progress dicts: the search's
    cells done of its cells, the stage, and the candidates and members evaluated so far."""

    def __init__(self, enabled: bool) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("[bold]{task.description:<11}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("cells  {task.fields[info]}"), TimeElapsedColumn(),
            console=Console(stderr=True), disable=not enabled)
        self._task = self._progress.add_task("search", total=None, info="")

    def __enter__(self):
        self._progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self._progress.__exit__(*exc)

    def __call__(self, event: dict) -> None:
        """Show one progress dict (``stage``, ``stages``, ``cells_done``, ``cells_total``,
        ``candidates``, ``members``; see `run_search`)."""
        info = "  ".join(f"{event[k]:,} {k}" for k in ("candidates", "members")
                         if isinstance(event.get(k), int))
        stage = f"stage {event.get('stage', 0) + 1}/{event.get('stages', 1)}"
        self._progress.update(self._task, description=stage, completed=event.get("cells_done", 0),
                              total=event.get("cells_total"), info=info)


def _fmt_acc(stat: dict | None) -> str:
    """``0.912 [0.894, 0.930]``: a mean test accuracy and its 95% interval (when there is one)."""
    if not stat or stat.get("mean") is None:
        return "n/a"
    ci = stat.get("ci95")
    return f"{stat['mean']:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


def top_lines(summary: dict, n: int = TOP) -> list[str]:
    """The first ``n`` leaderboard rows as lines: rank, name, the last stage reached (from 1),
    mean test accuracy over tasks with its interval, the seeds behind it, and the formula."""
    rows = summary.get("top") or []
    lines = [f"{'rank':>4}  {'name':<22} {'stage':>5}  {'test accuracy [95% CI]':<26} {'seeds':>5}  formula"]
    for r in rows[:n]:
        stat = r.get("overall") or {}
        lines.append(f"{r['rank']:>4}  {r['name']:<22} {r['stage'] + 1:>5}  {_fmt_acc(stat):<26} "
                     f"{stat.get('n', 0):>5}  {r['formula']}")
    return lines if rows else []


@main.command(cls=_SearchCommand, short_help="Search for activation functions (resumable).")
@click.argument("spec", type=str)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Search directory (default runs/search-<name>); the same directory resumes a search.")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Where cells run: this machine's processes, or a Ray cluster.")
@click.option("--address", type=str, help="Ray cluster address (with --executor ray; default "
              "$RAY_ADDRESS, else a local Ray); every node needs actscope's dependencies.")
@click.option("--workers", type=click.IntRange(min=1), help="With --executor ray: the most cells running "
              "at once (and a local Ray's CPUs). Locally one cell trains at a time on every core.")
@click.option("--quiet", is_flag=True, help="No progress bar, and only warnings on stderr.")
@SET
@JSON
def search(spec, out, executor, address, workers, quiet, sets, as_json) -> None:
    """Search for activation functions as SPEC describes (a TOML file with a [search] table,
    or a preset name); see docs/search.md.

    Writes report.html, leaderboard.csv/json and found.toml (each top function as an
    [activations.NAME] formula ready for `actscope run`) into the search directory.
    Interrupted, or killed, the same command resumes: finished cells are not recomputed.
    """
    from actscope.cli.output import echo_json
    from actscope.search.spec import load_search  # deferred: pydantic

    quieter(quiet)
    for option, value in (("--address", address), ("--workers", workers)):
        if value is not None and executor != "ray":
            raise input_error(None, option, value, "only with --executor ray")
    resolved = load_search(spec, sets)  # every field checked before any work (exit 2, one line)
    from actscope.search.run import run_search  # deferred: NumPy, the engines, ...
    from actscope.search.store import default_search_dir

    folder = Path(out) if out is not None else default_search_dir(resolved.name)
    start = time.monotonic()
    try:
        with SearchProgress(enabled=not (quiet or as_json)) as bar:
            res = run_search(resolved, folder, progress=bar, executor=executor, address=address,
                             workers=workers)
    except KeyboardInterrupt:
        log.warning("interrupted: every finished cell is saved in %s; run the same command "
                    "again to resume", folder)
        sys.exit(interrupt_status())
    summary = dict(res.summary)
    log.info("%d cells trained, %d reused (already finished), %d candidates, %.1f s", res.computed,
             res.reused, len(res.candidates), time.monotonic() - start)
    if as_json:
        echo_json({"search_dir": str(folder), "cells": res.cells, "computed": res.computed,
                   "reused": res.reused, "elapsed_s": round(res.elapsed_s, 3), **summary})
        return
    for line in top_lines(summary):
        click.echo(line)
    paths = summary.get("paths") or {}
    for label, name in (("report", "report.html"), ("found", "found.toml")):
        if paths.get(name):
            click.echo(f"{label}: {paths[name]}")
    click.echo(str(folder))
