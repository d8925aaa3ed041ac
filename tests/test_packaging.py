"""The built wheel: it carries every data file the code opens (presets, the playground's
static files, the metrics schema, py.typed) and the metadata a package index shows."""

from __future__ import annotations

import email
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "src" / "actscope"
# the package's data files, as globs under src/actscope (pyproject's package-data names them)
DATA_GLOBS = ("py.typed", "config/presets/*.toml", "serve/static/*", "static_site/static/*",
              "experiment/*.schema.json")


def _source_data_files() -> set[str]:
    """The data files in the source tree, as wheel paths (``actscope/...``)."""
    return {f"actscope/{p.relative_to(PKG).as_posix()}"
            for pattern in DATA_GLOBS for p in PKG.glob(pattern) if p.is_file()}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    """The wheel built from a copy of the project (the checkout stays clean): setuptools from
    this environment, no network."""
    pytest.importorskip("setuptools", minversion="77")  # the SPDX `license` string
    work = tmp_path_factory.mktemp("project")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, work / name)
    shutil.copytree(ROOT / "src", work / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"))
    out = work / "dist"
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation",
                           "--no-index", "-q", "-w", str(out)], cwd=work, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (built,) = out.glob("actscope-*.whl")
    with zipfile.ZipFile(built) as zf:
        yield zf


def _metadata(wheel: zipfile.ZipFile) -> email.message.Message:
    (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    return email.message_from_bytes(wheel.read(name))


def test_the_source_tree_has_the_data_files_the_code_opens():
    files = _source_data_files()
    for must in ("actscope/py.typed", "actscope/experiment/metrics.schema.json",
                 "actscope/serve/static/index.html", "actscope/static_site/static/index.html"):
        assert must in files
    assert sum(f.startswith("actscope/config/presets/") for f in files) >= 1


def test_the_wheel_holds_every_data_file_of_the_source_tree(wheel):
    names = set(wheel.namelist())
    missing = _source_data_files() - names
    assert not missing, f"left out of the wheel: {sorted(missing)}"
    presets = {n for n in names if re.fullmatch(r"actscope/config/presets/[^/]+\.toml", n)}
    assert presets == {f"actscope/config/presets/{p.name}" for p in (PKG / "config/presets").glob("*.toml")}


def test_the_wheel_holds_every_module_and_no_test_or_cache(wheel):
    names = set(wheel.namelist())
    modules = {f"actscope/{p.relative_to(PKG).as_posix()}" for p in PKG.rglob("*.py")
               if "__pycache__" not in p.parts}
    assert modules <= names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or n.startswith("tests/")]


def test_the_wheel_metadata_has_classifiers_license_and_the_script(wheel):
    meta = _metadata(wheel)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["Name"] == "actscope" and meta["Version"] == project["version"]
    assert meta["License-Expression"] == "MIT"
    assert set(meta.get_all("Classifier")) == set(project["classifiers"])
    assert "Typing :: Typed" in meta.get_all("Classifier")
    # project URLs are whatever pyproject names (none until the project has a public home)
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [])
    assert urls == project.get("urls", {}) and all(u.startswith("https://") for u in urls.values())
    (entry,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    assert "actscope = actscope.cli:main" in wheel.read(entry).decode()


def test_the_python_classifiers_match_requires_python():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    least = re.fullmatch(r">=3\.(\d+).*", project["requires-python"])
    assert least is not None
    minors = [int(c.rsplit(".", 1)[1]) for c in project["classifiers"]
              if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)]
    assert minors and min(minors) == int(least.group(1))


def test_readme_images_exist_and_a_note_says_where_an_index_finds_them():
    text = (ROOT / "README.md").read_text()
    images = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", text)
    assert images
    for target in images:
        if not target.startswith("https://"):
            assert (ROOT / target).is_file(), target
    if any(not t.startswith("https://") for t in images):  # relative: shown on the repository only
        assert "package index" in text and "docs/" in text
