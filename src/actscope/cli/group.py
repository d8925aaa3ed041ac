"""The root command group: turns an InputError anywhere below into one line, exit status 2."""

from __future__ import annotations

import sys

import click

from actscope.errors import InputError


def fail(message: str, code: int = 2) -> None:
    """Print ``error: message`` on stderr and exit with ``code``."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


class Group(click.Group):
    """Turns InputError into one line and exit status 2, anywhere below."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except InputError as err:
            fail(str(err), 2)


@click.group(cls=Group)
@click.version_option(package_name="actscope")
def main() -> None:
    """actscope: a laboratory for activation functions."""
