"""The ``serve`` command: the playground in the browser (the ``serve`` extra)."""

from __future__ import annotations

import click

from actscope.cli.group import main
from actscope.errors import InputError


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind (localhost only by default).")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(1, 65535),
              help="Port to listen on.")
def serve(host, port) -> None:
    """Start the playground: a live side-by-side comparison in the browser."""
    try:  # deferred: FastAPI and uvicorn, an optional extra
        from actscope.serve.server import serve as run_server
    except ImportError as err:
        raise InputError(f"the playground needs the web extra ({err.name} is missing): "
                         "pip install 'actscope[serve]'") from None
    click.echo(f"actscope playground on http://{host}:{port}/  (Ctrl+C to stop)")
    run_server(host=host, port=port)
