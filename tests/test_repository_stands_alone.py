"""The repository stands alone: nothing in it reads a folder beside the clone."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.conftest import REPO_ROOT, SPECS_DIR

# A path that climbs out of the repository to a sibling folder, as `../shared` or
# `REPO_ROOT.parent / "shared"` would.
OUTSIDE = re.compile(r"""\.\./shared|parent\s*/\s*["']shared["']|parents\[\d+\]\s*/\s*["']shared""")
SKIPPED_DIRS = {".git", ".venv", "node_modules", "__pycache__", ".ldv-data", ".mypy_cache", ".ruff_cache"}


def _files() -> list[Path]:
    found = []
    for path in REPO_ROOT.rglob("*"):
        if any(part in SKIPPED_DIRS for part in path.relative_to(REPO_ROOT).parts):
            continue
        if path.is_file() and path.suffix in {".py", ".toml", ".cfg", ".ini", ".sh", ".yaml", ".yml"} or path.name in {"Makefile", "run"}:
            found.append(path)
    return found


def test_no_code_or_config_reads_a_folder_beside_the_clone() -> None:
    offenders = [str(p.relative_to(REPO_ROOT)) for p in _files() if p != Path(__file__) and OUTSIDE.search(p.read_text(encoding="utf-8", errors="replace"))]
    assert offenders == []


def test_published_specs_are_carried_in_the_repository() -> None:
    spec = json.loads((SPECS_DIR / "ldv-lezen-openapi.json").read_text(encoding="utf-8"))
    assert spec["info"]["title"] == "LDV lezen API"
    assert spec["info"]["version"] == "1.1.0"
    schema = json.loads((SPECS_DIR / "ldv-lezen-attributes.schema.json").read_text(encoding="utf-8"))
    assert isinstance(schema, dict) and schema
    note = (SPECS_DIR / "README.md").read_text(encoding="utf-8")
    assert "1.1.0" in note and "comma" in note
