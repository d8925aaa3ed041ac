"""One writer per folder: a lock file holding the writer's pid, locked with ``fcntl.flock``.

The kernel drops a flock when its process ends, however it ends (SIGKILL included), so
"does a live process hold this folder?" is answered exactly by trying the lock; the pid
written inside names the holder in messages. A run directory is claimed this way when the
run starts (`claim_folder`), before any data loads or any arm trains, and hidden ``.tmp``
folders that no live process holds are removed by the next claim in their folder
(`remove_stale`).
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from actscope.errors import InputError, shown

LOCK_NAME = ".lock"
# what `tempfile.mkdtemp` names a run's hidden folders: ".<run>.report-<8 random>.tmp" (and
# ".<run>.<8 random>.tmp", written before lock files); no other folder is ever removed
STALE_NAME = re.compile(r"^\..+\.(report-)?[a-z0-9_]{8}\.tmp$")
YOUNG_S = 60.0  # a .tmp folder without a lock file, younger than this, may be taking its lock


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (signal 0 probes without sending anything)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


class FolderLock:
    """A held lock on ``folder/.lock`` (the pid of this process inside)."""

    def __init__(self, folder: Path, fd: int) -> None:
        self.folder = folder
        self._fd: int | None = fd

    @property
    def path(self) -> Path:
        return self.folder / LOCK_NAME

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Remove the lock file and let go (the file first, so no one locks a stale name)."""
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)
            self._fd = None


def try_lock(folder: str | Path) -> FolderLock | None:
    """Lock ``folder/.lock`` (creating it) for this process, or None when a live process
    holds it. The folder must exist."""
    folder = Path(folder)
    lock = folder / LOCK_NAME
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        try:  # the holder before us may have removed the file as we opened it: lock the new one
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            return FolderLock(folder, fd)
        os.close(fd)


def holder(folder: str | Path) -> int | None:
    """The pid of the live process holding ``folder/.lock`` (0 when it wrote none yet), or
    None when no process holds it (or there is no lock file)."""
    lock = Path(folder) / LOCK_NAME
    try:
        fd = os.open(lock, os.O_RDONLY)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.read(fd, 32).decode("ascii", "replace").strip()
            return int(text) if text.isdigit() else 0
        return None
    finally:
        os.close(fd)


def remove_stale(parent: str | Path) -> list[Path]:
    """Remove the hidden ``.tmp`` folders of ``parent`` named as a run's (`STALE_NAME`) that
    no live process holds (left by a process killed while writing); returns them. A
    lock-less folder younger than a minute is kept: its writer may be about to lock it."""
    parent, removed = Path(parent), list[Path]()
    try:
        entries = list(parent.iterdir())
    except OSError:
        return removed
    for p in entries:
        if not (STALE_NAME.match(p.name) and p.is_dir()):
            continue
        if holder(p) is not None:
            continue
        if not (p / LOCK_NAME).exists():
            try:
                if time.time() - p.stat().st_mtime < YOUNG_S:
                    continue
            except OSError:
                continue
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p)
    return removed


def _refuse(label: str, path: Path, reason: str) -> InputError:
    return InputError(f"{label} = {shown(str(path))}: {reason}")


def _make_folder(path: Path, label: str) -> list[Path]:
    """Create ``path`` and its missing parents; the folders created, outermost first."""
    missing = [p for p in (path, *path.parents) if not os.path.lexists(p)][::-1]
    for p in (path, *path.parents):
        if os.path.lexists(p) and not p.is_dir():
            what = "it exists and is not a folder" if p == path else f"{str(p)!r} is not a folder"
            raise _refuse(label, path, what)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _refuse(label, path, f"cannot create it ({err.strerror})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise _refuse(label, path, "the folder is not writable")
    return missing


class Claim:
    """A folder claimed by `claim_folder`: its lock, and the folders the claim created."""

    def __init__(self, lock: FolderLock, created: list[Path]) -> None:
        self.lock, self.created = lock, created

    @property
    def folder(self) -> Path:
        return self.lock.folder

    def release(self) -> None:
        self.lock.release()

    def undo(self) -> None:
        """Release the lock and remove the folders the claim created (empty ones only)."""
        self.release()
        for p in reversed(self.created):
            try:
                p.rmdir()
            except OSError:
                break


def claim_folder(path: str | Path, label: str = "--out",
                 reclaim: Callable[[Path], bool] | None = None) -> Claim:
    """Create (or take an empty) folder ``path`` and lock it for this process.

    Refused with an InputError naming ``label`` and the path: a file in the way, a folder
    that cannot be created or written, a live process holding it, or content already there
    (unless ``reclaim(path)``, asked once the lock is held, says that content may go: a
    claim whose process died before it wrote anything worth keeping). Stale hidden ``.tmp``
    folders beside it are removed (`remove_stale`).
    """
    path = Path(path)
    created = _make_folder(path, label)
    try:
        lock = try_lock(path)
    except OSError as err:
        raise _refuse(label, path, f"cannot write a lock file there ({err.strerror})") from None
    if lock is None:
        pid = holder(path)
        raise _refuse(label, path, f"another run (pid {pid}) is writing there")
    claim = Claim(lock, created)
    content = [p for p in path.iterdir() if p.name != LOCK_NAME]
    if content and reclaim is not None and reclaim(path):
        for p in content:
            shutil.rmtree(p) if p.is_dir() else p.unlink()
        content = []
    if content:
        claim.undo()
        raise _refuse(label, path, "the folder exists and is not empty; give a new or empty one")
    remove_stale(path.parent)
    return claim


def lock_folder(out: Path, what: str) -> FolderLock:
    """Create ``out`` and lock it for this process: a second ``what`` ("sweep", "search")
    writing into the same folder at the same time is refused at once (one line, exit 2);
    a later one resumes."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        lock = try_lock(out)
    except OSError as err:
        raise InputError(f"--out = {shown(str(out))}: cannot write there ({err.strerror})") from None
    if lock is None:
        raise InputError(f"--out = {shown(str(out))}: another {what} (pid {holder(out)}) is writing "
                         "there; run it again when that one has finished, to resume")
    return lock
