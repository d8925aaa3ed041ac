"""The built-in presets: experiment and sweep files shipped in ``config/presets/``."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

PRESETS_DIR = Path(__file__).parent / "presets"


def is_sweep_preset(path: Path) -> bool:
    """Whether a preset file is a sweep (a top-level [sweep] table) rather than an experiment."""
    try:
        return "sweep" in tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return False


def list_presets(kind: Literal["experiment", "sweep", "all"] = "experiment") -> list[str]:
    """Names of the built-in presets: experiments (default), sweeps, or all."""
    paths = sorted(PRESETS_DIR.glob("*.toml"))
    if kind != "all":
        paths = [p for p in paths if is_sweep_preset(p) == (kind == "sweep")]
    return [p.stem for p in paths]
