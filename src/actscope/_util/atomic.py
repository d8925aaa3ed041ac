"""Atomic writes: a file appears complete under its name, or not at all.

Everything is written to a temporary name beside the destination (same folder, so the
final ``os.replace`` is a rename on one file system), unique per call (so concurrent
writers never share one), and removed on any error, Ctrl-C included. Folders (a run
directory, its report) are written file by file into a claimed folder instead
(`experiment.rundir`), so that what is done is kept.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary file path to write ``path``'s content to; renamed onto ``path`` when the
    block ends without error, removed otherwise.

    For writers that want a path (``savefig``, Parquet, ``np.savez``); the temporary name
    ends in ``.tmp``, so pass such writers their format explicitly.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: str | Path, data: str | bytes, encoding: str = "utf-8") -> Path:
    """Write ``data`` to ``path`` atomically.

    Parameters
    ----------
    path : str or Path
        The destination; its folder is created if missing.
    data : str or bytes
        Text (written with ``encoding``, newlines as given) or bytes.
    encoding : str
        The text encoding.

    Returns
    -------
    Path
        ``path``, complete.
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        if isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            with tmp.open("w", encoding=encoding, newline="") as fh:
                fh.write(data)
    return path
