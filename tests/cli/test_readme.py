"""The README's examples work as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from ldv_logboek import attributes as attr
from ldv_logboek import records_of
from ldv_logboek._pseudonym import pseudonymise
from ldv_sdk import Spool
from tests.conftest import REPO_ROOT

KEY = "readme-test-key-0123456789"


def test_three_line_sdk_example_logs_a_pseudonymised_record(tmp_path: Path) -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("## Logging from a service", 1)[1]
    snippet = re.search(r"```python\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]
    program = snippet.replace("...", "return huur // 10") + textwrap.dedent("""
        assert bereken_huurtoeslag("123456782", 750) == 75
        ldv_sdk.shutdown(timeout=0)
    """)
    spool_path = tmp_path / "spool.sqlite3"
    env = {
        **os.environ,
        "LDV_PSEUDONYM_KEY": KEY,
        "LDV_SPOOL_PATH": str(spool_path),
        "LDV_START_SENDER": "false",  # no collector here: the record must wait in the spool
    }
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr

    spool = Spool(spool_path)
    try:
        bodies = [item.body for item in spool.peek(10)]  # each the OTLP request the sender sends
    finally:
        spool.close()
    records = [r for body in bodies for r in records_of(body)]
    assert len(records) == 1
    attributes = records[0].attributes
    assert attributes[attr.PROCESSING_ACTIVITY_ID] == "https://register.toeslagen.example/processing-activities/huurtoeslag"
    assert attributes[attr.DATA_SUBJECT_ID] == pseudonymise("123456782", KEY.encode())
    assert not any(b"123456782" in body for body in bodies)
