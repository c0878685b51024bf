"""ldv_logboek: the shared core of the LDV suite (record model, attribute names, rules, the record pipeline).

The record pipeline is public here, for the SDK and the collector: the OTLP conversion
(`records_of`, `span_to_record`, `encode_resource_spans`, `request_bytes`, `request_from_json`),
`protect` under a `Policy`, `check_record`, the one HMAC (`Pseudonymiser`), and `process` with
its one fast path `OrdinaryRecords`. The storage layer lives in `ldv_logboek.storage` and needs
the `store` extra (clickhouse-connect and chDB); everything else here is pure Python so the SDK
can use it.
"""

from ldv_logboek._ids import parse_trace_id, trace_id_as_uuid
from ldv_logboek._keys import MIN_KEY_BYTES, key_is_long_enough
from ldv_logboek._otlp import (
    Shape,
    attribute_text,
    attributes_to_dict,
    encode_resource_spans,
    records_of,
    request_bytes,
    span_to_record,
    status_of,
)
from ldv_logboek._otlp_json import NotPlain, request_from_json
from ldv_logboek._pipeline import OrdinaryRecords, Processed, process
from ldv_logboek._protect import DEFAULT_NAME, Policy, Protection, protect
from ldv_logboek._pseudonym import (
    BSN_AS_DIGITS,
    Pseudonymiser,
    contains_bsn,
    is_bsn,
    is_pseudonym,
    pseudonymise,
    redact_bsns,
    subject_clear_bsn,
)
from ldv_logboek._record import Event, Link, LogRecord, Status
from ldv_logboek._validation import Violation, check_record, is_uri
from ldv_logboek.errors import LdvError

__all__ = [
    "BSN_AS_DIGITS",
    "DEFAULT_NAME",
    "MIN_KEY_BYTES",
    "Event",
    "LdvError",
    "Link",
    "LogRecord",
    "NotPlain",
    "OrdinaryRecords",
    "Policy",
    "Processed",
    "Protection",
    "Pseudonymiser",
    "Shape",
    "Status",
    "Violation",
    "attribute_text",
    "attributes_to_dict",
    "check_record",
    "contains_bsn",
    "encode_resource_spans",
    "is_bsn",
    "is_pseudonym",
    "is_uri",
    "key_is_long_enough",
    "process",
    "protect",
    "pseudonymise",
    "records_of",
    "redact_bsns",
    "request_bytes",
    "request_from_json",
    "span_to_record",
    "status_of",
    "subject_clear_bsn",
    "parse_trace_id",
    "trace_id_as_uuid",
]
