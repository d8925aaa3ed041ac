"""The ``activations`` command: the registered activations, in a table or as JSON."""

from __future__ import annotations

import click

from actscope.cli.group import main
from actscope.cli.options import JSON


@main.command()
@JSON
def activations(as_json) -> None:
    """List the registered activations."""
    from actscope.activations import ALIASES, activation_table, describe, get_activation, list_activations

    if as_json:
        from actscope.cli.output import echo_json

        rows = []
        for name in list_activations():
            row = describe(name)
            lo, hi = get_activation(name).range
            rows.append({**row, "range": [float(lo), float(hi)], "gain": float(row["gain"])})
        echo_json({"activations": rows, "aliases": dict(sorted(ALIASES.items()))})
        return
    click.echo(activation_table())
