"""A CSV file with a named label column, validated row by row.

Every problem is one ``InputError`` line naming the file and the line or column: a missing
value, a non-numeric or non-finite feature, an absent label column, a single class, an
empty file, a ragged row. Nothing is written and nothing else is raised.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from actscope.errors import InputError

MISSING = {"", "na", "nan", "n/a", "null", "none", "?"}
MAX_BYTES = 200 * 1024 * 1024


def _read_text(path: Path) -> str:
    if not path.exists():
        raise InputError(f"data.path = {str(path)!r}: file not found")
    if not path.is_file():
        raise InputError(f"data.path = {str(path)!r}: not a file")
    if path.stat().st_size > MAX_BYTES:
        raise InputError(f"data.path = {str(path)!r}: larger than {MAX_BYTES // 2**20} MiB")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: not UTF-8 text (byte {err.start})") from None
    if "\x00" in text:
        raise InputError(f"{path}: contains NUL bytes (not a text CSV file)")
    return text


def _number(cell: str) -> float:
    try:
        return float(cell)
    except ValueError:
        return float("nan") if cell.strip().lower() in MISSING else None  # type: ignore[return-value]


def parse_csv(text: str, label: str = "label", source: str = "csv"):
    """(X, y, feature_names, class_names) from CSV text; InputError on any problem."""
    try:
        rows = list(enumerate_rows(text))
    except csv.Error as err:
        raise InputError(f"{source}: not readable as CSV ({err})") from None
    if not rows:
        raise InputError(f"{source}: empty file (no header row)")
    header_line, header = rows[0]
    header = [h.strip() for h in header]
    for j, h in enumerate(header):
        if not h:
            raise InputError(f"{source}: line {header_line}: column {j + 1} has an empty name")
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup:
        raise InputError(f"{source}: line {header_line}: column {dup[0]!r} appears more than once")
    if label not in header:
        shown = ", ".join(repr(h) for h in header[:12]) + (", ..." if len(header) > 12 else "")
        raise InputError(f"{source}: label column {label!r} not found; columns: {shown}")
    if len(header) < 2:
        raise InputError(f"{source}: no feature columns besides the label column {label!r}")
    li = header.index(label)
    features = [h for j, h in enumerate(header) if j != li]
    body = rows[1:]
    if not body:
        raise InputError(f"{source}: no data rows after the header")
    X = np.empty((len(body), len(features)))
    labels: list[str] = []
    for i, (line, row) in enumerate(body):
        if len(row) != len(header):
            raise InputError(f"{source}: line {line}: {len(row)} fields, the header has {len(header)}")
        lab = row[li].strip()
        if lab.lower() in MISSING:
            raise InputError(f"{source}: line {line}, column {label!r}: missing label")
        labels.append(lab)
        k = 0
        for j, cell in enumerate(row):
            if j == li:
                continue
            v = _number(cell.strip())
            if v is None:
                raise InputError(f"{source}: line {line}, column {header[j]!r}: {cell.strip()[:40]!r} "
                                 "is not a number")
            if np.isnan(v):
                raise InputError(f"{source}: line {line}, column {header[j]!r}: missing value")
            if not np.isfinite(v):
                raise InputError(f"{source}: line {line}, column {header[j]!r}: {cell.strip()!r} "
                                 "is not finite")
            X[i, k] = v
            k += 1
    classes = _sorted_classes(set(labels))
    if len(classes) < 2:
        raise InputError(f"{source}: label column {label!r} has a single class ({classes[0]!r}); "
                         "at least 2 are needed")
    index = {c: n for n, c in enumerate(classes)}
    y = np.array([index[v] for v in labels], dtype=np.int64)
    return X, y, features, classes


def enumerate_rows(text: str):
    """(line number, fields) of every non-blank CSV record."""
    reader = csv.reader(text.splitlines(keepends=True), strict=True)
    for row in reader:
        if not row or all(not c.strip() for c in row) and len(row) <= 1:
            continue
        yield reader.line_num, row


def _sorted_classes(values: set[str]) -> list[str]:
    """Numeric labels in numeric order, otherwise text order."""
    try:
        return sorted(values, key=float)
    except ValueError:
        return sorted(values)


def load_csv(path: str | Path, label: str = "label"):
    """(X, y, feature_names, class_names) of a CSV file; InputError on any problem."""
    p = Path(path)
    return parse_csv(_read_text(p), label=label, source=str(p))
