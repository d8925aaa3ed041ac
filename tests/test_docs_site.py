"""The documentation site builds with warnings as errors (`mkdocs build --strict`, offline),
its spec page lists every field of every spec model with its default, and its command-line
page every command. Skipped without the `docs` extra."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

pytest.importorskip("mkdocs")
pytest.importorskip("material")
pytest.importorskip("mkdocstrings_handlers.python")

from actscope.cli import main  # noqa: E402
from actscope.cli.schema import template, toml_value  # noqa: E402
from actscope.cli.spec_reference import SECTIONS, is_required, rows  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
                        "-d", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return out


def _page(site: Path, name: str) -> str:
    return (site / name / "index.html").read_text(encoding="utf-8")


def _sections(page: str) -> dict[str, str]:
    """Each <h2>'s text -> the HTML up to the next <h2>."""
    parts = re.split(r"<h2 id=\"[^\"]*\">", page)[1:]
    titles = [html.unescape(re.sub(r"<[^>]+>", "", p.split("</h2>", 1)[0])) for p in parts]
    return {title.replace("¶", "").strip(): p for title, p in zip(titles, parts)}


def _expected_default(default) -> str:
    if is_required(default):
        return "required"
    if default is None:
        return "none"
    if hasattr(default, "model_dump"):
        return "its table"
    return f"<code>{html.escape(toml_value(default), quote=False)}</code>"


def test_every_page_of_the_nav_is_built(site):
    for page in ("getting-started", "articles", "concepts", "theory", "spec", "cli", "api", "design",
                 "reference/sigmoid-vs-relu-article", "reference/with-vs-without-article"):
        assert (site / page / "index.html").is_file(), page
    assert "googleapis" not in (site / "index.html").read_text(encoding="utf-8")  # no fonts fetched


def test_the_spec_page_lists_every_field_with_its_default(site):
    sections = _sections(_page(site, "spec"))
    assert len(rows()) > 80
    for section, model in SECTIONS:
        needle = f"[{section}]" if section else "Top level"  # [data], [[arms]], [activations.NAME]
        [body] = [b for title, b in sections.items() if needle in title and "of a search file" not in title]
        for name, info in model.model_fields.items():
            key = info.alias or name
            default = next(d for s, k, d, _m in rows() if (s, k) == (section, key))
            shown = _expected_default(default)
            row = rf"<td><code>{re.escape(key)}</code></td>\s*<td>{re.escape(shown)}</td>"
            assert re.search(row, body), (section, key, shown)


def test_the_spec_page_documents_the_sweep_format_and_both_templates(site):
    page = _page(site, "spec")
    sections = _sections(page)
    assert "[sweep.grid]" in sections["The sweep format"]
    text = html.unescape(re.sub(r"<[^>]+>", "", sections["Templates"]))  # highlighting removed
    assert "actscope init --sweep" in text
    for sweep in (False, True):  # the templates as `actscope init` writes them, line by line
        assert all(line in text for line in template(sweep).splitlines())


def _command_paths(group: click.Group, prefix: str) -> list[str]:
    out = []
    for name, cmd in group.commands.items():
        out.append(f"{prefix} {name}")
        if isinstance(cmd, click.Group):
            out += _command_paths(cmd, f"{prefix} {name}")
    return out


def test_the_cli_page_holds_every_command_and_its_help(site):
    sections = _sections(_page(site, "cli"))
    paths = _command_paths(main, "actscope")
    assert {"actscope schema", "actscope init", "actscope theory critical"} <= set(paths)
    for path in paths:
        assert path in sections, path
        assert f"Usage: {path}" in sections[path]
    assert "--sweep" in sections["actscope init"]


def test_the_api_page_is_rendered_from_the_docstrings(site):
    page = _page(site, "api")
    assert "actscope.config.ExperimentSpec" in page and "to_toml" in page
    assert "critical_sigma_w2" in page
