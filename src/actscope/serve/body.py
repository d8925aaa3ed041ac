"""Request bodies parsed as JSON with limits: nesting depth and integer length.

Python's ``json`` would spend time on a 5,000-digit integer (or refuse it with a message
that names no field) and recurse on deep nesting; here nesting past ``MAX_DEPTH`` is refused
before parsing, and an over-long integer becomes a `HugeInt` that validation then refuses
by field name (``width = <a 5000-digit integer>: Input should be a valid integer``).
"""

from __future__ import annotations

import json

MAX_DEPTH = 8
MAX_INT_DIGITS = 30


class BodyError(ValueError):
    """A body that is not acceptable JSON; the message says what is wrong."""


class HugeInt:
    """Stands for an integer literal too long to convert; never valid for any field."""

    def __init__(self, text: str) -> None:
        self.digits = len(text.lstrip("-"))

    def __repr__(self) -> str:
        return f"<a {self.digits}-digit integer>"


def _int(text: str):
    return int(text) if len(text) <= MAX_INT_DIGITS else HugeInt(text)


def nesting_depth(raw: str) -> int:
    """The deepest ``[``/``{`` nesting of a JSON text (brackets inside strings ignored)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in raw:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def parse_json(raw: bytes):
    """The JSON value of a request body, or a BodyError saying what is wrong."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BodyError(f"the request body is not UTF-8 text (byte {err.start})") from None
    depth = nesting_depth(text)
    if depth > MAX_DEPTH:
        raise BodyError(f"JSON nested {depth} levels deep refused: at most {MAX_DEPTH} levels are allowed")
    try:
        return json.loads(text, parse_int=_int)
    except json.JSONDecodeError as err:
        raise BodyError(f"malformed JSON in the request body: {err.msg} at line {err.lineno} "
                        f"column {err.colno}") from None
