"""Starting the playground: in the foreground (the CLI) or in a thread (tests)."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from actscope.serve.app import create_app
from actscope.serve.guards import Access
from actscope.serve.session import Settings

GRACE_S = 2  # open event streams are closed this long after Ctrl+C


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def lan_address() -> str:
    """This machine's address on its network (what a wildcard bind is reached by); no packet is sent."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: only picks the outgoing interface
            return s.getsockname()[0]
        except OSError:
            return socket.gethostname()


def announce(host: str, port: int, access: Access) -> tuple[str, str | None]:
    """The URL to open (with the token when one is needed) and a warning for a non-loopback bind."""
    if access.token is None:
        return f"http://{host}:{port}/", None
    shown = lan_address() if host in ("0.0.0.0", "::", "") else host
    shown = f"[{shown}]" if ":" in shown else shown
    warning = (f"warning: listening on {host}, reachable from other machines: anyone with the URL "
               "below (it holds a random access token) can train on this machine; plain HTTP, "
               "so use it on a network you trust")
    return f"http://{shown}:{port}/?token={access.token}", warning


def single_threaded_blas():
    """Limit BLAS to one thread: the server already trains several sessions in threads, and
    multi-threaded BLAS on small matrices only fights over the cores."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def serve(host: str = "127.0.0.1", port: int = 8765, settings: Settings | None = None,
          access: Access | None = None) -> None:
    """Run the playground until interrupted (``access``: default, `Access.for_bind` of ``host``)."""
    single_threaded_blas()
    access = Access.for_bind(host) if access is None else access
    uvicorn.run(create_app(settings, access), host=host, port=port, log_level="warning",
                timeout_graceful_shutdown=GRACE_S)


class ServerThread:
    """A playground server in a background thread, for tests: ``with ServerThread() as url``."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None, settings: Settings | None = None,
                 access: Access | None = None):
        self.host, self.port = host, port or free_port(host)
        self.app = create_app(settings, access)  # tests read the sessions: app.state.manager
        config = uvicorn.Config(self.app, host=self.host, port=self.port,
                                log_level="warning",
                                timeout_graceful_shutdown=GRACE_S)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> str:
        self._blas = single_threaded_blas()
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the playground server did not start")
            time.sleep(0.02)
        return self.url

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self._blas.restore_original_limits()
