"""`ldv inzage BSN`: the citizen's processings for a written request, from a real store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ldv_logboek.register import load_register_files
from ldv_logboek.storage import LogStore, RegisterStore, connect
from tests.inzicht_api.inzage_support import BEN, DEMO_REGISTER, KEYS, LINDA, seed


def _ldv(*args: str, keys: dict[str, str] | None = KEYS) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    for name in ("LDV_ORGANISATION_KEYS",):
        env.pop(name, None)
    if keys is not None:
        env["LDV_ORGANISATION_KEYS"] = json.dumps(keys)
    return subprocess.run([sys.executable, "-m", "ldv_suite.cli", *args], capture_output=True, text=True, timeout=60, env=env)


def test_inzage_shows_own_records_with_law_and_never_confidential(tmp_path: Path) -> None:
    data = tmp_path / "data"
    # chDB opens one data directory per process: seed, close, then let the CLI open it.
    store = LogStore(connect(f"chdb://{data}"))
    store.migrate()
    RegisterStore(store).save(load_register_files([DEMO_REGISTER]))
    seeded = seed(store)
    store.close()

    linda = _ldv("inzage", LINDA, "--data-dir", str(data), "--json")
    assert linda.returncode == 0, linda.stderr
    answer = json.loads(linda.stdout)
    spans = {p["spanId"] for t in answer["traces"] for g in t["organisations"] for p in g["processings"]}
    assert spans == seeded.linda_visible
    assert not spans & seeded.linda_confidential
    assert LINDA not in linda.stdout and LINDA not in linda.stderr

    table = _ldv("inzage", LINDA, "--data-dir", str(data))
    assert table.returncode == 0 and "Wet op de huurtoeslag" in table.stdout and "Dienst Toeslagen" in table.stdout

    ben = json.loads(_ldv("inzage", BEN, "--data-dir", str(data), "--json").stdout)
    ben_spans = {p["spanId"] for t in ben["traces"] for g in t["organisations"] for p in g["processings"]}
    assert ben_spans == seeded.ben


def test_inzage_refuses_what_is_not_a_bsn_and_missing_keys(tmp_path: Path) -> None:
    bad = _ldv("inzage", "123456789", "--data-dir", str(tmp_path / "d"))
    assert bad.returncode == 2 and "elfproef" in bad.stdout
    no_keys = _ldv("inzage", LINDA, "--data-dir", str(tmp_path / "d"), keys=None)
    assert no_keys.returncode == 2 and "LDV_ORGANISATION_KEYS" in no_keys.stdout
