"""Write the small seed corpus of every target into fuzz/corpus/ (run once; the result is committed)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ldv_logboek import attributes as attr  # noqa: E402
from tests.collector.helpers import VALID_BSN, ldv_attributes, make_request, make_span, to_otlp_json  # noqa: E402

CORPUS = Path(__file__).resolve().parent / "corpus"


def write(target: str, name: str, data: bytes) -> None:
    (CORPUS / target).mkdir(parents=True, exist_ok=True)
    (CORPUS / target / name).write_bytes(data)


def main() -> None:
    spans = [
        make_span(),
        make_span(ldv_attributes(subject=VALID_BSN)),
        make_span({attr.PROCESSING_ACTIVITY_ID: "urn:x", attr.DATA_SUBJECT_ID: "x"}, status_code=2),
    ]
    request = make_request(spans)
    write("otlp_protobuf", "valid", request.SerializeToString())
    write("otlp_protobuf", "one", make_request(spans[:1]).SerializeToString())
    write("otlp_json", "valid", to_otlp_json(request))
    write("otlp_json", "one", to_otlp_json(make_request(spans[:1])))
    bodies = [{}, {attr.PROCESSING_ACTIVITY_ID: "https://register.example/processing-activities/huurtoeslag"},
              {"startTime": 0, "endTime": 10**13}, {"traceId": "0" * 32}, {attr.DATA_SUBJECT_ID: "123456782"}]
    for i, body in enumerate(bodies):
        write("read_api", f"body-{i}", bytes([0]) + json.dumps(body).encode())
    write("read_api", "cursor", bytes([1]) + b"eyJhIjoxfQ.abc")
    for i, sql in enumerate(["SELECT 1", "SELECT count() FROM otel_traces", "SHOW TABLES", "DESCRIBE otel_traces",
                             "SELECT * FROM file('/etc/passwd')", "SELECT Organisation, count() FROM otel_traces GROUP BY 1",
                             "INSERT INTO otel_traces VALUES (1)", "SELECT 1; SELECT 2"]):
        write("clickhouse_endpoint", f"sql-{i}", bytes([i % 4]) + sql.encode())
    write("register", "uwv", (Path(__file__).resolve().parents[1] / "demo" / "register" / "uwv.yaml").read_bytes())
    write("token", "raw", bytes([0]) + b"eyJhbGciOiJFUzI1NiIsImtpZCI6ImZ1enoifQ.eyJzdWIiOiJ4In0.c2ln")
    write("token", "claims", bytes([1]) + json.dumps({"sub": "x", "iss": "https://issuer.example", "aud": "x",
                                                      "iat": 1, "exp": 4102444800, "roles": ["citizen"], "bsn": "123456782"}).encode())


if __name__ == "__main__":
    main()
