"""Property-based API tests: schemathesis generates requests from each API's own OpenAPI
document and checks the real app's answers against it (no 5xx, documented status codes,
content types, headers and response schemas).

Every API is exercised twice: as a supervisor (sees everything) and as a citizen (sees the
least), against a store seeded with the Fieldlab records.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from ldv_logboek.storage import LogStore
from tests.inzicht_api.inzage_support import LINDA, Signer, citizen, make_app, seed, supervisor, write_jwks

SIGNER = Signer.generate("schemathesis")
BASE_PATHS = ["/lezenapi/v1", "/registerapi/v1", "/inzage/v1", "/overzicht/v1"]


@pytest.fixture(scope="module")
def app(store: LogStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    seed(store)
    jwks = write_jwks(Path(tmp_path_factory.mktemp("jwks")) / "jwks.json", SIGNER)
    yield make_app(store, jwks, follow_chain=False)


def _operations(app: object, base_path: str) -> list[object]:
    schema = schemathesis.openapi.from_asgi(f"{base_path}/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("base_path", BASE_PATHS)
def test_api_conforms_to_its_openapi(app: object, base_path: str) -> None:
    """Schemathesis' own pytest plugin does not run under pytest 9 yet: drive it with hypothesis."""
    operations = _operations(app, base_path)
    assert operations, f"{base_path}/openapi.json lists no operations"
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        def check(case: schemathesis.Case) -> None:
            # A cursor is opaque (only one the API handed out is valid): generated ones are
            # rightly refused; paging is tested in test_lezen.py.
            if case.query:
                case.query.pop("cursor", None)
            for headers in (supervisor(SIGNER), citizen(SIGNER, LINDA)):
                response = case.call(headers=headers)
                # positive_data_acceptance is left out: one rule is beyond JSON Schema
                # (startTime <= endTime, a 400 tested in test_lezen.py).
                case.validate_response(response, excluded_checks=[positive_data_acceptance])
                assert response.status_code < 500, response.text
                assert "api-version" in {name.lower() for name in response.headers}

        check()
