"""The example service (examples/sdk_service) works as the README shows it."""

from __future__ import annotations

import asyncio
import importlib
from pathlib import Path

import httpx
import pytest

from ldv_logboek import attributes as attr
from ldv_sdk.clients import uninstrument_httpx
from ldv_sdk.testing import capture_ldv


def test_example_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LDV_PSEUDONYM_KEY", "example-test-key-0123456789")
    monkeypatch.setenv("LDV_SPOOL_PATH", str(tmp_path / "spool.sqlite3"))
    monkeypatch.setenv("LDV_START_SENDER", "false")
    monkeypatch.setenv("BELASTINGDIENST_URL", "http://127.0.0.1:9/")  # nobody there: the example copes
    example = importlib.import_module("examples.sdk_service.app")
    try:

        async def calls() -> list[int]:
            transport = httpx.ASGITransport(app=example.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://toeslagen") as client:
                ok = await client.get("/huurtoeslag/123456782")
                bad = await client.get("/huurtoeslag/abc")
            return [ok.status_code, bad.status_code]

        with capture_ldv() as records:
            assert asyncio.run(calls()) == [200, 400]
        good, bad = records
        assert good["name"] == "huurtoeslag berekenen"
        assert good["attributes"][attr.DATA_SUBJECT_ID] == records.pseudonym("123456782")
        assert good["attributes"][attr.PROCESSING_ACTIVITY_ID].endswith("/huurtoeslag-berekenen")
        assert bad["status"] == "Unset"  # handled bad input is not an Error
    finally:
        uninstrument_httpx()
