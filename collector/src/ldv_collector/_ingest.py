"""From a decoded OTLP request to the records to store and the spans to reject.

Per span: skip it when it carries no `dpl.` attribute (not an LDV record); reject it when it
holds a clear BSN outside the subject id; pseudonymise a clear-BSN subject id with the
organisation's key; check it against the standard (`ldv_logboek._validation.check_record`).
A request of COLUMNAR_MIN_SPANS spans or more is read into insert columns at once and the core's
columnar rules (`ldv_logboek._columnar`) pass the spans that need none of this as they came; the
others go the same way span by span. The result holds the rows to store as one Arrow table.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from ldv_collector._senders import Sender, bind_organisation
from ldv_collector.settings import CollectorSettings
from ldv_logboek import (
    LogRecord,
    Policy,
    Pseudonymiser,
    Status,
    Violation,
    attributes_to_dict,
    check_record,
    contains_bsn,
    protect,
    span_to_record,
    status_of,
)
from ldv_logboek import attributes as attr
from ldv_logboek.storage import MAX_STORED_TIME_NS, SpanColumns, records_of_rows, rows_table

_DPL = attr.DPL_PREFIX
# From this many spans in a request on, the columnar path (see `Ingester.ingest`).
COLUMNAR_MIN_SPANS = 32
_NAME_WITHHELD = "<name withheld: it contains a BSN>"
_BEYOND_STORE = "a start, end or event time lies after 2262-04-11T23:47:16Z, the latest time the Logboek can store"


@dataclass(frozen=True, slots=True)
class Rejection:
    """One span that is not stored, and why (messages name attributes, never BSN values)."""

    trace_id: bytes
    span_id: bytes
    name: str
    violations: tuple[Violation, ...]
    # Whose span it was, for the per-rule counts (ldv_collector._rejections): the authenticated
    # sender's organisation when there is one, else the resource's; and the resource's service.
    organisation: str = ""
    service: str = ""

    def describe(self) -> str:
        rules = "; ".join(str(v) for v in self.violations)
        return f"span {self.trace_id.hex()}/{self.span_id.hex()} ({self.name!r}): {rules}"


@dataclass(slots=True)
class IngestResult:
    """What one request yields: the rows to store (in span order), rejected spans, and counts."""

    rows: pa.Table | None = None
    rejections: list[Rejection] = field(default_factory=list)
    received: int = 0
    ignored: int = 0
    pseudonymised: int = 0

    @property
    def records(self) -> list[LogRecord]:
        """The records to store, as records (for tests and diagnostics; the collector stores `rows`)."""
        return records_of_rows(self.rows) if self.rows is not None else []

    def __len__(self) -> int:
        """How many records there are to store."""
        return self.rows.num_rows if self.rows is not None else 0

    def error_message(self, max_chars: int) -> str:
        """The OTLP partial_success message: one line per rejected span, capped at `max_chars`."""
        budget = max_chars - 64  # room for the line that says how many were left out
        lines: list[str] = []
        used = 0
        for i, rejection in enumerate(self.rejections):
            line = rejection.describe()
            if len(line) > budget:
                line = line[: budget - 3] + "..."
            if used + len(line) > budget:
                lines.append(f"... and {len(self.rejections) - i} more rejected spans not listed")
                break
            lines.append(line)
            used += len(line) + 1
        return "\n".join(lines)[:max_chars]


class Ingester:
    """Turns ExportTraceServiceRequests into an IngestResult under one collector's settings."""

    def __init__(self, settings: CollectorSettings):
        self.settings = settings
        # Resolved once: a lookup per resource, and no cache that senders could grow.
        store_clear = settings.store_clear_bsn
        self._policies = {
            org: Policy.at_collector(Pseudonymiser(key.get_secret_value().encode()), store_clear)
            for org, key in settings.organisation_keys.items()
        }
        default = settings.pseudonymisation_key
        self._default_policy = Policy.at_collector(
            Pseudonymiser(default.get_secret_value().encode()) if default is not None else None, store_clear
        )

    def _policy(self, organisation: str) -> Policy:
        return self._policies.get(organisation, self._default_policy)

    def ingest(self, request: ExportTraceServiceRequest, sender: Sender | None = None) -> IngestResult:
        """Convert, guard and check every span of `request`, bound to `sender`'s organisation if given.

        Requests of COLUMNAR_MIN_SPANS spans or more take the columnar path: the spans go into
        columns at once and the core's columnar rules (`ldv_logboek._columnar`) pick the ordinary
        ones, which are stored as they came; every other span takes the full path below, span by
        span. Smaller requests take the full path for every span (building columns costs more
        than it saves for a few spans). Both give the same result
        (tests/collector/test_columnar_ingest.py).
        """
        spans = sum(len(scope_spans.spans) for rs in request.resource_spans for scope_spans in rs.scope_spans)
        if spans < COLUMNAR_MIN_SPANS:
            return self.ingest_rows(request, sender)
        return self.ingest_columns(request, sender)

    def ingest_rows(self, request: ExportTraceServiceRequest, sender: Sender | None = None) -> IngestResult:
        """`ingest` on the full path for every span."""
        result = IngestResult()
        records: list[LogRecord] = []
        for resource_spans in request.resource_spans:
            context = self._resource(resource_spans, sender)
            for scope_spans in resource_spans.scope_spans:
                scope = scope_spans.scope
                for span in scope_spans.spans:
                    self._full_path(span, context, scope.name, scope.version, result, records)
        result.rows = rows_table(records)
        return result

    def ingest_columns(self, request: ExportTraceServiceRequest, sender: Sender | None = None) -> IngestResult:
        """`ingest` on the columnar path: ordinary spans by columns, the others on the full path."""
        columns = SpanColumns()
        scopes: list[tuple[int, _Resource, str, str]] = []  # (index of its first span, resource, scope name, version)
        for resource_spans in request.resource_spans:
            context = self._resource(resource_spans, sender)
            # Another organisation's resource: every span of it goes the full way (and is refused there).
            unusual = context.foreign is not None
            for scope_spans in resource_spans.scope_spans:
                scope = scope_spans.scope
                scopes.append((len(columns), context, scope.name, scope.version))
                columns.add_scope(scope_spans.spans, context.attributes, scope.name, scope.version, unusual=unusual)
        rows, ordinary, unusual_spans = columns.ordinary()
        result = IngestResult(received=rows.num_rows)
        if not unusual_spans:
            result.rows = rows
            return result
        records: list[LogRecord] = []
        stored_at: list[int] = []
        firsts = [first for first, *_ in scopes]
        for index in unusual_spans:
            _, context, scope_name, scope_version = scopes[bisect.bisect_right(firsts, index) - 1]
            if self._full_path(columns.spans[index], context, scope_name, scope_version, result, records):
                stored_at.append(index)
        if not records:
            result.rows = rows
            return result
        # Back in span order: the ordinary rows and the full path's records, by their span's index.
        merged = pa.concat_tables([rows, rows_table(records)])
        order = pc.sort_indices(pa.concat_arrays([ordinary, pa.array(stored_at, pa.int64())]))
        result.rows = merged.take(order)
        return result

    def _resource(self, resource_spans: Any, sender: Sender | None) -> _Resource:
        resource_attributes = attributes_to_dict(resource_spans.resource.attributes)
        # Before the key lookup: a resource without an organisation gets the sender's.
        foreign = bind_organisation(resource_attributes, sender) if sender is not None else None
        organisation = resource_attributes.get(attr.ORGANISATION, "")
        return _Resource(
            attributes=resource_attributes,
            foreign=foreign,
            policy=self._policy(organisation),
            owner=sender.organisation if sender is not None else organisation,
            service=resource_attributes.get(attr.SERVICE_NAME, ""),
        )

    def _full_path(
        self, span: Span, context: _Resource, scope_name: str, scope_version: str, result: IngestResult, records: list[LogRecord]
    ) -> bool:
        """One span on the full path: counted, then skipped, rejected (added to `result`) or
        added to `records`; True when it was added to `records`."""
        result.received += 1
        attributes = attributes_to_dict(span.attributes)
        for name in attributes:
            if name.startswith(_DPL):
                break
        else:
            result.ignored += 1
            return False
        owner, service = context.owner, context.service
        if context.foreign is not None:
            name = _NAME_WITHHELD if contains_bsn(span.name) else span.name
            result.rejections.append(Rejection(span.trace_id, span.span_id, name, (context.foreign,), owner, service))
            return False

        status = status_of(span.status.code)
        record = span_to_record(span, attributes, context.attributes, scope_name, scope_version, status or Status.UNSET)
        problems: list[Violation] = []
        if status is None:
            problems.append(
                Violation("status", f"status code must be 0 (Unset), 1 (Ok) or 2 (Error), got {span.status.code}")
            )
        if (
            span.end_time_unix_nano > MAX_STORED_TIME_NS
            or span.start_time_unix_nano > MAX_STORED_TIME_NS
            or (record.events and any(e.time_ns > MAX_STORED_TIME_NS for e in record.events))
        ):
            # Past the store's range the insert would fail, and with it the request.
            problems.append(Violation("time-range", _BEYOND_STORE))
        protection = protect(record, context.policy)
        if protection.pseudonymised:
            result.pseudonymised += 1
        problems += protection.violations
        if protection.clear_bsn_at:
            # The other rules' messages may quote values: give only their codes.
            problems += [Violation(v.rule, "(details withheld)") for v in check_record(record)]
        else:
            problems += check_record(record)
        if problems:
            name = _NAME_WITHHELD if protection.clear_bsn_at and contains_bsn(record.name) else record.name
            result.rejections.append(Rejection(record.trace_id, record.span_id, name, tuple(problems), owner, service))
            return False
        records.append(record)
        return True


@dataclass(frozen=True, slots=True)
class _Resource:
    """What the spans of one ResourceSpans share: its attributes (bound to the sender), and whose they are."""

    attributes: dict[str, str]
    foreign: Violation | None  # set when the resource names another organisation than the sender's
    policy: Policy
    owner: str
    service: str
