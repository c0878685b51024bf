"""No import cycle inside any package, and the core's layers import one way.

Read from the source (ast), over the six src trees: every import counts, also one inside a
function or under `if TYPE_CHECKING:`, so an import moved into a function cannot hide a cycle.
`from package import name` is an edge to the module `package.name` when that is a module,
else to the package's `__init__`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.test_public_surface import SOURCES  # the six source trees, named once


def _modules() -> dict[str, Path]:
    """Every module of the six trees by its dotted name (a package by its own name)."""
    found: dict[str, Path] = {}
    for package, folder in SOURCES.items():
        root = REPO_ROOT / folder
        for path in root.rglob("*.py"):
            parts = [package, *path.relative_to(root).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The modules of the six trees that module `name` imports, anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                out.add(sub if sub in MODULES else base)
    return {m for m in out if m in MODULES and m != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycle_within(members: set[str]) -> list[str] | None:
    """A cycle among `members` (following only edges between them), or None."""
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(GRAPH[node] & members):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(members):
        if start not in state and (found := visit(start)) is not None:
            return found
    return None


PACKAGES = sorted({name for name, path in MODULES.items() if path.name == "__init__.py"})


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle_inside_a_package(package: str) -> None:
    """Among a package's own modules (its `__init__` and the modules beside it), no cycle."""
    members = {m for m in MODULES if m.rpartition(".")[0] == package and m not in PACKAGES} | {package}
    cycle = _cycle_within(members - {package}) or _cycle_within(members)
    assert cycle is None, " -> ".join(cycle or [])


@pytest.mark.parametrize("component", sorted(SOURCES))
def test_no_import_cycle_inside_a_component(component: str) -> None:
    """Across a component's modules and subpackages, no cycle that does not pass through an `__init__`."""
    members = {m for m in MODULES if (m == component or m.startswith(component + ".")) and m not in PACKAGES}
    cycle = _cycle_within(members)
    assert cycle is None, " -> ".join(cycle or [])


PURE_CORE = {m for m in MODULES if m.startswith("ldv_logboek") and not m.startswith("ldv_logboek.storage")}


def test_the_pure_core_never_imports_storage() -> None:
    """The arrow goes one way: storage imports the pure core, never the other way round."""
    wrong = sorted(f"{m} imports {i}" for m in PURE_CORE for i in GRAPH[m] if i.startswith("ldv_logboek.storage"))
    assert not wrong, "\n".join(wrong)


def test_pyarrow_stays_out_of_the_cores_init() -> None:
    """`import ldv_logboek` is what the SDK does: no pyarrow on that path (only `rule_columns` and storage use it)."""
    seen: set[str] = set()
    todo = ["ldv_logboek"]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        todo.extend(GRAPH[module])
        text = MODULES[module].read_text()
        assert "import pyarrow" not in text, f"{module} (imported by ldv_logboek) imports pyarrow"
    assert "ldv_logboek.rule_columns" not in seen


def test_the_graph_sees_imports_inside_functions() -> None:
    """The test's own check: an import inside a function is an edge (ldv_suite.cli imports lazily)."""
    lazy = {
        name
        for name, path in MODULES.items()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef)
        for inner in ast.walk(node)
        if isinstance(inner, ast.ImportFrom) and (inner.module or "").startswith("ldv_")
    }
    assert lazy, "no function-level import of our own modules found: the graph would not be tested on one"
    assert all(GRAPH[name] for name in lazy)
