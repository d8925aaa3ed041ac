"""Logging for the command line: the library logs under ``logging.getLogger("actscope")``
and configures no handler (it has a NullHandler); the command line installs one on stderr.

Messages that are not results (what was skipped, resumed, interrupted, where a side file
went) are logged; results go to stdout. ``--quiet`` shows warnings only, ``-v`` adds debug.
"""

from __future__ import annotations

import logging
import sys

LOGGER = "actscope"


class _StderrHandler(logging.Handler):
    """Writes each record to the current ``sys.stderr`` (test runners swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 - logging must not break the command
            self.handleError(record)


def level_for(verbose: int = 0, quiet: bool = False) -> int:
    """The logging level the options ask for: WARNING with --quiet, DEBUG with -v, else INFO."""
    if quiet:
        return logging.WARNING
    return logging.DEBUG if verbose > 0 else logging.INFO


def configure(level: int = logging.INFO) -> logging.Logger:
    """Install the command line's one stderr handler on the ``actscope`` logger (replacing
    one installed before) and set its level; messages print as they are."""
    logger = logging.getLogger(LOGGER)
    for h in [h for h in logger.handlers if isinstance(h, _StderrHandler)]:
        logger.removeHandler(h)
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    return logger


def quieter(quiet: bool) -> None:
    """A command's ``--quiet``: warnings and errors only, as the top-level ``--quiet``."""
    if quiet:
        logger = logging.getLogger(LOGGER)
        logger.setLevel(max(logger.level, logging.WARNING))
