"""Every settings class of the suite lives in a `settings.py` module (issue 8: one configuration story).

A settings class is one that derives, directly or through another settings class, from
pydantic-settings' `BaseSettings`; the SDK's `LdvConfig` is a plain dataclass by design (the SDK
stays without pydantic) and lives in `ldv_sdk.settings` as well.
"""

from __future__ import annotations

import ast

from tests.conftest import REPO_ROOT

SOURCES = ("logboek/src", "sdk/src", "collector/src", "inzicht_api/src", "cli/src", "dashboards/src")


def _classes() -> list[tuple[str, list[str], str]]:
    found = []
    for source in SOURCES:
        for path in sorted((REPO_ROOT / source).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ClassDef):
                    bases = [b.id if isinstance(b, ast.Name) else b.attr if isinstance(b, ast.Attribute) else "" for b in node.bases]
                    found.append((node.name, bases, str(path.relative_to(REPO_ROOT))))
    return found


def test_settings_classes_live_in_settings_modules() -> None:
    classes = _classes()
    settings_names = {"BaseSettings"}
    while True:  # every class that derives from a settings class, to a fixpoint
        more = {name for name, bases, _ in classes if settings_names.intersection(bases)} - settings_names
        if not more:
            break
        settings_names |= more
    placed = {name: path for name, _, path in classes if name in settings_names}
    assert {"ApiSettings", "AuthSettings", "InzageSettings", "CollectorSettings", "ServeSettings"} <= set(placed)
    wrong = [f"{name} in {path}" for name, path in placed.items() if not path.endswith("/settings.py")]
    assert not wrong, wrong
    assert next(path for name, _, path in classes if name == "LdvConfig") == "sdk/src/ldv_sdk/settings.py"
