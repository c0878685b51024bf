"""From a decoded OTLP request to the records to store and the spans to reject.

Per span: skip it when it carries no `dpl.` attribute (not an LDV record); reject it when it
holds a clear BSN outside the subject id; pseudonymise a clear-BSN subject id with the
organisation's key; check it against the standard (`ldv_logboek.validation.check_record`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from ldv_collector.senders import Sender, bind_organisation
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
from ldv_logboek.storage.store import MAX_STORED_TIME_NS

_DPL = attr.DPL_PREFIX
_NAME_WITHHELD = "<name withheld: it contains a BSN>"
_BEYOND_STORE = "a start, end or event time lies after 2262-04-11T23:47:16Z, the latest time the Logboek can store"


@dataclass(frozen=True, slots=True)
class Rejection:
    """One span that is not stored, and why (messages name attributes, never BSN values)."""

    trace_id: bytes
    span_id: bytes
    name: str
    violations: tuple[Violation, ...]
    # Whose span it was, for the per-rule counts (ldv_collector.rejections): the authenticated
    # sender's organisation when there is one, else the resource's; and the resource's service.
    organisation: str = ""
    service: str = ""

    def describe(self) -> str:
        rules = "; ".join(str(v) for v in self.violations)
        return f"span {self.trace_id.hex()}/{self.span_id.hex()} ({self.name!r}): {rules}"


@dataclass(slots=True)
class IngestResult:
    """What one request yields: records to store, rejected spans, and counts."""

    records: list[LogRecord] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    received: int = 0
    ignored: int = 0
    pseudonymised: int = 0

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
        """Convert, guard and check every span of `request`, bound to `sender`'s organisation if given."""
        result = IngestResult()
        records = result.records
        rejections = result.rejections
        for resource_spans in request.resource_spans:
            resource_attributes = attributes_to_dict(resource_spans.resource.attributes)
            # Before the key lookup: a resource without an organisation gets the sender's.
            foreign = bind_organisation(resource_attributes, sender) if sender is not None else None
            policy = self._policy(resource_attributes.get(attr.ORGANISATION, ""))
            owner = sender.organisation if sender is not None else resource_attributes.get(attr.ORGANISATION, "")
            service = resource_attributes.get(attr.SERVICE_NAME, "")
            for scope_spans in resource_spans.scope_spans:
                scope = scope_spans.scope
                scope_name, scope_version = scope.name, scope.version
                for span in scope_spans.spans:
                    result.received += 1
                    attributes = attributes_to_dict(span.attributes)
                    for name in attributes:
                        if name.startswith(_DPL):
                            break
                    else:
                        result.ignored += 1
                        continue
                    if foreign is not None:
                        name = _NAME_WITHHELD if contains_bsn(span.name) else span.name
                        rejections.append(Rejection(span.trace_id, span.span_id, name, (foreign,), owner, service))
                        continue

                    status = status_of(span.status.code)
                    record = span_to_record(
                        span, attributes, resource_attributes, scope_name, scope_version, status or Status.UNSET
                    )
                    problems: list[Violation] = []
                    if status is None:
                        problems.append(
                            Violation(
                                "status", f"status code must be 0 (Unset), 1 (Ok) or 2 (Error), got {span.status.code}"
                            )
                        )
                    if (
                        span.end_time_unix_nano > MAX_STORED_TIME_NS
                        or span.start_time_unix_nano > MAX_STORED_TIME_NS
                        or (record.events and any(e.time_ns > MAX_STORED_TIME_NS for e in record.events))
                    ):
                        # Past the store's range the insert would fail, and with it the request.
                        problems.append(Violation("time-range", _BEYOND_STORE))
                    protection = protect(record, policy)
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
                        rejections.append(Rejection(record.trace_id, record.span_id, name, tuple(problems), owner, service))
                    else:
                        records.append(record)
        return result
