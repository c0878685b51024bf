"""Every committed dashboard type-checks against Grafana 11's own published types.

`@grafana/schema` (pinned to 11.6 in dashboards/typecheck/package.json, with its lock file) is
what Grafana's frontend compiles against. Each dashboard JSON becomes a TypeScript module
`export const dashboard = <JSON> satisfies LdvDashboard`, and `tsc --noEmit --strict` checks
it: LdvDashboard (dashboards/typecheck/ldv-types.ts) is Grafana's Dashboard with the ClickHouse
plugin's SQL target in place of the bare DataQuery. A deliberately broken copy must fail, so
the check cannot pass vacuously. node_modules is installed with `npm ci` when missing.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from ldv_dashboards.build import SOURCE_ROOT
from tests.dashboards.conftest import committed_dashboards

TYPECHECK = SOURCE_ROOT / "typecheck"
OUT = TYPECHECK / "generated"
TSC = TYPECHECK / "node_modules" / "typescript" / "bin" / "tsc"


def _module(board: dict) -> str:
    return (
        "import type { LdvDashboard } from '../ldv-types';\n\n"
        f"export const dashboard = {json.dumps(board, indent=2, ensure_ascii=False)} satisfies LdvDashboard;\n"
    )


def _broken(board: dict, defect: str) -> dict:
    """A copy of `board` with one defect (one per file: TypeScript reports a literal's unknown
    keys only when nothing else in it is wrong)."""
    broken = json.loads(json.dumps(board))
    panel = broken["panels"][0]
    if defect == "grid":
        panel["gridPos"]["w"] = "24"  # a string where Grafana wants a number
    elif defect == "key":
        panel["titel"] = "typo"  # a key Grafana does not know
    elif defect == "format":
        panel["targets"][0]["format"] = 7  # not a format of the plugin
    elif defect == "refresh":
        broken["templating"]["list"][1]["refresh"] = 7  # not a VariableRefresh
    return broken


DEFECTS = ("grid", "key", "format", "refresh")


@pytest.fixture(scope="module")
def tsc_output() -> str:
    if shutil.which("node") is None:
        pytest.fail("node is needed for the dashboard type check (Debian: apt-get install nodejs npm)")
    if not TSC.exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=TYPECHECK, check=True, capture_output=True, timeout=300)
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir()
    boards = committed_dashboards()
    for uid, board in boards.items():
        (OUT / f"{uid}.ts").write_text(_module(board), encoding="utf-8")
    for defect in DEFECTS:
        (OUT / f"broken-{defect}.ts").write_text(_module(_broken(boards["ldv-toezicht"], defect)), encoding="utf-8")
    result = subprocess.run(["node", str(TSC), "--noEmit", "-p", "."], cwd=TYPECHECK, capture_output=True, text=True, timeout=300)
    return result.stdout + result.stderr


def test_pinned_to_grafana_11() -> None:
    package = json.loads((TYPECHECK / "package.json").read_text())
    assert package["devDependencies"]["@grafana/schema"].startswith("11.6.")
    lock = json.loads((TYPECHECK / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/@grafana/schema"]["version"] == package["devDependencies"]["@grafana/schema"]


def test_every_dashboard_satisfies_grafanas_types(tsc_output: str) -> None:
    errors = [line for line in tsc_output.splitlines() if "error TS" in line and not line.startswith("generated/broken-")]
    assert errors == []


@pytest.mark.parametrize("defect", DEFECTS)
def test_a_broken_dashboard_fails_the_check(tsc_output: str, defect: str) -> None:
    errors = re.findall(rf"^generated/broken-{defect}\.ts\(\d+,\d+\): error (TS\d+): (.*)$", tsc_output, re.M)
    assert errors, tsc_output
    expected = {"grid": "'string' is not assignable to type 'number'", "key": "'\"titel\"' does not exist",
                "format": "'7' is not assignable to type '0 | 1 | 2 | 3'", "refresh": "'7' is not assignable to type 'VariableRefresh"}
    assert any(expected[defect] in message for _, message in errors), errors

