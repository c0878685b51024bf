"""From a decoded OTLP request to the rows to store and the spans to reject: one path for every request.

1. Each span once: skip it when it carries no `dpl.` attribute (not an LDV record); refuse it
   when its resource names another organisation than the sender's (`bind_organisation`);
   else it becomes the core's `LogRecord` (`span_to_record`).
2. The privacy rules: `ldv_logboek.protect` under the collector's policy (pseudonymise a
   clear-BSN subject id with the organisation's key, refuse a clear BSN anywhere else), on the
   records it could change or refuse (`may_need_protection`: one BSN search over the request).
3. The standard's rules that apply at the collector (`ldv_logboek.rules.COLLECTOR_RULES`),
   over the whole request's columns at once (`ldv_logboek.rule_columns.broken_rules`); the
   messages of the records that break one come from the same table.
4. The records that pass become one Arrow table in the insert schema of `otel_traces`
   (`ldv_logboek.storage.rows_table`), in span order: what the group-commit writer takes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import compress
from typing import Any

import pyarrow as pa
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from ldv_collector._senders import Sender, bind_organisation
from ldv_collector.settings import CollectorSettings
from ldv_logboek import (
    LogRecord,
    Policy,
    Pseudonymiser,
    Status,
    Violation,
    attributes_to_dict,
    contains_bsn,
    may_need_protection,
    protect,
    span_to_record,
)
from ldv_logboek import attributes as attr
from ldv_logboek.rule_columns import broken_rules, field_columns, record_fields
from ldv_logboek.rules import COLLECTOR_RULES
from ldv_logboek.storage import records_of_rows, rows_table

_DPL = attr.DPL_PREFIX
_NAME_WITHHELD = "<name withheld: it contains a BSN>"
_STATUS = (Status.UNSET, Status.OK, Status.ERROR)


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

    def response(self, max_chars: int) -> ExportTraceServiceResponse:
        """The OTLP answer; with a partial_success (their count, `error_message`) when spans were rejected."""
        response = ExportTraceServiceResponse()
        if self.rejections:
            response.partial_success.rejected_spans = len(self.rejections)
            response.partial_success.error_message = self.error_message(max_chars)
        return response


@dataclass(frozen=True, slots=True)
class _Resource:
    """What the spans of one ResourceSpans share: its attributes (bound to the sender), and whose they are."""

    attributes: dict[str, str]
    foreign: Violation | None  # set when the resource names another organisation than the sender's
    policy: Policy
    owner: str
    service: str


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

    def ingest(self, request: ExportTraceServiceRequest, sender: Sender | None = None) -> IngestResult:
        """Read, protect and check every span of `request`, bound to `sender`'s organisation if given."""
        result = IngestResult()
        # The LDV records of the request, in span order, with what the rules and rejections need of each.
        records: list[LogRecord] = []
        codes: list[int] = []  # OTLP status codes as sent (a record reads an undefined one as Unset)
        positions: list[int] = []  # each record's place among all spans of the request
        resources: list[_Resource] = []
        refused: list[tuple[int, Rejection]] = []  # (position in the request, rejection): reported in span order
        position = 0
        for resource_spans in request.resource_spans:
            context = self._resource(resource_spans, sender)
            for scope_spans in resource_spans.scope_spans:
                scope_name, scope_version = scope_spans.scope.name, scope_spans.scope.version
                for span in scope_spans.spans:
                    position += 1
                    attributes = attributes_to_dict(span.attributes)
                    for key in attributes:
                        if key.startswith(_DPL):
                            break
                    else:
                        result.ignored += 1
                        continue
                    if context.foreign is not None:
                        name = _NAME_WITHHELD if contains_bsn(span.name) else span.name
                        rejection = Rejection(span.trace_id, span.span_id, name, (context.foreign,), context.owner, context.service)
                        refused.append((position, rejection))
                        continue
                    code = span.status.code
                    status = _STATUS[code] if 0 <= code <= 2 else Status.UNSET
                    records.append(span_to_record(span, attributes, context.attributes, scope_name, scope_version, status))
                    codes.append(code)
                    positions.append(position)
                    resources.append(context)
        result.received = position
        problems: dict[int, list[Violation]] = {}
        withheld = self._protect(records, resources, result, problems)
        if records:
            fields = record_fields(records, status_codes=codes)
            for rule, mask in broken_rules(field_columns(fields), COLLECTOR_RULES):
                for i in compress(range(len(records)), mask.to_pylist()):
                    # Beside a clear BSN, the other rules' messages (which may quote values) give only their codes.
                    violation = (
                        Violation(rule.code, "(details withheld)")
                        if i in withheld
                        else rule.violation({name: column[i] for name, column in fields.items()})
                    )
                    problems.setdefault(i, []).append(violation)
        for i in sorted(problems):
            record, context = records[i], resources[i]
            name = _NAME_WITHHELD if i in withheld and contains_bsn(record.name) else record.name
            rejection = Rejection(record.trace_id, record.span_id, name, tuple(problems[i]), context.owner, context.service)
            refused.append((positions[i], rejection))
        result.rejections = [rejection for _, rejection in sorted(refused, key=lambda pair: pair[0])]
        result.rows = rows_table([r for i, r in enumerate(records) if i not in problems] if problems else records)
        return result

    @staticmethod
    def _protect(
        records: list[LogRecord], resources: list[_Resource], result: IngestResult, problems: dict[int, list[Violation]]
    ) -> set[int]:
        """Run protect on the records that may need it (pseudonymise a clear-BSN subject, refuse a stray
        BSN; `may_need_protection`: the others pass it unchanged); the indices of those where a clear
        BSN was found."""
        withheld: set[int] = set()
        for i in may_need_protection(records):
            protection = protect(records[i], resources[i].policy)
            if protection.pseudonymised:
                result.pseudonymised += 1
            if protection.violations:
                problems.setdefault(i, []).extend(protection.violations)
            if protection.clear_bsn_at:
                withheld.add(i)
        return withheld

    def _resource(self, resource_spans: Any, sender: Sender | None) -> _Resource:
        resource_attributes = attributes_to_dict(resource_spans.resource.attributes)
        # Before the key lookup: a resource without an organisation gets the sender's.
        foreign = bind_organisation(resource_attributes, sender) if sender is not None else None
        organisation = resource_attributes.get(attr.ORGANISATION, "")
        return _Resource(
            attributes=resource_attributes,
            foreign=foreign,
            policy=self._policies.get(organisation, self._default_policy),
            owner=sender.organisation if sender is not None else organisation,
            service=resource_attributes.get(attr.SERVICE_NAME, ""),
        )
