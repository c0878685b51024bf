"""Real responses of the read API validated against the published Logius OpenAPI (specs/ in this repository).

The published spec refers to two documents on the internet (the NL GOV problem+json schema
and the ADR's API-Version header); the tests substitute local copies (beside this file) so they
run offline. Its attributes schema is the one published beside the spec.
"""

from __future__ import annotations

import copy
import json
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from ldv_inzicht._app import create_app
from ldv_inzicht.settings import ApiSettings
from ldv_logboek import Status
from ldv_logboek import attributes as attr
from ldv_logboek.storage import LogStore, connect
from tests.conftest import SPECS_DIR, make_record
from tests.inzicht_api.inzage_support import Signer, auth_settings, supervisor, write_jwks

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

SPECS = SPECS_DIR
HERE = Path(__file__).parent
SPEC_URI = "file:///specs/ldv-lezen-openapi.json"
ATTRIBUTES_URI = "file:///specs/ldv-lezen-attributes.schema.json"
PROBLEM_URI = "https://schemas.don.projects.digilab.network/api-design-rules/problemjson.json"
ADR_COMPONENTS_URI = "https://static.developer.overheid.nl/adr/components.yaml"
URL = "/lezenapi/v1/processing-activities"
SEMVER = re.compile(r"^\d+\.\d+\.\d+$")

SUBJECT = "hmac-sha256:" + "d4" * 32
ACTIVITY = "https://register.example/processing-activities/bijstand"


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    assert SPECS.is_dir(), f"published specs not found at {SPECS}"
    return _load(SPECS / "ldv-lezen-openapi.json")


@pytest.fixture(scope="module")
def registry(spec: dict[str, Any]) -> Registry:
    resources = {
        SPEC_URI: spec,
        ATTRIBUTES_URI: _load(SPECS / "ldv-lezen-attributes.schema.json"),
        PROBLEM_URI: _load(HERE / "nlgov-problem.schema.json"),
        ADR_COMPONENTS_URI: _load(HERE / "adr-components.json"),
    }
    return Registry().with_resources(
        (uri, Resource.from_contents(contents, default_specification=DRAFT202012))
        for uri, contents in resources.items()
    )


def validator(registry: Registry, pointer: str) -> Draft202012Validator:
    """A validator for the schema at `pointer` in the published spec, checking formats."""
    checker = FormatChecker()
    # Without these the formats would pass unchecked and the test would prove nothing.
    assert {"uuid", "uri"} <= set(checker.checkers), "install rfc3986-validator for the uri format"
    return Draft202012Validator({"$ref": f"{SPEC_URI}#{pointer}"}, registry=registry, format_checker=checker)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    store = LogStore(connect(f"chdb://{tmp_path_factory.mktemp('schema')}"))
    store.migrate()
    root = make_record(subject=SUBJECT, activity=ACTIVITY, name="bijstand aanvragen")
    root.status = Status.OK
    child = make_record(
        subject=SUBJECT, activity=ACTIVITY, trace_id=root.trace_id, name="inkomen opvragen",
        start_ns=root.start_time_ns + 1_000_000,
        dpl__core__foreign_operation__processor="https://gemeente.example/bijstand",
        dpl__read__externalReadAPI_id="https://belastingdienst.example/lezenapi/v1",
        exception__message="upstream timeout", exception__type="TimeoutError",
    )
    child.parent_span_id = root.span_id
    child.status = Status.ERROR
    store.insert([root, child, make_record(subject=SUBJECT, activity=ACTIVITY)])
    store.insert([child])
    signer = Signer.generate("issuer-1")
    jwks = write_jwks(tmp_path_factory.mktemp("keys") / "jwks.json", signer)
    app = create_app(store, ApiSettings(), auth_settings=auth_settings(jwks))
    yield TestClient(app, headers=supervisor(signer))  # a supervisor reads every record
    store.close()


REQUESTS = [
    {attr.DATA_SUBJECT_ID: SUBJECT},
    {attr.PROCESSING_ACTIVITY_ID: ACTIVITY, "startTime": 0, "endTime": 9_000_000_000_000},
]


@pytest.mark.parametrize("search", REQUESTS)
def test_requests_and_responses_match_the_published_schemas(
    client: TestClient, registry: Registry, spec: dict[str, Any], search: dict[str, Any]
) -> None:
    validator(registry, "/components/schemas/ProcessingActivityRequest").validate(search)
    response = client.post(URL, json=search)
    assert response.status_code == 200
    body = response.json()
    assert len(body["processingActivities"]) == 3
    validator(registry, "/components/schemas/ListProcessingActivities").validate(body)
    assert any("parentSpanId" in item for item in body["processingActivities"])
    _check_api_version_header(registry, spec, "ProcessingActivitiesResponse", response.headers["API-Version"])


def test_paged_response_matches_the_published_schema(client: TestClient, registry: Registry) -> None:
    response = client.post(URL, json={attr.DATA_SUBJECT_ID: SUBJECT}, params={"limit": 1})
    body = response.json()
    assert "nextCursor" in body  # an addition the published schema allows (no additionalProperties: false)
    validator(registry, "/components/schemas/ListProcessingActivities").validate(body)


@pytest.mark.parametrize(
    "search",
    [{}, {"traceId": "not-a-trace"}, {attr.DATA_SUBJECT_ID: SUBJECT, "startTime": "yesterday"}],
)
def test_problems_match_the_published_problem_schema(
    client: TestClient, registry: Registry, spec: dict[str, Any], search: dict[str, Any]
) -> None:
    response = client.post(URL, json=search)
    assert response.status_code == 400
    content = spec["components"]["responses"]["BadRequest"]["content"]
    assert response.headers["content-type"] in content
    validator(registry, "/components/schemas/Nlgovproblem").validate(response.json())
    _check_api_version_header(registry, spec, "BadRequest", response.headers["API-Version"])


def test_the_schema_check_catches_a_broken_response(client: TestClient, registry: Registry) -> None:
    good = client.post(URL, json={attr.DATA_SUBJECT_ID: SUBJECT}).json()
    check = validator(registry, "/components/schemas/ListProcessingActivities")
    breakages = [
        ("traceId", good["processingActivities"][0]["traceId"].replace("-", "")),  # hex, not uuid notation
        ("spanId", "xyz"),
        ("status", "OK"),
        ("startTime", "1764068470669"),
    ]
    for key, value in breakages:
        broken = copy.deepcopy(good)
        broken["processingActivities"][0][key] = value
        with pytest.raises(ValidationError):
            check.validate(broken)
    broken = copy.deepcopy(good)
    broken["processingActivities"][0]["attributes"][attr.PROCESSING_ACTIVITY_ID] = "not a uri"
    with pytest.raises(ValidationError):
        check.validate(broken)


def _check_api_version_header(registry: Registry, spec: dict[str, Any], response_name: str, value: str) -> None:
    """The header the published response declares (via the ADR components) holds our semver."""
    ref = spec["components"]["responses"][response_name]["headers"]["API-Version"]["$ref"]
    header = registry.resolver().lookup(ref).contents
    Draft202012Validator(header["schema"]).validate(value)
    assert SEMVER.match(value)
