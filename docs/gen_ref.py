"""Generates the documentation's reference pages, so they cannot drift from the code.

An mkdocs hook (``hooks:`` in mkdocs.yml): ``spec.md`` from the pydantic models
(`actscope.cli.spec_reference`: every field of every table with its default and meaning, the
sweep format, the search format and both `actscope init` templates) and ``cli.md`` from the
Click commands (every command's own ``--help``). ``python docs/gen_ref.py spec|cli`` prints a page.
"""

from __future__ import annotations

import re
import sys

import click

SPEC_INTRO = """# Spec reference

An experiment is a TOML file (`actscope run FILE`); a sweep is the same file plus a `[sweep]`
table (`actscope sweep FILE`); a search for activation functions is a file with a `[search]`
table (`actscope search FILE`, [its own format](#the-search-format)). Every table below lists
each field with its default and meaning; a field left out takes its default, and a key that is
not listed is refused with the keys its table allows. This page is generated from the pydantic models, as is
`actscope schema` (the JSON Schema) and `actscope init` (an annotated template).
"""

TABLE_TITLES = {
    "": "Top level", "activations.NAME": "`[activations.NAME]`: an activation of your own",
    "[arms]": "`[[arms]]`: one ensemble each", "[probes.points]": "`[[probes.points]]`",
}

SWEEP_FORMAT = """## The sweep format

A sweep file is an experiment file with a `[sweep]` table. Its axes go under `[sweep.grid]`:
each key is a field of `[data]`, `[model]`, `[train]` or `[seeds]` written `section.field`
(quoted, since it holds a dot; a nested table `[sweep.grid.train]` works too), a field of the
arms `arms.<field>` (not `name`), or one of the shortcuts `model.depth`, `model.width` (the
hidden layers as depth × width) and `activation` (one arm per value, so no `[[arms]]`); each
value is a list. {not_sweepable} cannot be swept. Every combination of the axes is one cell;
every cell trains the experiment's seeds. `"model.width" = [4, 8]` directly under `[sweep]` is
refused, naming the keys `[sweep]` allows: the axes go in `[sweep.grid]`.
"""


SEARCH_FORMAT = """## The search format

A search file (`actscope search FILE`; see [Searching for activation functions](search.md))
has a `[search]` table, its successive-halving stages as `[[search.stages]]`, one
`[tasks.NAME]` table per task and the `[model]` and `[train]` that every candidate shares. A
`[tasks.NAME]` table is a [`[data]` table](#data) with two more rules: the task is binary
classification (the kernels train one logit) and `val_size` is above 0 (each candidate's rate is
tuned on validation). There is no `[[arms]]` or `[seeds]`: the search proposes the activations,
and each stage sets its own seeds and epochs. `actscope search search-small --set
search.candidates=100` changes a field before validation, as `--set` does for a run.
"""

SEARCH_TITLES = {
    "search": "`[search]`", "[search.stages]": "`[[search.stages]]`: one rung of successive halving",
    "search/model": "`[model]` of a search file", "search/train": "`[train]` of a search file",
}


def _tables(sections, titles: dict[str, str]) -> list[str]:
    """One markdown table per TOML table of ``sections``: key, default, meaning."""
    from actscope.cli.spec_reference import rows

    by_section: dict[str, list] = {}
    for section, key, default, meaning in rows(sections):
        by_section.setdefault(section, []).append((key, default, meaning))
    out = []
    for section, model in sections:
        title = titles.get(section, f"`[{section}]`")
        doc = " ".join((model.__doc__ or "").strip().split("\n\n")[0].split()).replace("``", "`")
        out += [f"## {title}", "", doc, "", "| key | default | meaning |", "|---|---|---|"]
        out += [f"| `{key}` | {_default(default)} | {meaning.replace('|', '&#124;')} |"
                for key, default, meaning in by_section[section]]
        out.append("")
    return out


def _code(value) -> str:
    from actscope.cli.schema import toml_value

    return "`" + toml_value(value) + "`"


def _default(value) -> str:
    from actscope.cli.spec_reference import is_required

    if is_required(value):
        return "required"
    if value is None:
        return "none"
    if hasattr(value, "model_dump"):
        return "its table"
    return _code(value)


def spec_page() -> str:
    """The spec reference in markdown: one table per TOML table, the sweep format, the search
    format."""
    from actscope.cli.schema import template
    from actscope.cli.spec_reference import SECTIONS
    from actscope.sweep.spec import NOT_SWEEPABLE

    experiment = [(sec, m) for sec, m in SECTIONS if sec != "sweep"]
    out = [SPEC_INTRO, *_tables(experiment, TABLE_TITLES),
           SWEEP_FORMAT.format(not_sweepable=", ".join(f"`{n}`" for n in sorted(NOT_SWEEPABLE))),
           *_tables([(sec, m) for sec, m in SECTIONS if sec == "sweep"], TABLE_TITLES)]
    from actscope.cli.spec_reference import SEARCH_SECTIONS

    out += [SEARCH_FORMAT, *_tables(SEARCH_SECTIONS, SEARCH_TITLES)]
    out += ["## Templates", "", "`actscope init` writes this file:", "", "```toml", template(False),
            "```", "", "`actscope init --sweep` writes this one:", "", "```toml", template(True), "```"]
    return "\n".join(out)


def _commands(group: click.Group, prefix: str) -> list[tuple[str, click.Command, click.Context]]:
    out = []
    parent = click.Context(group, info_name=prefix)
    for name in sorted(group.commands):
        cmd = group.commands[name]
        out.append((f"{prefix} {name}", cmd, click.Context(cmd, info_name=name, parent=parent)))
        if isinstance(cmd, click.Group):
            out += _commands(cmd, f"{prefix} {name}")
    return out


def cli_page() -> str:
    """The command-line reference: every command's --help, as the command prints it."""
    from actscope.cli import main

    out = ["# Command-line reference", "",
           "Generated from the commands themselves: each section is the command's `--help`.",
           "Exit status: 0 success, 2 bad input or usage (one line, `error: ...`), 1 anything else "
           "(130 after Ctrl-C).", "", "## actscope", "", "```text",
           main.get_help(click.Context(main, info_name="actscope", terminal_width=100)), "```", ""]
    for path, cmd, ctx in _commands(main, "actscope"):
        ctx.terminal_width = 100
        out += [f"## {path}", "", "```text", cmd.get_help(ctx), "```", ""]
    return "\n".join(out)


def on_files(files, config):
    """mkdocs hook: add the generated pages to the site."""
    from mkdocs.structure.files import File

    for name, page in (("spec.md", spec_page), ("cli.md", cli_page)):
        files.append(File.generated(config, name, content=page()))
    return files


def on_page_markdown(markdown, page, config, files):
    """mkdocs hook: a link out of docs/ into the repository (``../src/...``, which GitHub
    follows) has no page on the site: keep its text, drop the link."""
    return re.sub(r"\[([^\]]+)\]\(\.\./[^)]+\)", r"\1", markdown)


if __name__ == "__main__":
    print({"spec": spec_page, "cli": cli_page}[sys.argv[1]]())
