"""A learner's own 2-D points: a small CSV file uploaded to a session.

The text is read by the library's CSV reader (``data.csv_files.parse_csv``: the same rules
and one-line messages naming the line and column as ``[data] name = "csv"``), then held to
what the playground draws: two numeric feature columns and a column named ``label`` with
two classes, ``ROWS`` rows, at most ``MAX_BYTES`` bytes (so the upload, as JSON, fits the
server's 16 KiB body limit). The splits come from ``data.load_dataset`` on the very text, so
the exported TOML with the same file next to it trains the same network.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from actscope.config import ExperimentSpec
from actscope.data import Dataset, load_dataset, parse_csv
from actscope.errors import InputError

MAX_BYTES = 12_000  # the CSV text; as a JSON string it stays under the 16 KiB body limit
ROWS = (20, 1000)
LABEL = "label"


@dataclass(frozen=True)
class Points:
    """Uploaded points: the file's name (what the exported TOML's ``path`` says), its text
    and its size in rows."""

    name: str
    text: str
    rows: int


def safe_name(name: str) -> str:
    """The uploaded file's base name as a file name the TOML may carry (``points.csv`` when
    it has none)."""
    base = re.sub(r"[^A-Za-z0-9_.+-]", "_", Path(str(name).replace("\\", "/")).name).lstrip(".")[:100]
    if not base:
        return "points.csv"
    return base if base.lower().endswith(".csv") else f"{base[:96]}.csv"


def parse_points(name: str, text: str) -> Points:
    """Validated points, or an InputError naming the file and the row or column at fault."""
    source = safe_name(name)
    size = len(text.encode("utf-8"))
    if size > MAX_BYTES:
        raise InputError(f"{source}: {size:,} bytes; an upload holds at most {MAX_BYTES:,} bytes "
                         f"(about {ROWS[1]} rows of three short numbers)")
    X, y, features, classes = parse_csv(text.removeprefix("\ufeff"), label=LABEL, source=source)
    if len(features) != 2:
        raise InputError(f"{source}: {len(features)} feature columns ({', '.join(features)}); the "
                         f"playground draws 2-D points: two numeric columns and a column named {LABEL!r}")
    if len(classes) != 2:
        raise InputError(f"{source}: column {LABEL!r} has {len(classes)} classes "
                         f"({', '.join(map(repr, classes[:6]))}); the playground trains two")
    if not ROWS[0] <= len(y) <= ROWS[1]:
        raise InputError(f"{source}: {len(y)} rows; an upload has {ROWS[0]} to {ROWS[1]} rows")
    return Points(source, text.removeprefix("\ufeff"), len(y))


def load_points(points: Points, spec: ExperimentSpec) -> Dataset:
    """The splits of ``points`` as ``actscope run`` makes them from ``spec`` (data name
    ``csv``) with the file beside it: split, standardised and labelled by the library."""
    with tempfile.TemporaryDirectory(prefix="actscope-upload-") as tmp:
        path = Path(tmp) / points.name
        path.write_text(points.text, encoding="utf-8")
        data = load_dataset(spec.data.model_copy(update={"path": str(path)}))
    data.name = points.name
    return data
