"""ldv_logboek: the pure core of the LDV suite (record model, attribute names, the rules, pseudonyms, OTLP reading).

Public here, for the SDK and the collector: reading OTLP (`records_of`, `span_to_record`,
`attributes_to_dict`, `attribute_text`), `protect` under a `Policy`, the rules of the standard
(`check_record`; the table itself is `ldv_logboek.rules`), and the one HMAC (`Pseudonymiser`).
The storage layer lives in `ldv_logboek.storage` and needs the `store` extra (clickhouse-connect,
chDB, pyarrow); everything here is pure Python so the SDK can use it.
"""

from ldv_logboek._ids import parse_trace_id, trace_id_as_uuid
from ldv_logboek._keys import MIN_KEY_BYTES, key_is_long_enough
from ldv_logboek._otlp import attribute_text, attributes_to_dict, records_of, span_to_record
from ldv_logboek._protect import DEFAULT_NAME, Policy, may_need_protection, protect
from ldv_logboek._pseudonym import (
    BSN_AS_DIGITS,
    Pseudonymiser,
    contains_bsn,
    is_bsn,
    pseudonymise,
    redact_bsns,
    subject_clear_bsn,
)
from ldv_logboek._record import Event, Link, LogRecord, Status
from ldv_logboek.errors import LdvError
from ldv_logboek.rules import Violation, check_record, is_uri

__all__ = [
    "BSN_AS_DIGITS",
    "DEFAULT_NAME",
    "MIN_KEY_BYTES",
    "Event",
    "LdvError",
    "Link",
    "LogRecord",
    "Policy",
    "Pseudonymiser",
    "Status",
    "Violation",
    "attribute_text",
    "attributes_to_dict",
    "check_record",
    "contains_bsn",
    "is_bsn",
    "is_uri",
    "key_is_long_enough",
    "may_need_protection",
    "protect",
    "pseudonymise",
    "records_of",
    "redact_bsns",
    "span_to_record",
    "subject_clear_bsn",
    "parse_trace_id",
    "trace_id_as_uuid",
]
