"""`actscope schema` (the JSON Schema of an experiment or a sweep file) and `actscope init`
(an annotated TOML template). The commands only parse; `spec_templates` builds what they print."""

from __future__ import annotations

import json
from pathlib import Path

import click

from actscope.cli.group import main
from actscope.errors import InputError, shown

_LAZY = ("TEMPLATE_GRID", "TEMPLATE_ARMS", "json_schema", "spec_model", "template", "toml_value")


def __getattr__(name: str):  # the builders, loaded when first asked for (PEP 562)
    if name in _LAZY:
        from actscope.cli import spec_templates

        return getattr(spec_templates, name)
    raise AttributeError(name)


@main.command("schema")
@click.argument("kind", type=click.Choice(["experiment", "sweep"]), default="experiment")
def schema_command(kind: str) -> None:
    """Print the JSON Schema of an experiment (or a sweep) file."""
    from actscope.cli.spec_templates import json_schema

    click.echo(json.dumps(json_schema(kind), indent=2, ensure_ascii=False))


@main.command("init")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.option("--sweep", is_flag=True, help="A sweep file ([sweep] table and grid) instead of an experiment.")
def init_command(file: Path | None, sweep: bool) -> None:
    """Write an annotated template of an experiment (or a sweep) file; never overwrites.

    FILE defaults to experiment.toml (sweep.toml with --sweep). Prints the path written.
    """
    path = file if file is not None else Path("sweep.toml" if sweep else "experiment.toml")
    if path.exists():
        raise InputError(f"FILE = {shown(str(path))}: it exists; give a new path (init never overwrites)")
    if not path.parent.is_dir():
        raise InputError(f"FILE = {shown(str(path))}: the folder {shown(str(path.parent))} does not exist")
    from actscope.cli.spec_templates import template

    try:
        with path.open("x", encoding="utf-8") as f:  # "x": fails rather than overwrite
            f.write(template(sweep))
    except OSError as err:
        raise InputError(f"FILE = {shown(str(path))}: cannot write it ({err.strerror})") from None
    click.echo(str(path))
