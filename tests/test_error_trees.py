"""Each package's exceptions form the tree drawn in its `errors.py`, under the core's `LdvError`.

The drawing is the documentation, so it is read as data: every class it names exists and has
the parent it is drawn under, and every exception class a package defines is in its drawing.
A grep over the source makes sure no module raises a bare `RuntimeError` or `Exception`.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from pathlib import Path
from types import ModuleType

import pytest

from ldv_logboek.errors import LdvError
from tests.conftest import REPO_ROOT

PACKAGES = {
    "ldv_logboek": REPO_ROOT / "logboek/src/ldv_logboek",
    "ldv_sdk": REPO_ROOT / "sdk/src/ldv_sdk",
    "ldv_collector": REPO_ROOT / "collector/src/ldv_collector",
    "ldv_inzicht": REPO_ROOT / "inzicht_api/src/ldv_inzicht",
    "ldv_suite": REPO_ROOT / "cli/src/ldv_suite",
}
# Control-flow signals that never leave their module (caught next to where they are raised).
INTERNAL_SIGNALS: set[str] = set()
_NODE = re.compile(r"^    ((?:[│ ] {3})*)(?:[├└]── )?(\w+)\s")


def _modules(package: str) -> list[ModuleType]:
    root = importlib.import_module(package)
    found = [root]
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        if info.name.rsplit(".", 1)[-1] != "__main__":
            found.append(importlib.import_module(info.name))
    return found


def _exceptions_defined_in(package: str) -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for module in _modules(package):
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == module.__name__:
                if f"{module.__name__}.{name}" not in INTERNAL_SIGNALS:
                    found[name] = value
    return found


def _drawn_tree(package: str) -> list[tuple[str, str | None]]:
    """(class name, parent name) for every node of the drawing in the package's errors.py."""
    doc = importlib.import_module(f"{package}.errors").__doc__ or ""
    edges: list[tuple[str, str | None]] = []
    stack: list[str] = []
    for line in doc.splitlines():
        match = _NODE.match(line + " ")
        if not match or not line.startswith("    "):
            continue
        depth = len(match.group(1)) // 4 + (1 if ("├" in line or "└" in line) else 0)
        del stack[depth:]
        edges.append((match.group(2), stack[-1] if stack else None))
        stack.append(match.group(2))
    return edges


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_errors_are_the_tree_drawn_in_errors_py(package: str) -> None:
    edges = _drawn_tree(package)
    assert edges and edges[0] == ("LdvError", None), f"{package}.errors must draw its tree from LdvError"
    defined = _exceptions_defined_in(package)
    known = {**defined, "LdvError": LdvError, **_exceptions_defined_in("ldv_logboek")}
    for name, parent in edges[1:]:
        assert name in known, f"{package}.errors draws {name}, which no module of {package} defines"
        assert parent is not None and known[parent] in known[name].__bases__, f"{name} is not drawn under its parent"
    drawn = {name for name, _ in edges}
    assert set(defined) <= drawn, f"exceptions of {package} missing from its drawing: {sorted(set(defined) - drawn)}"
    for name, cls in defined.items():
        assert issubclass(cls, LdvError), f"{package}: {name} does not derive from LdvError"


def test_the_sdk_exports_the_cores_base() -> None:
    import ldv_sdk

    assert ldv_sdk.LdvError is LdvError
    assert issubclass(ldv_sdk.SpoolFull, ldv_sdk.LoggingFailed) and issubclass(ldv_sdk.ConfigurationError, LdvError)
    assert issubclass(ldv_sdk.SpoolDiskFull, ldv_sdk.SpoolFull)


def _bare_raises(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Raise) and node.exc is not None:
            target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(target, ast.Name) and target.id in {"RuntimeError", "Exception", "BaseException"}:
                found.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno} raises {target.id}")
    return found


def test_no_module_raises_a_bare_runtime_error_or_exception() -> None:
    found = [hit for root in PACKAGES.values() for path in sorted(root.rglob("*.py")) for hit in _bare_raises(path)]
    assert not found, "raise an exception of the package's errors.py instead:\n" + "\n".join(found)
