"""The ``serve`` command: the playground in the browser (the ``serve`` extra)."""

from __future__ import annotations

import logging

import click

from actscope.cli.group import main
from actscope.errors import InputError


@main.command(short_help="Start the playground in the browser.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind (localhost only by default).")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(1, 65535),
              help="Port to listen on.")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
              help="Also accept requests addressed to this Host name (repeatable).")
@click.option("--max-per-client", default=4, show_default=True, type=click.IntRange(1, 1000),
              help="Sessions one client address may hold at once.")
def serve(host, port, allow_hosts, max_per_client) -> None:
    """Start the playground: a live side-by-side comparison in the browser."""
    try:  # deferred: FastAPI and uvicorn, an optional extra
        from actscope.serve.guards import Access
        from actscope.serve.server import announce
        from actscope.serve.server import serve as run_server
        from actscope.serve.session import Settings
    except ImportError as err:
        raise InputError(f"the playground needs the web extra ({err.name} is missing): "
                         "pip install 'actscope[serve]'") from None
    access = Access.for_bind(host, tuple(allow_hosts))
    url, warning = announce(host, port, access)
    if warning:
        logging.getLogger(__name__).warning(warning)
    click.echo(f"actscope playground on {url}  (Ctrl+C to stop)")
    run_server(host=host, port=port, settings=Settings(max_per_client=max_per_client), access=access)
