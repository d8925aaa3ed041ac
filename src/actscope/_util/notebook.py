"""What notebooks display: HTML tables, an inline PNG, and pandas (the ``notebook`` extra).

Runs, sweeps and specs build their ``_repr_html_`` from these, so every object looks the
same in Jupyter; nothing here imports pandas until a DataFrame is asked for.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Sequence
from pathlib import Path

NOTEBOOK_EXTRA = "pip install 'actscope[notebook]'"
_STYLE = "border-collapse:collapse;font-size:90%"


def pandas():
    """The pandas module, or an ImportError of one line naming the extra that installs it."""
    try:
        import pandas as pd
    except ImportError:
        raise ImportError(f"DataFrames need pandas: {NOTEBOOK_EXTRA}") from None
    return pd


def cell(value) -> str:
    """One value as table text: floats to 4 significant digits, None as a dash."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def table(header: Sequence[str], rows: Iterable[Sequence], caption: str | None = None) -> str:
    """An HTML table, every cell escaped."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(cell(v))}</td>" for v in row) + "</tr>"
                   for row in rows)
    cap = f"<caption style='text-align:left'>{html.escape(caption)}</caption>" if caption else ""
    return f"<table style='{_STYLE}'>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def heading(title: str, line: str) -> str:
    """A bold title and one line of context under it."""
    return f"<div><b>{html.escape(title)}</b><br><small>{html.escape(line)}</small></div>"


def paragraph(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"


def items(lines: Iterable[str]) -> str:
    """A bulleted list (empty string when there is nothing to list)."""
    body = "".join(f"<li>{html.escape(t)}</li>" for t in lines)
    return f"<ul>{body}</ul>" if body else ""


def png(path: Path, alt: str) -> str:
    """An ``<img>`` holding the PNG at ``path`` inline (base64), as wide as the cell allows."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"<img src='data:image/png;base64,{data}' alt='{html.escape(alt)}' style='max-width:100%'>"
