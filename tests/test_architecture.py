"""The package's shape, as docs/design.md states it: layers that import only downward,
no import cycles, no private names imported across modules, small modules and functions.

Read from the source with ``ast`` (nothing is imported), so a deferred import inside a
function counts as much as one at the top of a module.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "actscope"

# Lowest first. A module may import its own layer's package and the layers below it;
# packages that share a rank (_util, seeding) may not import each other.
LAYERS: list[tuple[str, ...]] = [
    ("actscope.errors",),
    ("actscope._util", "actscope.seeding"),
    ("actscope.activations",),
    ("actscope.theory",),
    ("actscope.nn",),
    ("actscope.engines",),
    ("actscope.data",),
    ("actscope.training",),
    ("actscope.config",),
    ("actscope.analysis",),
    ("actscope.experiment",),
    ("actscope.estimators",),
    ("actscope.report",),
    ("actscope.sweep",),
    ("actscope.search",),
    ("actscope.interop",),
    ("actscope.pipeline",),
    ("actscope.serve",),
    ("actscope.static_site",),
    ("actscope.cli",),
]
FACADES = {"actscope", "actscope.__main__"}  # the lazy top-level names and `python -m actscope`
MAX_ROOT_MODULES = 10
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(node: ast.ImportFrom, module: str, path: Path) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str) -> list[tuple[str, str, int]]:
    """(imported module, imported name or "", line) for every actscope import of ``module``."""
    path = MODULES[module]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(a.name, "", node.lineno) for a in node.names if a.name.startswith("actscope")]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(node, module, path)
            if not target.startswith("actscope"):
                continue
            for a in node.names:
                sub = f"{target}.{a.name}"
                out.append((sub, "", node.lineno) if sub in MODULES else (target, a.name, node.lineno))
    return out


def _rank(module: str) -> tuple[int, str] | None:
    best = None
    for rank, packages in enumerate(LAYERS):
        for pkg in packages:
            if module == pkg or module.startswith(pkg + "."):
                if best is None or len(pkg) > len(best[1]):
                    best = (rank, pkg)
    return best


GRAPH = {m: _imports(m) for m in MODULES}


def test_every_module_has_a_layer():
    assert [m for m in MODULES if m not in FACADES and _rank(m) is None] == []


def test_imports_only_downward():
    bad = []
    for module, deps in GRAPH.items():
        if module in FACADES:
            continue
        rank, pkg = _rank(module)
        for target, _name, line in deps:
            if target == "actscope":
                bad.append(f"{module}:{line} imports the facade 'actscope'")
                continue
            t_rank, t_pkg = _rank(target)
            if t_rank > rank or (t_rank == rank and t_pkg != pkg):
                bad.append(f"{module}:{line} -> {target} (layer {t_pkg} is not below {pkg})")
    assert bad == []


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    edges = defaultdict(set)
    for module, deps in GRAPH.items():
        for target, _n, _l in deps:
            # importing a submodule also runs its package's __init__
            parts = target.split(".")
            for i in range(2, len(parts) + 1):
                prefix = ".".join(parts[:i])
                if prefix in MODULES and prefix != module and not module.startswith(prefix + "."):
                    edges[module].add(prefix)
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in list(MODULES):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    assert _cycles() == []


def test_no_private_names_across_modules():
    bad = [f"{m}:{line} imports {name} from {target}"
           for m, deps in GRAPH.items() for target, name, line in deps
           if name.startswith("_") and not name.startswith("__") and target != m]
    assert bad == []


def test_package_root_is_small():
    root = [m for m in MODULES if m.count(".") == 1 and not (PACKAGE / m.split(".")[1]).is_dir()]
    assert len(root) + 1 <= MAX_ROOT_MODULES, root  # + actscope/__init__.py


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_and_functions_are_small(module):
    text = MODULES[module].read_text()
    assert text.count("\n") <= MAX_MODULE_LINES
    long = [f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for node in ast.walk(ast.parse(text))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert long == []


def test_the_checks_can_fail(tmp_path):
    """The cycle finder and the layer ranks see what they are meant to see."""
    assert _rank("actscope.nn.model") == (4, "actscope.nn")
    assert _rank("actscope.cli.progress")[1] == "actscope.cli"
    saved = dict(GRAPH)
    try:
        GRAPH["actscope.errors"] = [("actscope.seeding", "", 1)]
        GRAPH["actscope.seeding"] = [("actscope.errors", "", 1)]
        assert ["actscope.errors", "actscope.seeding"] in _cycles()
    finally:
        GRAPH.clear()
        GRAPH.update(saved)
