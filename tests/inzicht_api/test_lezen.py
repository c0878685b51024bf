"""The read API against a real store on chDB: selection, time windows, dedup, paging, errors.

Every call here is a supervisor's (who may read every record); the role rules are in
test_lezen_roles.py.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, Request

from ldv_inzicht._app import create_app, include_api
from ldv_inzicht._lezen import LEZEN_API, create_lezen_router
from ldv_inzicht._problems import ProblemError, problem_responses
from ldv_inzicht._versioning import ApiInfo
from ldv_inzicht.settings import ApiSettings
from ldv_logboek import Status
from ldv_logboek import attributes as attr
from ldv_logboek._ids import trace_id_as_uuid
from ldv_logboek._pseudonym import pseudonymise
from ldv_logboek.storage import LogStore, connect
from tests.conftest import make_record
from tests.inzicht_api.inzage_support import Signer, auth_settings, supervisor, write_jwks

with warnings.catch_warnings():
    # Starlette warns about its httpx dependency on import; nothing this suite can act on.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

URL = "/lezenapi/v1/processing-activities"
VERSION = "1.1.0"
PROBLEM = "application/problem+json"

T0_MS = 1_764_068_470_000
SUBJECT_A = "hmac-sha256:" + "a1" * 32
SUBJECT_B = "hmac-sha256:" + "b2" * 32
SUBJECT_PAGED = "hmac-sha256:" + "c3" * 32
ACTIVITY_X = "https://register.example/processing-activities/huurtoeslag"
ACTIVITY_Y = "https://register.example/processing-activities/zorgtoeslag"
ACTIVITY_PAGED = "https://register.example/processing-activities/paging"
TRACE_1 = bytes.fromhex("ef4e77b9b03b585fb6135fcf8d8555fb")
CLEAR_BSN = "123456782"
PSEUDONYM_KEY = "test-key-gemeente"


def ns(ms: int) -> int:
    return ms * 1_000_000


class Records:
    """The records every test here reads."""

    root = make_record(subject=SUBJECT_A, activity=ACTIVITY_X, trace_id=TRACE_1, start_ns=ns(T0_MS) + 123_456)
    child = make_record(
        subject=SUBJECT_A, activity=ACTIVITY_X, trace_id=TRACE_1, start_ns=ns(T0_MS + 1000),
        name="inkomen opvragen", exception__message="timeout", exception__type="TimeoutError",
    )
    other_trace = make_record(subject=SUBJECT_A, activity=ACTIVITY_Y, start_ns=ns(T0_MS + 2000))
    subject_b = make_record(subject=SUBJECT_B, activity=ACTIVITY_X, start_ns=ns(T0_MS + 3000))
    # Seven records to page through; two share a start time (the cursor must break the tie).
    paged = [
        make_record(subject=SUBJECT_PAGED, activity=ACTIVITY_PAGED, start_ns=ns(T0_MS + 10_000 + 1000 * min(i, 5)))
        for i in range(7)
    ]
    pseudonymised = make_record(
        subject=pseudonymise(CLEAR_BSN, PSEUDONYM_KEY.encode()), activity=ACTIVITY_Y, start_ns=ns(T0_MS + 4000)
    )


Records.child.parent_span_id = Records.root.span_id
Records.child.status = Status.ERROR
Records.root.status = Status.OK


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LogStore]:
    # chDB serves one data directory per process: one store for this module, closed after it.
    store = LogStore(connect(f"chdb://{tmp_path_factory.mktemp('lezen')}"))
    store.migrate()
    store.insert([Records.root, Records.child, Records.other_trace, Records.subject_b, Records.pseudonymised])
    store.insert([Records.root])  # delivered twice, in another part: deduplicated on read
    store.insert(Records.paged)
    store.insert([Records.paged[3], Records.paged[5]])
    yield store
    store.close()


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer.generate("issuer-1")


@pytest.fixture(scope="module")
def jwks(tmp_path_factory: pytest.TempPathFactory, signer: Signer) -> Path:
    return write_jwks(tmp_path_factory.mktemp("keys") / "jwks.json", signer)


@pytest.fixture(scope="module")
def app_for(store: LogStore, jwks: Path):  # noqa: ANN201 - a factory
    """`app_for(settings)`: the real app on the module's store, trusting the test issuer."""

    def build(settings: ApiSettings) -> FastAPI:
        return create_app(store, settings, auth_settings=auth_settings(jwks))

    return build


@pytest.fixture(scope="module")
def client(app_for, signer: Signer) -> TestClient:
    # A supervisor's token on every request of this client.
    return TestClient(app_for(ApiSettings(default_page_size=100, max_page_size=1000)), headers=supervisor(signer))


def post(client: TestClient, body: Any, **params: Any) -> Any:
    response = client.post(URL, json=body, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["API-Version"] == VERSION
    return response.json()


def span_ids(body: dict[str, Any]) -> list[str]:
    return [item["spanId"] for item in body["processingActivities"]]


def test_select_by_trace_id_returns_the_trace_in_time_order(client: TestClient) -> None:
    body = post(client, {"traceId": TRACE_1.hex()})
    assert span_ids(body) == [Records.root.span_id.hex(), Records.child.span_id.hex()]
    assert "nextCursor" not in body
    root, child = body["processingActivities"]
    assert root == {
        "traceId": "ef4e77b9-b03b-585f-b613-5fcf8d8555fb",
        "spanId": Records.root.span_id.hex(),
        "status": "Ok",
        "name": "huurtoeslag berekenen",
        "startTime": T0_MS,
        "endTime": T0_MS + 2,
        "resource": {"attributes": {attr.SERVICE_NAME: "toeslagen-api", attr.ORGANISATION: "dienst-toeslagen"}},
        "attributes": {
            attr.PROCESSING_ACTIVITY_ID: ACTIVITY_X,
            attr.DATA_SUBJECT_ID: SUBJECT_A,
            attr.DATA_SUBJECT_ID_TYPE: "BSN",
        },
    }
    assert "parentSpanId" not in root
    assert child["parentSpanId"] == Records.root.span_id.hex()
    assert child["status"] == "Error"
    assert child["attributes"]["exception.message"] == "timeout"
    assert child["attributes"]["exception.type"] == "TimeoutError"


@pytest.mark.parametrize(
    "notation",
    [
        trace_id_as_uuid(TRACE_1.hex()),
        trace_id_as_uuid(TRACE_1.hex()).upper(),
        TRACE_1.hex().upper(),
    ],
)
def test_trace_id_in_uuid_or_hex_notation(client: TestClient, notation: str) -> None:
    assert span_ids(post(client, {"traceId": notation})) == [Records.root.span_id.hex(), Records.child.span_id.hex()]


def test_select_by_processing_activity(client: TestClient) -> None:
    body = post(client, {attr.PROCESSING_ACTIVITY_ID: ACTIVITY_X})
    expected = [Records.root, Records.child, Records.subject_b]
    assert span_ids(body) == [r.span_id.hex() for r in expected]


def test_select_by_subject_shows_a_record_delivered_twice_once(client: TestClient) -> None:
    body = post(client, {attr.DATA_SUBJECT_ID: SUBJECT_A})
    expected = [Records.root, Records.child, Records.other_trace]
    assert span_ids(body) == [r.span_id.hex() for r in expected]
    assert {item["traceId"] for item in body["processingActivities"]} == {
        trace_id_as_uuid(TRACE_1.hex()),
        trace_id_as_uuid(Records.other_trace.trace_id.hex()),
    }


def test_selectors_combine_with_and(client: TestClient) -> None:
    body = post(client, {attr.DATA_SUBJECT_ID: SUBJECT_A, attr.PROCESSING_ACTIVITY_ID: ACTIVITY_Y})
    assert span_ids(body) == [Records.other_trace.span_id.hex()]
    assert post(client, {attr.DATA_SUBJECT_ID: SUBJECT_B, "traceId": TRACE_1.hex()}) == {"processingActivities": []}


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        ({"startTime": T0_MS + 1000}, ["child", "other_trace"]),
        ({"endTime": T0_MS + 1000}, ["root", "child"]),
        ({"startTime": T0_MS + 1000, "endTime": T0_MS + 1000}, ["child"]),
        ({"startTime": T0_MS, "endTime": T0_MS + 2000}, ["root", "child", "other_trace"]),
        ({"startTime": T0_MS + 2001}, []),
        ({"endTime": T0_MS - 1}, []),
    ],
)
def test_time_window_narrows_by_start_time(client: TestClient, window: dict[str, int], expected: list[str]) -> None:
    body = post(client, {attr.DATA_SUBJECT_ID: SUBJECT_A, **window})
    assert span_ids(body) == [getattr(Records, name).span_id.hex() for name in expected]


def test_paging_walks_every_record_exactly_once(client: TestClient) -> None:
    search = {attr.DATA_SUBJECT_ID: SUBJECT_PAGED}
    seen: list[str] = []
    url: str | None = f"{URL}?limit=2"
    pages = 0
    while url is not None and pages < 10:
        response = client.post(url, json=search)
        assert response.status_code == 200, response.text
        body = response.json()
        pages += 1
        assert len(body["processingActivities"]) <= 2
        seen += span_ids(body)
        link = response.headers.get("Link")
        if "nextCursor" in body:
            assert link is not None
            assert link.endswith('>; rel="next"')
            url = link[1 : link.index(">")]
            assert url.startswith("http://testserver/lezenapi/v1/processing-activities?")
            assert "limit=2" in url and f"cursor={body['nextCursor']}" in url
        else:
            assert link is None
            url = None
    assert pages == 4
    assert len(seen) == len(set(seen)) == 7
    paged_sorted = sorted(Records.paged, key=lambda r: (r.start_time_ns, r.trace_id.hex(), r.span_id.hex()))
    assert seen == [r.span_id.hex() for r in paged_sorted]


def test_default_page_size_and_public_base_url_from_settings(app_for, signer: Signer) -> None:
    settings = ApiSettings(default_page_size=3, max_page_size=5, public_base_url="https://logboek.example.nl/ldv/")
    client = TestClient(app_for(settings), headers=supervisor(signer))
    response = client.post(URL, json={attr.DATA_SUBJECT_ID: SUBJECT_PAGED})
    assert len(response.json()["processingActivities"]) == 3
    assert response.headers["Link"].startswith("<https://logboek.example.nl/ldv/lezenapi/v1/processing-activities?cursor=")
    too_many = client.post(URL, json={attr.DATA_SUBJECT_ID: SUBJECT_PAGED}, params={"limit": 6})
    assert too_many.status_code == 400
    assert [p["name"] for p in too_many.json()["invalidParams"]] == ["limit"]
    servers = client.get("/lezenapi/v1/openapi.json").json()["servers"]
    assert servers == [{"url": "https://logboek.example.nl/ldv/lezenapi/v1"}]


def test_clear_subject_id_is_pseudonymised_with_the_configured_keys(app_for, signer: Signer, client: TestClient) -> None:
    keys = {"gemeente": PSEUDONYM_KEY, "andere-gemeente": "another-test-key"}
    keyed = TestClient(app_for(ApiSettings(organisation_keys=keys)), headers=supervisor(signer))
    expected = [Records.pseudonymised.span_id.hex()]
    # The clear id is searched under every served organisation's key: one of them matches.
    assert span_ids(post(keyed, {attr.DATA_SUBJECT_ID: CLEAR_BSN})) == expected
    # A pseudonym is searched as it is, with or without keys.
    assert span_ids(post(keyed, {attr.DATA_SUBJECT_ID: Records.pseudonymised.data_subject_id})) == expected
    assert span_ids(post(client, {attr.DATA_SUBJECT_ID: Records.pseudonymised.data_subject_id})) == expected
    # Without keys the clear id is searched as it is, and no record holds a clear BSN.
    assert post(client, {attr.DATA_SUBJECT_ID: CLEAR_BSN}) == {"processingActivities": []}


BAD_REQUESTS: list[tuple[str, dict[str, Any], set[str]]] = [
    ("empty object", {"json": {}}, {"traceId", attr.PROCESSING_ACTIVITY_ID, attr.DATA_SUBJECT_ID}),
    ("time window only", {"json": {"startTime": T0_MS, "endTime": T0_MS + 1}},
     {"traceId", attr.PROCESSING_ACTIVITY_ID, attr.DATA_SUBJECT_ID}),
    ("null selectors", {"json": {"traceId": None, attr.DATA_SUBJECT_ID: None}},
     {"traceId", attr.DATA_SUBJECT_ID}),
    ("no body", {}, {"body"}),
    ("malformed JSON", {"content": b'{"traceId": ', "headers": {"content-type": "application/json"}}, {"body"}),
    ("not UTF-8", {"content": b"\xff\xfe{}", "headers": {"content-type": "application/json"}}, set()),
    ("JSON array", {"json": [{"traceId": TRACE_1.hex()}]}, {"body"}),
    ("JSON string", {"json": "traceId"}, {"body"}),
    ("not JSON content type", {"content": b'{"traceId": "%s"}' % TRACE_1.hex().encode(),
                               "headers": {"content-type": "text/plain"}}, {"body"}),
    ("trace id a number", {"json": {"traceId": 12345}}, {"traceId"}),
    ("trace id not hex", {"json": {"traceId": "z" * 32}}, {"traceId"}),
    ("trace id too short", {"json": {"traceId": "0" * 31}}, {"traceId"}),
    ("activity not a URI", {"json": {attr.PROCESSING_ACTIVITY_ID: "huurtoeslag"}}, {attr.PROCESSING_ACTIVITY_ID}),
    ("activity empty", {"json": {attr.PROCESSING_ACTIVITY_ID: ""}}, {attr.PROCESSING_ACTIVITY_ID}),
    ("subject a number", {"json": {attr.DATA_SUBJECT_ID: 123456782}}, {attr.DATA_SUBJECT_ID}),
    ("subject empty", {"json": {attr.DATA_SUBJECT_ID: ""}}, {attr.DATA_SUBJECT_ID}),
    ("startTime a string", {"json": {attr.DATA_SUBJECT_ID: SUBJECT_A, "startTime": str(T0_MS)}}, {"startTime"}),
    ("startTime a float", {"json": {attr.DATA_SUBJECT_ID: SUBJECT_A, "startTime": 1.5}}, {"startTime"}),
    ("startTime a boolean", {"json": {attr.DATA_SUBJECT_ID: SUBJECT_A, "startTime": True}}, {"startTime"}),
    ("startTime negative", {"json": {attr.DATA_SUBJECT_ID: SUBJECT_A, "startTime": -1}}, {"startTime"}),
    ("endTime past int64 ns", {"json": {attr.DATA_SUBJECT_ID: SUBJECT_A, "endTime": 2**63}}, {"endTime"}),
    ("startTime after endTime", {"json": {attr.DATA_SUBJECT_ID: SUBJECT_A, "startTime": 2, "endTime": 1}},
     {"startTime", "endTime"}),
    ("unknown field", {"json": {attr.DATA_SUBJECT_ID: SUBJECT_A, "subject": "x"}}, {"subject"}),
    ("python name instead of wire name", {"json": {"trace_id": TRACE_1.hex()}}, {"trace_id"}),
    ("subject type is not a search field", {"json": {attr.DATA_SUBJECT_ID: SUBJECT_A, attr.DATA_SUBJECT_ID_TYPE: "BSN"}},
     {attr.DATA_SUBJECT_ID_TYPE}),
    ("limit zero", {"json": {"traceId": TRACE_1.hex()}, "params": {"limit": 0}}, {"limit"}),
    ("limit above max", {"json": {"traceId": TRACE_1.hex()}, "params": {"limit": 1001}}, {"limit"}),
    ("limit not a number", {"json": {"traceId": TRACE_1.hex()}, "params": {"limit": "ten"}}, {"limit"}),
    ("cursor garbage", {"json": {"traceId": TRACE_1.hex()}, "params": {"cursor": "not-a-cursor"}}, {"cursor"}),
    ("cursor empty", {"json": {"traceId": TRACE_1.hex()}, "params": {"cursor": ""}}, {"cursor"}),
]


@pytest.mark.parametrize(("case", "request_kwargs", "names"), BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS])
def test_bad_request_is_problem_json(client: TestClient, case: str, request_kwargs: dict[str, Any], names: set[str]) -> None:
    response = client.post(URL, **request_kwargs)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["API-Version"] == VERSION
    problem = response.json()
    assert problem["type"] == "about:blank"
    assert problem["title"] == "Bad Request"
    assert problem["status"] == 400
    assert problem["detail"]
    assert problem["instance"].startswith("urn:uuid:")
    if names:
        assert {p["name"] for p in problem["invalidParams"]} == names
        assert all(p["reason"] for p in problem["invalidParams"])
    # The refused values are never echoed (they may be a citizen's id).
    assert "123456782" not in response.text


def test_problem_instances_are_unique(client: TestClient) -> None:
    first, second = (client.post(URL, json={}).json()["instance"] for _ in range(2))
    assert first != second


@pytest.mark.parametrize("path", ["/lezenapi/v1/nothing-here", "/lezenapi/v2/processing-activities"])
def test_unknown_path_is_problem_json_404(client: TestClient, path: str) -> None:
    response = client.post(path, json={"traceId": TRACE_1.hex()})
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["API-Version"]
    assert response.json()["status"] == 404


def test_wrong_method_is_problem_json_405(client: TestClient) -> None:
    response = client.get(URL)
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["API-Version"] == VERSION
    assert response.headers["Allow"] == "POST"
    assert response.json()["title"] == "Method Not Allowed"


def test_health(client: TestClient) -> None:
    response = client.get("/lezenapi/v1/health")
    assert (response.status_code, response.json(), response.headers["API-Version"]) == (200, {"status": "ok"}, VERSION)


def test_openapi_document_describes_the_real_api(client: TestClient) -> None:
    response = client.get("/lezenapi/v1/openapi.json")
    assert response.status_code == 200
    assert response.headers["API-Version"] == VERSION
    doc = response.json()
    assert doc["openapi"].startswith("3.")
    assert doc["info"]["version"] == VERSION
    assert doc["servers"] == [{"url": "/lezenapi/v1"}]
    operation = doc["paths"]["/processing-activities"]["post"]
    assert operation["operationId"] == "listProcessingActivitiesPost"
    assert {p["name"] for p in operation["parameters"]} == {"limit", "cursor"}
    assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/ProcessingActivityRequest")
    responses = operation["responses"]
    assert set(responses) == {"200", "400", "401", "403", "503"}  # no 422: bad input is a 400 problem
    assert "WWW-Authenticate" in responses["401"]["headers"]
    assert responses["403"]["content"][PROBLEM]["schema"]["$ref"].endswith("/Problem")
    assert operation["security"] == [{"bearerAuth": []}]
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    # Health is open (load balancers probe it without a token).
    assert "security" not in doc["paths"]["/health"]["get"]
    assert responses["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/ListProcessingActivities")
    assert responses["400"]["content"][PROBLEM]["schema"]["$ref"].endswith("/Problem")
    assert "Retry-After" in responses["503"]["headers"]
    assert all("API-Version" in r["headers"] for r in responses.values())
    schemas = doc["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    request_schema = schemas["ProcessingActivityRequest"]
    assert set(request_schema["properties"]) == {
        "traceId", attr.PROCESSING_ACTIVITY_ID, attr.DATA_SUBJECT_ID, "startTime", "endTime"
    }
    assert request_schema["additionalProperties"] is False
    assert set(schemas["ListProcessingActivities"]["properties"]) == {"processingActivities", "nextCursor"}
    assert set(schemas["Problem"]["properties"]) >= {"type", "title", "status", "detail", "instance", "invalidParams"}


def test_another_api_gets_its_own_version_document_and_problem_on_crash(app_for, signer: Signer) -> None:
    app = app_for(ApiSettings())
    router = APIRouter()

    @router.get("/boom")
    def boom() -> dict[str, str]:
        raise RuntimeError("bug")

    include_api(app, router, ApiInfo(prefix="/testapi/v2", title="Test API", version="2.3.4"))
    client = TestClient(app, raise_server_exceptions=False, headers=supervisor(signer))
    response = client.get("/testapi/v2/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["API-Version"] == "2.3.4"
    assert "bug" not in response.text
    doc = client.get("/testapi/v2/openapi.json")
    assert doc.headers["API-Version"] == "2.3.4"
    assert set(doc.json()["paths"]) == {"/boom"}
    assert client.post(URL, json={"traceId": TRACE_1.hex()}).headers["API-Version"] == VERSION
    with pytest.raises(ValueError, match="already registered"):
        include_api(app, APIRouter(), ApiInfo(prefix="/testapi/v2", title="Again", version="2.3.4"))


def test_router_dependencies_add_checks_to_every_route_and_are_documented(app_for, signer: Signer) -> None:
    def require_gateway(request: Request) -> None:
        if request.headers.get("X-Gateway") != "ok":
            raise ProblemError(403, "Only through the gateway.")

    app = app_for(ApiSettings())
    guarded = create_lezen_router(
        ApiSettings(), dependencies=[Depends(require_gateway)], responses=problem_responses(403)
    )
    include_api(app, guarded, ApiInfo(prefix="/guarded/v1", title="Guarded", version=LEZEN_API.version))
    client = TestClient(app)
    url = "/guarded/v1/processing-activities"
    body = {"traceId": TRACE_1.hex()}
    denied = client.post(url, json=body, headers=supervisor(signer))
    assert denied.status_code == 403
    assert denied.headers["content-type"] == PROBLEM
    assert client.get("/guarded/v1/health").status_code == 403  # extra checks guard every route
    # The extra check does not replace the token: without one it is still a 401.
    assert client.post(url, json=body, headers={"X-Gateway": "ok"}).status_code == 401
    allowed = client.post(url, json=body, headers={"X-Gateway": "ok", **supervisor(signer)})
    assert span_ids(allowed.json()) == [Records.root.span_id.hex(), Records.child.span_id.hex()]
    doc = client.get("/guarded/v1/openapi.json").json()
    assert PROBLEM in doc["paths"]["/processing-activities"]["post"]["responses"]["403"]["content"]


def test_problem_log_lines_never_hold_a_clear_bsn(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ldv_inzicht._problems")
    response = client.post(URL, json={attr.DATA_SUBJECT_ID: CLEAR_BSN, CLEAR_BSN: "x"})
    assert response.status_code == 400
    assert any("problem urn:uuid:" in r.getMessage() for r in caplog.records)
    assert all(CLEAR_BSN not in r.getMessage() for r in caplog.records)
