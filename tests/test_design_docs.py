"""docs/design.md and the README against the code: the layers, the tree, the spec fields,
the commands, the public names, every ``actscope.<name>`` the README uses, the reference
articles, the licence and the Python and setuptools floors.

docs/design.md is the source of truth; these tests make a change to a contract fail until the
code, the design and the README say the same thing.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import actscope

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "actscope"
DESIGN = ROOT / "docs" / "design.md"
README = ROOT / "README.md"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
DOTTED = re.compile(r"(?<![\w./-])actscope(?:\.[A-Za-z_]\w*)+")


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _section(text: str, heading: str) -> str:
    """The body of the markdown section ``heading`` (up to the next heading of its level)."""
    level = heading.split(" ", 1)[0]
    start = text.index(heading + "\n") + len(heading) + 1
    nxt = re.search(rf"^{re.escape(level)} ", text[start:], flags=re.M)
    return text[start: start + nxt.start()] if nxt else text[start:]


def _fenced(text: str) -> list[tuple[str, str]]:
    """(info string, body) of every fenced code block."""
    return re.findall(r"^```(\w*)\n(.*?)^```", text, flags=re.M | re.S)


def _prose(text: str) -> str:
    return re.sub(r"^```\w*\n.*?^```", "", text, flags=re.M | re.S)


def _architecture_layers() -> list[tuple[str, ...]]:
    return _load_test_module("test_architecture").LAYERS


def _tree() -> set[str]:
    """The subpackages and top-level modules of src/actscope (the facades aside)."""
    pkgs = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    mods = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__", "__main__"}
    return pkgs | mods


# docs/design.md ---------------------------------------------------------------------------

def test_design_says_it_is_the_source_of_truth():
    head = _text(DESIGN)[:1500]
    assert "source of truth" in head and "change together" in head


def test_no_file_points_to_the_old_design_outside_the_repository():
    old = "DESIGN" + ".md"
    paths = [README, ROOT / "Makefile", *ROOT.glob("docs/**/*.md"), *PACKAGE.rglob("*.py"),
             *ROOT.glob("tests/*.py"), *ROOT.glob("benchmarks/*.py")]
    assert [str(p.relative_to(ROOT)) for p in paths if old in _text(p)] == []


def test_the_layer_table_is_the_architecture_tests_list():
    rows = re.findall(r"^\| (\d+) \| `([\w.]+)` \|", _text(DESIGN), flags=re.M)
    table = [(int(rank), f"actscope.{pkg}") for rank, pkg in rows]
    expected = [(rank, pkg) for rank, pkgs in enumerate(_architecture_layers()) for pkg in pkgs]
    assert table == expected
    assert {pkg for _rank, pkg in rows} == _tree()


def _field_names(model) -> set[str]:
    return {f.alias or name for name, f in model.model_fields.items()}


def test_the_design_names_every_spec_field():
    import actscope.config as config
    from actscope.sweep import SweepTable

    specs = _section(_text(DESIGN), "### Specs and configuration (`config`)")
    models = [config.ExperimentSpec, config.DataSpec, config.ModelSpec, config.TrainSpec, config.ArmSpec,
              config.SeedsSpec, config.PointSpec, config.ProbesSpec, config.ReportSpec,
              config.CustomActivationSpec, SweepTable]
    named = set(re.findall(r"`\[*([\w.]+)\]*`", specs))  # `lr`, `[data]`, `[[probes.points]]`
    named |= {n.rsplit(".", 1)[-1] for n in named}
    missing = sorted(f"{m.__name__}.{f}" for m in models for f in _field_names(m) if f not in named)
    assert missing == []


def test_the_design_names_every_command():
    from actscope.cli import main

    cli = _section(_text(DESIGN), "### Command line (`cli`)")
    commands = [*main.commands, *main.commands["theory"].commands]
    assert [c for c in commands if c not in cli] == []
    assert all(f"**{code}**" in cli for code in (0, 2, 1))


def _load_test_module(name: str):
    spec = importlib.util.spec_from_file_location(f"_{name}", ROOT / "tests" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_design_names_the_public_api():
    api = _section(_text(DESIGN), "### Python API (stable; tests and outside code use it)")
    assert [n for n in actscope.__all__ if f"`{n}`" not in api] == []
    assert [s for s in actscope._SUBPACKAGES if f"`{s}`" not in api] == []
    block = re.search(r"<!-- api-lists: begin -->\n(.*?)\n<!-- api-lists: end -->", api, flags=re.S)
    expected = _load_test_module("test_public_api").current_lists()[1]
    assert block and block.group(1) == expected, "run `python tests/test_public_api.py`, paste the lists"


def test_the_reference_articles_are_in_the_repository():
    ref = ROOT / "docs" / "reference"
    for name in ("sigmoid-vs-relu-article.md", "with-vs-without-article.md"):
        text = _text(ref / name)
        assert text.startswith("# ") and len(text) > 5000, name
    assert "reference/sigmoid-vs-relu-article.md" in _text(DESIGN)


@pytest.mark.parametrize("doc", [README, DESIGN], ids=lambda p: p.name)
def test_relative_links_resolve(doc):
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", _text(doc))
    local = [link for link in links if "://" not in link]
    assert [link for link in local if not (doc.parent / link).exists()] == []


# README -----------------------------------------------------------------------------------

def test_readme_opens_with_make_demo_and_make_test():
    _info, first = _fenced(_text(README))[0]
    lines = [line.split()[:2] for line in first.strip().splitlines()]
    assert lines[:2] == [["make", "demo"], ["make", "test"]]


def test_readme_layout_matches_the_tree():
    layout = _fenced(_section(_text(README), "## Layout"))[0][1]
    listed = set(re.findall(r"^  (\w+)(?:/|\.py)\s", layout, flags=re.M))
    assert listed == _tree()


def _python_references() -> list[str]:
    """``actscope.x.y`` in the README's Python: its python code blocks and the inline code
    that is a call (``actscope.theory.critical_sigma_w2("relu")``)."""
    text = _text(README)
    code = [body for info, body in _fenced(text) if info == "python"]
    code += [span for span in re.findall(r"`([^`\n]+)`", _prose(text)) if "(" in span]
    return sorted({m for block in code for m in DOTTED.findall(block)})


def test_readme_python_resolves_after_a_plain_import():
    """Attribute access only, in a fresh interpreter: what a reader who types it gets."""
    refs = _python_references()
    assert "actscope.theory.critical_sigma_w2" in refs and "actscope.MLPSpec" in refs
    code = ("import json, sys, actscope\nbad = []\nfor ref in json.loads(sys.argv[1]):\n"
            "    obj = actscope\n    try:\n        for part in ref.split('.')[1:]:\n"
            "            obj = getattr(obj, part)\n    except AttributeError as e:\n"
            "        bad.append(f'{ref}: {e}')\nprint(json.dumps(bad))")
    out = subprocess.run([sys.executable, "-c", code, json.dumps(refs)], capture_output=True, text=True,
                         check=True)
    assert json.loads(out.stdout) == []


def _resolve(ref: str):
    parts = ref.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for part in parts[i:]:
            obj = getattr(obj, part)
        return obj
    raise ModuleNotFoundError(ref)


@pytest.mark.parametrize("doc", [README, DESIGN], ids=lambda p: p.name)
def test_every_dotted_name_in_the_docs_exists(doc):
    """Module paths in prose (``actscope.analysis.collapse``) name a module or an attribute."""
    bad = []
    for ref in sorted(set(DOTTED.findall(_text(doc)))):
        try:
            _resolve(ref)
        except (ImportError, AttributeError) as err:
            bad.append(f"{ref}: {err}")
    assert bad == []


# packaging --------------------------------------------------------------------------------

def test_license_is_mit():
    text = _text(ROOT / "LICENSE")
    assert text.startswith("MIT License") and "Copyright (c) 2026 the actscope developers" in text
    assert PYPROJECT["project"]["license"] == "MIT" and "LICENSE" in PYPROJECT["project"]["license-files"]


def _floor(spec: str) -> tuple[int, ...]:
    return tuple(int(v) for v in re.fullmatch(r">=\s*([\d.]+)", spec.strip()).group(1).split("."))


def test_python_and_setuptools_floors_match_the_code():
    python = _floor(PYPROJECT["project"]["requires-python"])
    uses_tomllib = any(re.search(r"^\s*import tomllib", _text(p), flags=re.M) for p in PACKAGE.rglob("*.py"))
    assert python == ((3, 11) if uses_tomllib else python)  # tomllib is 3.11+
    assert sys.version_info[:2] >= python
    assert f"Python ≥ {python[0]}.{python[1]}" in _text(README)
    assert f"Python {python[0]}.{python[1]}+" in _text(ROOT / "Makefile")
    setuptools = [r for r in PYPROJECT["build-system"]["requires"] if r.startswith("setuptools")]
    assert setuptools and _floor(setuptools[0].removeprefix("setuptools")) >= (77,)  # SPDX license


def test_package_data_exists_and_ships_the_typing_marker_and_the_schema():
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["actscope"]
    assert "py.typed" in patterns
    assert any(path.name == "metrics.schema.json" for p in patterns for path in PACKAGE.glob(p))
    assert [p for p in patterns if not list(PACKAGE.glob(p))] == []
    assert "jsonschema" in " ".join(PYPROJECT["project"]["optional-dependencies"]["dev"])


def test_python_dash_m_actscope_is_the_command_line():
    out = subprocess.run([sys.executable, "-m", "actscope", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and actscope.__version__ in out.stdout
