"""Running the repository's Go and Java programs from pytest: the toolchains, and their verdicts.

The Go modules under tests/go/ and examples/go/ pin their dependencies in go.mod/go.sum; the
go command takes them from the module proxy into the module cache (`make peers` fetches them
ahead, so a test run itself downloads nothing new). Maven likewise for examples/java/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GO_CANDIDATES = ("go", "/usr/local/go/bin/go")


def go_binary() -> str:
    """The go command; a missing toolchain fails the test (the machine kind has one, and so has CI)."""
    for candidate in GO_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    raise AssertionError("no Go toolchain on PATH or in /usr/local/go/bin: install Go 1.26 (see README)")


def mvn_binary() -> str:
    found = shutil.which("mvn")
    if not found:
        raise AssertionError("no Maven on PATH: install Maven 3.8 and a JDK 17 (see README)")
    return found


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run `cmd` and return what it printed (stderr folded into stdout)."""
    return subprocess.run(
        cmd, cwd=cwd, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, timeout=timeout, check=False,
    )  # fmt: skip


def go_test(module: Path, env: dict[str, str], *extra: str, timeout: float = 600) -> str:
    """`go test -v` in `module`; asserts that it passed and that no test was skipped; returns the output."""
    result = run([go_binary(), "test", "-count=1", "-v", *extra, "./..."], module, env, timeout)
    assert result.returncode == 0, f"go test {' '.join(extra)} failed in {module}:\n{result.stdout[-20000:]}"
    assert "--- SKIP" not in result.stdout, result.stdout[-20000:]
    assert "--- PASS" in result.stdout, result.stdout[-20000:]
    return result.stdout
