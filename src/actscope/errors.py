"""Bad user input: one exception type, and the one message format every layer uses.

A message is one line, ``FILE: field = value: reason`` (``error: `` is added by the command
line), the value shown as the user wrote it (TOML spelling, paths as text) and shortened
when long, so a 10,000-character formula cannot flood the terminal.
"""

from __future__ import annotations

import math
from os import PathLike

MAX_SHOWN = 80  # characters of a value shown in a message


class InputError(ValueError):
    """Bad input (config, CSV, command-line value): the message names field, value, rule."""


class RunDirError(InputError):
    """A run directory with a file missing or corrupt: the message names the file and what is
    wrong (one line, exit status 2, like any bad input)."""


class RunFailedError(RuntimeError):
    """A run that failed after training: its trained state is kept, marked ``failed``; the
    message says what failed and where the run is (one line, exit status 1)."""


def shorten(text: str, limit: int = MAX_SHOWN) -> str:
    """``text`` on one line, at most about ``limit`` characters: the start, ``…`` and the length."""
    text = text.replace("\n", "\\n").replace("\r", "\\r")
    if len(text) <= limit:
        return text
    tail = f"… ({len(text):,} characters)"
    return text[:max(limit - len(tail), 10)] + tail


def _spell(value) -> str:
    """A value as TOML (or the command line) writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, str | PathLike):
        return repr(str(value) if isinstance(value, PathLike) else value)
    if isinstance(value, list | tuple):
        head = [_spell(v) for v in value[:12]]
        more = [f"... ({len(value):,} values)"] if len(value) > 12 else []
        return "[" + ", ".join(head + more) + "]"
    if isinstance(value, dict):
        items = [f"{k} = {_spell(v)}" for k, v in list(value.items())[:8]]
        return "{" + ", ".join(items + (["..."] if len(value) > 8 else [])) + "}"
    return repr(value)


def shown(value, limit: int = MAX_SHOWN) -> str:
    """``value`` for a message: as the user wrote it, on one line, shortened when long."""
    return shorten(_spell(value), limit)


def input_error(source: str | PathLike | None, field: str, value, reason: str) -> InputError:
    """The InputError ``source: field = value: reason`` (``source`` None: no file)."""
    head = "" if source is None else f"{source}: "
    return InputError(f"{head}{field} = {shown(value)}: {reason}")
