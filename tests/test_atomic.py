"""Atomic writes (actscope._util.atomic): complete under the final name, or absent."""

from __future__ import annotations

import pytest

from actscope._util.atomic import atomic_path, atomic_write


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_text_and_bytes_land_whole_and_leave_no_temporary_file(tmp_path):
    atomic_write(tmp_path / "sub" / "a.txt", "α\nβ\n")
    atomic_write(tmp_path / "sub" / "b.bin", b"\x00\x01")
    assert (tmp_path / "sub" / "a.txt").read_text(encoding="utf-8") == "α\nβ\n"
    assert (tmp_path / "sub" / "b.bin").read_bytes() == b"\x00\x01"
    atomic_write(tmp_path / "sub" / "a.txt", "replaced")
    assert (tmp_path / "sub" / "a.txt").read_text() == "replaced"
    assert _leftovers(tmp_path / "sub") == []


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_an_error_keeps_the_old_file_and_removes_the_temporary_one(tmp_path, error):
    target = tmp_path / "table.csv"
    target.write_text("old")
    with pytest.raises(error), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise error("stop")
    assert target.read_text() == "old" and _leftovers(tmp_path) == []


def test_temporary_names_are_unique_per_write(tmp_path):
    with atomic_path(tmp_path / "f") as a, atomic_path(tmp_path / "f") as b:
        assert a != b and a.parent == b.parent == tmp_path
        a.write_text("a")
        b.write_text("b")
    assert (tmp_path / "f").read_text() == "a"  # the last to finish wins, whole
    assert _leftovers(tmp_path) == []
