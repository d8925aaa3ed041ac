"""A CSV file with a named label column, validated as it is read.

Every problem is one ``InputError`` line naming the file and the line or column: a missing
value, a non-numeric, non-finite or out-of-range feature, an absent label or feature column,
a single class, an empty file, a ragged row, a file over the size limits. Nothing is written
and nothing else is raised.

The delimiter (``,``, ``;``, tab or ``|``) is detected from the first lines unless given.
The feature columns are every column but the label, or those named by ``features``, less
those named by ``drop``; only they must be numeric. A file is refused before it is read
whole when it is larger than ``ACTSCOPE_CSV_MAX_BYTES`` bytes, and while it is read as soon
as its rows × feature columns pass ``ACTSCOPE_CSV_MAX_VALUES``. A feature beyond ±1e100
is refused (its square, in standardisation and training, would overflow float64).
"""

from __future__ import annotations

import csv
import io
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from operator import itemgetter
from pathlib import Path

import numpy as np

from actscope.errors import InputError, shorten, shown

MISSING = {"", "na", "nan", "n/a", "null", "none", "?"}
MAX_BYTES = 256 * 2**20  # default of $ACTSCOPE_CSV_MAX_BYTES
MAX_VALUES = 20_000_000  # default of $ACTSCOPE_CSV_MAX_VALUES: rows x feature columns (160 MB as float64)
MAX_ABS = 1e100
DELIMITERS = (",", ";", "\t", "|")
PROGRESS_BYTES = 16 * 2**20  # a progress bar for files at least this large (on a terminal)
SNIFF_CHARS = 64 * 1024
CHUNK_ROWS = 4096
BYTES_ENV, VALUES_ENV = "ACTSCOPE_CSV_MAX_BYTES", "ACTSCOPE_CSV_MAX_VALUES"


def csv_limits() -> tuple[int, int]:
    """(bytes, values) a CSV file may hold: the environment's limits, else the defaults.

    Raises
    ------
    InputError
        When ``$ACTSCOPE_CSV_MAX_BYTES`` or ``$ACTSCOPE_CSV_MAX_VALUES`` is not a whole
        number >= 1.
    """
    out = []
    for name, default in ((BYTES_ENV, MAX_BYTES), (VALUES_ENV, MAX_VALUES)):
        raw = os.environ.get(name, "").strip()
        try:
            value = int(raw) if raw else default
        except ValueError:
            value = 0
        if value < 1:
            raise InputError(f"${name} = {raw!r}: a whole number, 1 or more")
        out.append(value)
    return out[0], out[1]


def detect_delimiter(sample: str, label: str) -> str:
    """The delimiter of a CSV text from its first lines: csv.Sniffer's guess among
    ``,`` ``;`` tab ``|`` when the header it gives holds the label column, else the first of
    those that does, else ``,`` (the label error then names the columns)."""
    lines = sample.splitlines(keepends=True)
    if len(sample) >= SNIFF_CHARS and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut
    head = "".join(lines[:50])
    try:
        guess = [csv.Sniffer().sniff(head, delimiters="".join(DELIMITERS)).delimiter]
    except csv.Error:
        guess = []
    for d in guess + [d for d in DELIMITERS if d not in guess]:
        header = _first_record(head, d)
        if len(header) >= 2 and label in header:
            return d
    return guess[0] if guess else ","


def _first_record(text: str, delimiter: str) -> list[str]:
    try:
        for _, row in enumerate_rows(io.StringIO(text), delimiter):
            return [h.strip() for h in row]
    except csv.Error:
        pass
    return []


def enumerate_rows(lines: Iterable[str], delimiter: str = ",") -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of every non-blank CSV record."""
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    for row in reader:
        if not row or all(not c.strip() for c in row) and len(row) <= 1:
            continue
        yield reader.line_num, row


def _check_header(header: list[str], line: int, label: str, source: str) -> None:
    for j, h in enumerate(header):
        if not h:
            raise InputError(f"{source}: line {line}: column {j + 1} has an empty name")
    seen: set[str] = set()
    for h in header:
        if h in seen:
            raise InputError(f"{source}: line {line}: column {h!r} appears more than once")
        seen.add(h)
    if label not in seen:
        raise InputError(f"{source}: label column {label!r} not found; columns: {_columns(header)}")


def _columns(names: Sequence[str]) -> str:
    return ", ".join(repr(h) for h in names[:12]) + (", ..." if len(names) > 12 else "")


def select_columns(header: list[str], label: str, features: Sequence[str] | None = None,
                   drop: Sequence[str] | None = None, source: str = "csv") -> list[int]:
    """Indices of the feature columns: ``features`` (in that order) or every column but the
    label, less ``drop``; InputError for a name that is not a column or is the label."""
    index = {h: j for j, h in enumerate(header)}
    for field, names in (("features", features or []), ("drop", drop or [])):
        for name in names:
            if name not in index:
                raise InputError(f"{source}: data.{field} = {name!r}: no such column; "
                                 f"columns: {_columns(header)}")
            if name == label:
                raise InputError(f"{source}: data.{field} = {name!r}: is the label column")
        if len(set(names)) < len(names):
            dup = next(n for n in names if list(names).count(n) > 1)
            raise InputError(f"{source}: data.{field} = {dup!r}: named more than once")
    chosen = list(features) if features else [h for h in header if h != label]
    cols = [index[h] for h in chosen if h not in set(drop or [])]
    if not cols:
        raise InputError(f"{source}: no feature columns besides the label column {label!r}")
    return cols


def _locate(chunk: Sequence[Sequence[str]], lines: list[int], names: list[str], source: str) -> InputError:
    """The one-line error for the first bad cell of a chunk that failed to convert."""
    for row, line in zip(chunk, lines):
        for cell, name in zip(row, names):
            where = f"{source}: line {line}, column {name!r}"
            text = cell.strip()
            try:
                v = float(text)
            except ValueError:
                if text.lower() in MISSING:
                    return InputError(f"{where}: missing value")
                hint = " (decimal commas are not read: write 1.5)" if _decimal_comma(text) else ""
                return InputError(f"{where}: {shown(text)} is not a number{hint}; only the feature "
                                  "columns must be numeric: choose them with [data] features or drop")
            if np.isnan(v):
                return InputError(f"{where}: missing value")
            if not np.isfinite(v):
                return InputError(f"{where}: {shown(text)} is not finite")
            if abs(v) > MAX_ABS:
                return InputError(f"{where} = {shorten(text)}: out of range (|value| <= {MAX_ABS:g})")
    return InputError(f"{source}: not readable as numbers")  # pragma: no cover - conversion failed


def _decimal_comma(text: str) -> bool:
    try:
        float(text.replace(",", "."))
    except ValueError:
        return False
    return "," in text


def _convert(chunk: Sequence[Sequence[str]], lines: list[int], names: list[str], source: str) -> np.ndarray:
    """A chunk of feature strings as a float64 array; the first bad cell as InputError."""
    try:
        X = np.array(chunk, dtype=np.float64).reshape(len(chunk), len(names))
    except ValueError:
        raise _locate(chunk, lines, names, source) from None
    if not (np.isfinite(X).all() and (np.abs(X) <= MAX_ABS).all()):
        raise _locate(chunk, lines, names, source)
    return X


def _parse_records(records: Iterator[tuple[int, list[str]]], label: str, features, drop,
                   source: str, max_values: int, est_rows: float | None = None):
    """(X, y, feature_names, class_names) from the records of a CSV file (of about
    ``est_rows`` data rows, when known: far too many are refused before reading them)."""
    first = next(records, None)
    if first is None:
        raise InputError(f"{source}: empty file (no header row)")
    header_line, header = first[0], [h.strip() for h in first[1]]
    _check_header(header, header_line, label, source)
    if len(header) < 2:
        raise InputError(f"{source}: no feature columns besides the label column {label!r}")
    cols, li = select_columns(header, label, features, drop, source), header.index(label)
    names = [header[j] for j in cols]
    _check_estimate(est_rows, len(cols), max_values, source)
    pick = itemgetter(*cols) if len(cols) > 1 else (lambda row, j=cols[0]: (row[j],))
    blocks, labels, chunk, lines = [], [], [], []
    for line, row in records:
        if len(row) != len(header):
            raise InputError(f"{source}: line {line}: {len(row)} fields, the header has {len(header)}")
        lab = row[li].strip()
        if lab.lower() in MISSING:
            raise InputError(f"{source}: line {line}, column {label!r}: missing label")
        labels.append(lab)
        if len(labels) * len(cols) > max_values:
            raise InputError(f"{source}: more than {max_values:,} values (rows x feature columns) by "
                             f"line {line}: over the limit ${VALUES_ENV} = {max_values}; choose columns "
                             "with [data] features or drop, or raise the limit")
        chunk.append(pick(row))
        lines.append(line)
        if len(chunk) == CHUNK_ROWS:
            blocks.append(_convert(chunk, lines, names, source))
            chunk, lines = [], []
    if chunk:
        blocks.append(_convert(chunk, lines, names, source))
    if not labels:
        raise InputError(f"{source}: no data rows after the header")
    classes = _sorted_classes(set(labels))
    if len(classes) < 2:
        raise InputError(f"{source}: label column {label!r} has a single class ({classes[0]!r}); "
                         "at least 2 are needed")
    index = {c: n for n, c in enumerate(classes)}
    y = np.array([index[v] for v in labels], dtype=np.int64)
    return np.concatenate(blocks), y, names, classes


def _estimate_rows(sample: str, size: int) -> float | None:
    """The data rows of a file of ``size`` bytes that starts with ``sample``, estimated
    from the bytes per line of the sample (None when it holds under 2 whole lines)."""
    header, _, body = sample.partition("\n")
    n_lines = body.count("\n")
    if n_lines < 2:
        return None
    body = body[:body.rindex("\n") + 1]  # whole lines only
    return (size - len(header.encode("utf-8")) - 1) / (len(body.encode("utf-8")) / n_lines)


def _check_estimate(est_rows: float | None, n_cols: int, max_values: int, source: str) -> None:
    """Refuse at once a file estimated at more than 1.5 times the values allowed (the exact
    count, checked while reading, refuses one closer to the limit)."""
    if est_rows is not None and est_rows * n_cols > 1.5 * max_values:
        raise InputError(f"{source}: about {est_rows:,.0f} rows x {n_cols} feature columns = about "
                         f"{est_rows * n_cols:,.0f} values (estimated from the file size and its first "
                         f"lines): over the limit ${VALUES_ENV} = {max_values}; choose columns with "
                         "[data] features or drop, or raise the limit")


def parse_csv(text: str, label: str = "label", source: str = "csv", *,
              features: Sequence[str] | None = None, drop: Sequence[str] | None = None,
              delimiter: str | None = None, max_values: int | None = None):
    """(X, y, feature_names, class_names) from CSV text.

    Parameters
    ----------
    text : str
        The whole CSV text, header first.
    label : str
        The name of the label column (any text or numbers; numbers sort numerically).
    source : str
        What the error messages call the text (usually its file name).
    features, drop : sequence of str, optional
        The feature columns (default: every column but the label), less ``drop``.
    delimiter : str, optional
        One of ``,`` ``;`` tab ``|``; None or ``"auto"`` detects it from the first lines.
    max_values : int, optional
        The most rows × feature columns accepted (default ``$ACTSCOPE_CSV_MAX_VALUES``).

    Raises
    ------
    InputError
        One line naming the source, and the line and column, of the first problem.
    """
    if max_values is None:
        max_values = csv_limits()[1]
    _check_text(text[:SNIFF_CHARS], source)
    if delimiter in (None, "auto"):
        delimiter = detect_delimiter(text[:SNIFF_CHARS], label)
    try:
        return _parse_records(enumerate_rows(io.StringIO(text, newline=""), delimiter), label,
                              features, drop, source, max_values)
    except csv.Error as err:
        raise InputError(f"{source}: not readable as CSV ({err})") from None


def _check_text(sample: str, source: str) -> None:
    if "\x00" in sample:
        raise InputError(f"{source}: contains NUL bytes (not a text CSV file)")


def _sorted_classes(values: set[str]) -> list[str]:
    """Numeric labels in numeric order, otherwise text order."""
    try:
        return sorted(values, key=float)
    except ValueError:
        return sorted(values)


def _open_text(path: Path, size: int):
    """The file as text; with a progress bar on stderr when it is large and stderr a terminal."""
    if size >= PROGRESS_BYTES and sys.stderr.isatty():
        import rich.progress
        from rich.console import Console

        return rich.progress.open(path, "r", encoding="utf-8-sig", newline="", transient=True,
                                  description=f"reading {path.name}", console=Console(stderr=True))
    return path.open("r", encoding="utf-8-sig", newline="")


def load_csv(path: str | Path, label: str = "label", *, features: Sequence[str] | None = None,
             drop: Sequence[str] | None = None, delimiter: str | None = None):
    """(X, y, feature_names, class_names) of a CSV file, read in one pass.

    See `parse_csv` for the parameters; the size limits are ``$ACTSCOPE_CSV_MAX_BYTES``
    (checked before reading) and ``$ACTSCOPE_CSV_MAX_VALUES`` (checked while reading).

    Raises
    ------
    InputError
        One line naming the file, and the line and column, of the first problem.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"data.path = {shown(p)}: file not found")
    if not p.is_file():
        raise InputError(f"data.path = {shown(p)}: not a file")
    max_bytes, max_values = csv_limits()
    size = p.stat().st_size
    if size > max_bytes:
        raise InputError(f"data.path = {shown(p)}: {size:,} bytes, over the limit ${BYTES_ENV} = "
                         f"{max_bytes}")
    try:
        with _open_text(p, size) as fh:
            sample = fh.read(SNIFF_CHARS)
            _check_text(sample, str(p))
            if delimiter in (None, "auto"):
                delimiter = detect_delimiter(sample, label)
            fh.seek(0)
            return _parse_records(enumerate_rows(fh, delimiter), label, features, drop, str(p),
                                  max_values, _estimate_rows(sample, size))
    except UnicodeDecodeError:
        raise InputError(f"{p}: not UTF-8 text") from None
    except csv.Error as err:
        raise InputError(f"{p}: not readable as CSV ({err})") from None
