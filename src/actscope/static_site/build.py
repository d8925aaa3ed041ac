"""Write the static playground into a folder: the page, its script, the network in
JavaScript, the generated activations and the embedded data. The folder appears whole or
not at all (written beside it under a temporary name, then renamed)."""

from __future__ import annotations

import json
import shutil
import tempfile
from importlib import resources
from pathlib import Path

from actscope.errors import InputError
from actscope.serve.schema import DATASET_EXTRAS
from actscope.static_site.bundle import BuildOptions, make_bundle

ASSETS = ("index.html", "app.js", "net.js", "state.js", "style.css")


def check_target(out: Path) -> None:
    """An InputError unless ``out`` is a folder that can be created, or an empty one."""
    if out.exists() and not out.is_dir():
        raise InputError(f"DIR = '{out}': is a file; give a new or empty folder")
    if out.is_dir() and any(out.iterdir()):
        raise InputError(f"DIR = '{out}': is not empty; give a new or empty folder")
    parent = out.resolve().parent
    if not parent.is_dir():
        raise InputError(f"DIR = '{out}': its parent folder {parent} does not exist")


def build_site(out: str | Path, opts: BuildOptions | None = None) -> Path:
    """Build the static playground into ``out`` (a new or empty folder).

    Parameters
    ----------
    out : str or Path
        Where the site goes; open ``out/index.html`` in a browser (no server needed).
    opts : BuildOptions, optional
        Seeds, extra formula activations and data settings (defaults: the playground's).

    Returns
    -------
    Path
        ``out``.
    """
    out = Path(out)
    opts = opts or BuildOptions()
    check_target(out)
    bundle, acts_js = make_bundle(opts)  # every InputError before anything is written
    bundle["dataset_extras"] = DATASET_EXTRAS
    parent = out.resolve().parent
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=parent))
    try:
        static = resources.files("actscope.static_site") / "static"
        for name in ASSETS:
            (tmp / name).write_bytes((static / name).read_bytes())
        (tmp / "activations.js").write_text(acts_js, encoding="utf-8")
        (tmp / "bundle.js").write_text("globalThis.ACTSCOPE_BUNDLE = " + json.dumps(bundle) + ";\n",
                                       encoding="utf-8")
        tmp.chmod(0o755)
        if out.is_dir():
            out.rmdir()  # empty, checked above
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


__all__ = ["ASSETS", "build_site", "check_target"]
