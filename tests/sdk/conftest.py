"""Fixtures of the SDK tests: a real OTLP/HTTP receiver and configurations in tmp dirs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ldv_sdk
from ldv_logboek import records_of
from ldv_sdk.settings import LdvConfig
from tests.sdk.otlp_receiver import Receiver

KEY = b"gemeente-amsterdam-test-key-0001"


def make_config(tmp_path: Path, endpoint: str = "http://127.0.0.1:9/v1/traces", **changes: Any) -> LdvConfig:
    values: dict[str, Any] = {
        "organisation": "gemeente-amsterdam",
        "service_name": "bijstand-api",
        "pseudonym_key": KEY,
        "register_base_uri": "https://register.amsterdam.example/verwerkingsactiviteiten",
        "endpoint": endpoint,
        "spool_path": tmp_path / "spool.sqlite3",
        "max_backoff": 0.2,
    }
    values.update(changes)
    return LdvConfig(**values)


def spooled_name(body: bytes) -> str:
    """The name of the record a spool entry (an OTLP ExportTraceServiceRequest of one span) holds."""
    (record,) = records_of(body)
    return record.name


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture(autouse=True)
def _sdk_reset() -> Iterator[None]:
    """Every test leaves the SDK unconfigured, whatever it did."""
    yield
    ldv_sdk.shutdown(timeout=0)
