"""The built-in presets: experiment, sweep and search files shipped in ``config/presets/``."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

PRESETS_DIR = Path(__file__).parent / "presets"
Kind = Literal["experiment", "sweep", "search"]


def preset_kind(path: Path) -> Kind:
    """What a preset file is: a sweep (a top-level [sweep] table), a search (a top-level
    [search] table) or an experiment."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return "experiment"
    return "sweep" if "sweep" in data else "search" if "search" in data else "experiment"


def is_sweep_preset(path: Path) -> bool:
    """Whether a preset file is a sweep (a top-level [sweep] table) rather than an experiment."""
    return preset_kind(path) == "sweep"


def list_presets(kind: Literal["experiment", "sweep", "search", "all"] = "experiment") -> list[str]:
    """Names of the built-in presets: experiments (default), sweeps, searches, or all."""
    paths = sorted(PRESETS_DIR.glob("*.toml"))
    if kind != "all":
        paths = [p for p in paths if preset_kind(p) == kind]
    return [p.stem for p in paths]
