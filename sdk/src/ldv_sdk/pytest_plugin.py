"""pytest plugin of ldv-sdk (registered through the `pytest11` entry point): the `ldv_records` fixture."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ldv_sdk.testing import CapturedRecords, capture_ldv


@pytest.fixture
def ldv_records() -> Iterator[CapturedRecords]:
    """The LDV records the test produces, as a list of dicts (see ldv_sdk.testing.capture_ldv)."""
    with capture_ldv() as records:
        yield records
