"""`ldv serve --register` and `ldv register load` refuse a bad register in one line, exit code 2.

The real `ldv` command in a subprocess, as a user runs it: no traceback, no rich box, one line
on stderr that names the file and the problem.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.inzicht_api.inzage_support import DEMO_REGISTER, free_port

BAD_FILES = {
    # YAML syntax error: an unclosed flow sequence (and `[` that rich would read as markup).
    "syntax": ("organisations:\n  - id: [unclosed\n", "not valid YAML: expected ',' or ']', but got '<stream end>' at line 3"),
    # Schema error: an organisation without its id.
    "schema": ("organisations:\n  - name: Zonder id\n", "organisations.0.id: Field required"),
    "missing": (None, "no such file or directory"),
}


def _ldv(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "60"}  # narrow: a rich message would wrap; ours must not
    return subprocess.run([sys.executable, "-m", "ldv_suite.cli", *args], capture_output=True, text=True, timeout=120, env=env)


def _serve(data: Path, register: Path) -> subprocess.CompletedProcess[str]:
    ports = [str(free_port()) for _ in range(3)]
    return _ldv(
        "serve", "--data-dir", str(data), "--host", "127.0.0.1", "--register", str(register),
        "--api-port", ports[0], "--otlp-http-port", ports[1], "--otlp-grpc-port", ports[2],
    )


def _assert_one_line(result: subprocess.CompletedProcess[str], path: Path, problem: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, output
    assert str(path) in lines[0] and problem in lines[0], lines[0]
    assert "Traceback" not in output and "╭" not in output and "RegisterFileError" not in output


@pytest.mark.parametrize("command", ["serve", "register load"])
@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_register_file_is_one_line_and_exit_2(tmp_path: Path, command: str, case: str) -> None:
    text, problem = BAD_FILES[case]
    path = tmp_path / "register.yaml"
    if text is not None:
        path.write_text(text)
    data = tmp_path / "data"
    if command == "serve":
        result = _serve(data, path)
    else:
        result = _ldv("register", "load", "--data-dir", str(data), str(path))
    _assert_one_line(result, path, problem)
    assert result.stdout == ""
    assert not data.exists()  # refused before the store was opened


def test_a_register_conflict_is_one_line_and_leaves_the_store_usable(tmp_path: Path) -> None:
    data, changed = tmp_path / "data", tmp_path / "changed"
    loaded = _ldv("register", "load", "--data-dir", str(data), str(DEMO_REGISTER))
    assert loaded.returncode == 0, loaded.stderr
    shutil.copytree(DEMO_REGISTER, changed)
    toeslagen = changed / "dienst-toeslagen.yaml"
    toeslagen.write_text(toeslagen.read_text().replace("artikel 16", "artikel 17", 1))
    problem = "version 1 is already in the register with other content"
    for result in (_ldv("register", "load", "--data-dir", str(data), str(changed)), _serve(data, changed)):
        assert result.returncode == 2, result.stdout + result.stderr
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("ldv: register conflict: ") and problem in lines[0], result.stderr
        assert "Traceback" not in result.stdout + result.stderr
    # Nothing was half-written: the next load finds the register as it was.
    again = _ldv("register", "load", "--data-dir", str(data), str(DEMO_REGISTER))
    assert again.returncode == 0 and "0 versions added, 13 unchanged" in again.stdout, again.stdout + again.stderr
