"""The ``activations`` command: the registered activations, in a table."""

from __future__ import annotations

import click

from actscope.cli.group import main


@main.command()
def activations() -> None:
    """List the registered activations."""
    from actscope.activations import activation_table  # deferred: NumPy and SciPy

    click.echo(activation_table())
