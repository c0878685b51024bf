"""Inzage: which processings of a citizen's data the Logboek and the chain behind it know of.

For a citizen (their BSN from the token) the service
1. pseudonymises the BSN with the key of every organisation this Logboek serves (the shared
   `ApiSettings.organisation_keys`, see `ldv_inzicht._subject_keys`) and reads all their
   records (every page, up to a cap) from the store;
2. asks the other Logboeken configured in `logboeken` for all the citizen's records, and
   follows the chain: where a record names another party's read API
   (`dpl.read.externalReadAPI_id`) and that party is in the register, asks that read API for the
   same trace (and period), in parallel, with a timeout. Never with the citizen's own token:
   per target Logboek this Logboek exchanges it at the issuer for a short-lived token whose
   only audience is that target (`ldv_inzicht.inzage._token_exchange`, RFC 8693); without a
   token endpoint configured no other Logboek is asked. The BSN is never sent: the other
   party derives the citizen from the token and reads only their records (the read API's
   citizen rule). A party that does not answer, or for which the issuer gives no token, is
   reported as unavailable, never as an error;
3. joins every record with the register version valid at the record's time; records of
   confidential activities are dropped (`Register.hidden_from_subject`: the register decides,
   per activity, with an end date), records of activities the register does not know are kept
   and flagged;
4. groups them per trace (a life event), per organisation, per processing;
5. gives each record of this store its receipt (its leaf in the store's transparency log,
   `ldv_inzicht._log_receipts`) and checks it against the log keys and witness keys configured
   (`InzageSettings.log_keys`, `.witnesses`) and against the stored record, so the page
   claims only what was checked (`LogCheck` per log; records in no log or not yet in a
   checkpoint are said to be unchecked). A record read from another Logboek is checked the same
   way with what that Logboek's proof route gives for it (`?opening=true`): its receipt, under
   that Logboek's log key (configured here like this store's) and the witnesses, and its opening
   (salt and stored values), which must give the receipt's entry and be the record shown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import httpx

from ldv_inzicht._log_receipts import CheckedReceipt, ReceiptMaker, RecordReceipt, check_receipt
from ldv_inzicht._subject_keys import SubjectKeys
from ldv_inzicht.inzage._token_exchange import TokenExchangeFailed, TokenExchanger
from ldv_inzicht.settings import InzageSettings
from ldv_logboek import Status, pseudonymise, trace_id_as_uuid
from ldv_logboek import attributes as attr
from ldv_logboek.register import ActivityVersion, Organisation, Register
from ldv_logboek.storage import MAX_PAGE_SIZE, MAX_TIME_MS, Cursor, LogStore, RecordQuery, StorageUnavailable
from ldv_logboek.tlog import Checkpoint, NoteError, ProofError, Receipt, RecordOpening, Verifier, parse_note

log = logging.getLogger(__name__)

UNAVAILABLE_NL = "niet beschikbaar op dit moment"
RECEIPT_REQUESTS_AT_ONCE = 8  # per other Logboek: its proof route is asked once per record


@dataclass(frozen=True)
class FoundRecord:
    """One record of the citizen, from this store or another party's read API."""

    trace_id: str  # 32 hex
    span_id: str  # 16 hex
    name: str
    start_ns: int
    status: Status
    activity_id: str
    organisation_ref: str  # the organisation code/id the record or its source names
    external_read_api: str = ""
    source: str = "local"  # "local" or the read API URL it came from
    foreign_span_id: str = ""  # dpl.core.foreign_operation.span_id: the calling party's action
    receipt: str | None = None  # read from another Logboek: the receipt its proof route gave
    opening: RecordOpening | None = None  # ... and the record's opening

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.start_ns / 1e9, tz=UTC)

    @property
    def ids(self) -> tuple[bytes, bytes]:
        """(trace id, span id) as bytes: the record's key in the store and its transparency log."""
        return bytes.fromhex(self.trace_id), bytes.fromhex(self.span_id)


@dataclass
class PartyOutcome:
    """Whether a source could be read: a served organisation or another party's read API."""

    organisation: Organisation | None
    ref: str
    available: bool
    truncated: bool = False
    source: str = "local"  # "local" (this Logboek) or the identifier of the Logboek it was read from


@dataclass
class InzageRecord:
    """A record of the citizen joined with its register version (or flagged as unknown to the register).

    One record is one processing ("verwerking": one action on the citizen's data); the inzage
    API lists them as `processings`, the page as "verwerkingen". Not to be confused with the
    register's `ProcessingActivity` (verwerkingsactiviteit), which `register` is a version of.
    """

    record: FoundRecord
    organisation: Organisation | None
    register: ActivityVersion | None  # the register version valid at the record's time
    unknown_activity: bool
    receipt: str | None = None  # C2SP tlog-proof receipt of a record of this store, when logged
    checked: CheckedReceipt | None = None  # what checking `receipt` found


@dataclass
class LogCheck:
    """The check of the records of one source: a log of this store (`origin`), records of this
    store in no log or not yet in a checkpoint (`origin` ""), or another Logboek (`source`)."""

    origin: str
    source: str = "local"
    organisations: list[str] = field(default_factory=list)  # names, in order of appearance
    verified: int = 0
    failed: int = 0
    unchecked: int = 0  # in no log, not yet in a signed checkpoint, or from another Logboek
    no_key: bool = False  # in a log whose verifier key is not configured: not checked
    witnesses: tuple[str, ...] = ()
    cosigned_at: datetime | None = None
    size: int = 0


@dataclass
class InzageResult:
    """Everything the citizen may see, plus which parties could not be read."""

    processings: list[InzageRecord] = field(default_factory=list)
    parties: list[PartyOutcome] = field(default_factory=list)
    truncated: bool = False
    checks: list[LogCheck] = field(default_factory=list)


@dataclass(frozen=True)
class Period:
    """Inclusive window on the records' start time, in ms since epoch (None: open)."""

    start_ms: int | None = None
    end_ms: int | None = None


class InzageService:
    """Builds a citizen's inzage from the store, the register and other parties' read APIs."""

    def __init__(
        self,
        store: LogStore,
        register_source: Callable[[], Register],
        settings: InzageSettings,
        keys: SubjectKeys,
        *,
        receipts: ReceiptMaker | None = None,
    ):
        self.store = store
        self._receipts = receipts or ReceiptMaker(store)
        self.register_source = register_source
        self.settings = settings
        self._keys = keys

    async def inzage(self, bsn: str, token: str, period: Period = Period(), organisation: str | None = None) -> InzageResult:
        """The citizen's processings in `period`, optionally of one organisation (code or id)."""
        register: Register = self.register_source()
        now = datetime.now(UTC)
        result = InzageResult()
        found: dict[tuple[str, str], FoundRecord] = {}
        keys = self._keys
        if organisation:
            org = register.organisation_by_ref(organisation)
            refs = {organisation} | ({org.id, org.code} if org else set())
            keys = keys.only(refs)
        for org_ref, key in keys.items():
            outcome = PartyOutcome(register.organisation_by_ref(org_ref), org_ref, available=True)
            try:
                records, outcome.truncated = await asyncio.to_thread(self._local_records, pseudonymise(bsn, key), period, org_ref)
            except StorageUnavailable as exc:
                # The driver's message may quote the query's values (a pseudonym): its type only.
                cause = exc.__cause__ or exc
                log.warning("inzage: store unavailable for %s: %s", org_ref, type(cause).__name__)
                outcome.available = False
                records = []
            result.truncated |= outcome.truncated
            result.parties.append(outcome)
            for record in records:
                found.setdefault((record.trace_id, record.span_id), record)
        if self.settings.follow_chain or self.settings.logboeken:
            remote, remote_parties = await self._federate(list(found.values()), register, bsn, token, period)
            for record in remote:
                found.setdefault((record.trace_id, record.span_id), record)
            result.parties.extend(remote_parties)
        for record in sorted(found.values(), key=lambda r: (r.start_ns, r.trace_id, r.span_id)):
            if register.hidden_from_subject(record.activity_id, record.time, now):
                continue  # confidential: not shown, not counted, not hinted at
            activity = register.activity(record.activity_id)
            version = activity.version_at(record.time) if activity else None
            org = register.organisation_by_ref(record.organisation_ref)
            if version is not None:
                org = register.organisation(version.controller) or org
            if organisation and org is not None and organisation not in (org.id, org.code):
                continue
            result.processings.append(InzageRecord(record, org, version, unknown_activity=version is None))
        result.checks = await asyncio.to_thread(self._check_receipts, result.processings)
        return result

    def _check_receipts(self, processings: list[InzageRecord]) -> list[LogCheck]:
        """Attach each local record's receipt and its check; one `LogCheck` per source."""
        local = [p for p in processings if p.record.source == "local"]
        try:
            found = self._receipts.for_records((p.record.ids for p in local), with_stored=True)
        except StorageUnavailable:
            log.warning("inzage: the transparency log could not be read; the overview is not checked")
            found = {}
        logs = {Verifier.parse(k).name for k in self.settings.log_keys}  # the origins there are keys for
        checks: dict[tuple[str, str], LogCheck] = {}
        for p in processings:
            name = p.organisation.name if p.organisation is not None else p.record.organisation_ref
            there = found.get(p.record.ids) if p.record.source == "local" else _remote_receipt(p.record)
            origin = there.origin if there is not None and there.receipt is not None else ""
            check = checks.setdefault((p.record.source, origin), LogCheck(origin, p.record.source))
            if name not in check.organisations:
                check.organisations.append(name)
            if there is None or there.receipt is None:
                check.unchecked += 1
                continue
            p.receipt = there.receipt
            if there.origin not in logs:
                check.unchecked += 1  # the page says it holds no key to check this log with
                check.no_key = True
                continue
            p.checked = check_receipt(
                there.receipt, self.settings.log_keys, self.settings.witnesses, there.stored_entry
            )
            if not p.checked.ok:
                check.failed += 1
                log.warning("inzage: a receipt of log %s (from %s) did not verify: %s", there.origin, p.record.source, p.checked.reason)
                continue
            check.verified += 1
            check.size = max(check.size, p.checked.size)
            check.witnesses = p.checked.witnesses or check.witnesses
            if p.checked.cosigned_at is not None and (check.cosigned_at is None or p.checked.cosigned_at > check.cosigned_at):
                check.cosigned_at = p.checked.cosigned_at
        return list(checks.values())

    def _local_records(self, pseudonym: str, period: Period, org_ref: str) -> tuple[list[FoundRecord], bool]:
        records: list[FoundRecord] = []
        cursor: Cursor | None = None
        cap = self.settings.max_records_per_organisation
        # Bounded: at most cap/page-size + 1 pages.
        for _ in range(cap // MAX_PAGE_SIZE + 2):
            page = self.store.find(
                RecordQuery(
                    data_subject_id=pseudonym,
                    start_time_ms=period.start_ms,
                    end_time_ms=period.end_ms,
                    limit=min(MAX_PAGE_SIZE, cap - len(records)) or 1,
                    after=cursor,
                )
            )
            for r in page.records:
                records.append(
                    FoundRecord(
                        trace_id=r.trace_id.hex(),
                        span_id=r.span_id.hex(),
                        name=r.name,
                        start_ns=r.start_time_ns,
                        status=r.status,
                        activity_id=r.processing_activity_id,
                        organisation_ref=r.resource_attributes.get(attr.ORGANISATION) or org_ref,
                        external_read_api=r.attributes.get(attr.EXTERNAL_READ_API_ID, ""),
                        foreign_span_id=r.attributes.get(attr.FOREIGN_OPERATION_SPAN_ID, "").lower(),
                    )
                )
            if page.next_cursor is None:
                return records, False
            if len(records) >= cap:
                return records, True
            cursor = Cursor.decode(page.next_cursor)
        return records, True

    async def _federate(
        self, records: list[FoundRecord], register: Register, bsn: str, subject_token: str, period: Period
    ) -> tuple[list[FoundRecord], list[PartyOutcome]]:
        """Ask the configured Logboeken for everything, and the read APIs named in records for their
        trace, hop by hop, in parallel per hop; each with a token exchanged for that Logboek only.

        A Logboek is known by its identifier: its read API URL as the register lists it (or as
        configured in `logboeken`), which is also the audience of the tokens it accepts.
        """
        settings = self.settings
        served = set(self._keys.organisations) | {
            o.id for ref in self._keys.organisations if (o := register.organisation_by_ref(ref)) is not None
        }
        # Configured Logboeken are asked for all the citizen's records: no trace needs asking there.
        everything = {lb.rstrip("/") for lb in settings.logboeken}
        asked: set[tuple[str, str | None]] = set()
        outcomes: dict[str, PartyOutcome] = {}
        gathered: list[FoundRecord] = []
        calls_left = settings.federation_max_calls
        wanted: list[tuple[Organisation | None, str, str | None]] = []

        def report(party: Organisation | None, identifier: str, answered: bool) -> None:
            # One outcome per Logboek: unavailable as soon as one of its calls got no answer.
            outcome = PartyOutcome(party, party.id if party else identifier, available=True, source=identifier)
            outcomes.setdefault(identifier, outcome).available &= answered

        def want(party: Organisation | None, identifier: str, trace_id: str | None) -> None:
            nonlocal calls_left
            if (identifier, trace_id) in asked or calls_left <= 0:
                return
            asked.add((identifier, trace_id))
            calls_left -= 1
            wanted.append((party, identifier, trace_id))

        def follow(found: list[FoundRecord]) -> None:
            if not settings.follow_chain:
                return
            for record in found:
                if not record.external_read_api:
                    continue
                party = register.organisation_for_read_api(record.external_read_api)
                # Only parties in the register are asked; records of the organisations this
                # Logboek serves are already in the store.
                if party is None or party.id in served or party.code in served:
                    continue
                identifier = (party.read_api_url or record.external_read_api).rstrip("/")
                if identifier not in everything:
                    want(party, identifier, record.trace_id)

        for identifier in sorted(everything):
            want(register.organisation_for_read_api(identifier), identifier, None)
        follow(records)
        if not wanted:
            return [], []
        if not settings.token_endpoint or settings.client_secret is None:
            # Without the issuer's token exchange there is no token another Logboek may accept:
            # the citizen's own token is never forwarded. The parties are reported as unavailable.
            log.warning("inzage: no token endpoint (LDV_INZAGE_TOKEN_ENDPOINT): other Logboeken are not asked")
            for party, identifier, _trace in wanted:
                report(party, identifier, answered=False)
            return [], list(outcomes.values())
        exchanger = TokenExchanger(
            settings.token_endpoint,
            settings.client_id,
            settings.client_secret,
            subject_token,
            timeout=settings.federation_timeout_seconds,
        )
        client = httpx.AsyncClient(timeout=settings.federation_timeout_seconds, follow_redirects=False)
        async with client, exchanger:
            for _hop in range(max(settings.federation_max_depth, 1)):
                if not wanted:
                    break
                current, wanted = wanted, []
                answers = await asyncio.gather(
                    *(
                        self._ask(client, exchanger, party, identifier, trace or bsn, period, whole=trace is None)
                        for party, identifier, trace in current
                    )
                )
                for (party, identifier, _trace), answer in zip(current, answers):
                    report(party, identifier, answered=answer is not None)
                frontier = [record for answer in answers if answer is not None for record in answer]
                gathered.extend(frontier)
                follow(frontier)
        return gathered, list(outcomes.values())

    async def _ask(
        self,
        client: httpx.AsyncClient,
        exchanger: TokenExchanger,
        party: Organisation | None,
        identifier: str,
        selector: str,
        period: Period,
        *,
        whole: bool,
    ) -> list[FoundRecord] | None:
        """The citizen's records at one Logboek's read API; None when it cannot be read.

        `selector` is a trace id, or (`whole`) the citizen's BSN: the read API's search needs a
        subject, a trace or an activity, and asking for all of a citizen's records is a search
        by the citizen (who is already in the token the target receives, so it learns nothing
        more). For a trace only the trace id and the period are sent: the party's read API takes
        the citizen from the token and answers with their records only, so the BSN does not
        travel in that request's body (where proxies and access logs might keep it). The token is
        one the issuer made for this party alone.
        """
        try:
            token = await exchanger.token_for(identifier)
        except TokenExchangeFailed as exc:
            log.info("inzage: %s", exc)
            return None
        body: dict[str, Any] = {attr.DATA_SUBJECT_ID: selector} if whole else {"traceId": trace_id_as_uuid(selector)}
        # Read APIs refuse times past what a record can hold (year 2262): send at most that.
        if period.start_ms is not None:
            body["startTime"] = min(period.start_ms, MAX_TIME_MS)
        if period.end_ms is not None:
            body["endTime"] = min(period.end_ms, MAX_TIME_MS)
        url = self.settings.address_of(identifier) + "/processing-activities"
        found: list[FoundRecord] = []
        params: dict[str, str] = {}
        pages = self.settings.federation_max_pages * (4 if whole else 1)
        headers = {"Authorization": f"Bearer {token}"}
        try:
            for _ in range(pages):
                response = await client.post(url, json=body, params=params, headers=headers)
                if response.status_code != 200:
                    log.info("inzage: read API %s answered %s", identifier, response.status_code)
                    return None
                data = response.json()
                for item in data.get("processingActivities", []):
                    found.append(_remote_record(item, party, identifier))
                next_cursor = data.get("nextCursor")
                if not next_cursor:
                    break
                params = {"cursor": str(next_cursor)}
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            # Unreachable, timed out or an answer we cannot read: the party is "not available now".
            log.info("inzage: read API %s not usable: %s", identifier, type(exc).__name__)
            return None
        return await self._with_receipts(client, url, headers, found)

    async def _with_receipts(
        self, client: httpx.AsyncClient, url: str, headers: Mapping[str, str], records: list[FoundRecord]
    ) -> list[FoundRecord]:
        """Each record with the receipt and opening the other Logboek's proof route gives for it
        (with the same token: the record is the citizen's, who may read it). A record without
        them is kept, unchecked: its Logboek may keep no log, or not yet have signed a checkpoint."""
        limit = asyncio.Semaphore(RECEIPT_REQUESTS_AT_ONCE)

        async def one(record: FoundRecord) -> FoundRecord:
            proof_url = f"{url}/{trace_id_as_uuid(record.trace_id)}/{record.span_id}/proof"
            try:
                async with limit:
                    response = await client.get(proof_url, params={"opening": "true"}, headers=headers)
                if response.status_code != 200:
                    return record
                data = response.json()
                receipt = data["receipt"]
                if not isinstance(receipt, str):
                    return record
                opening = RecordOpening.from_json(data["opening"]) if data.get("opening") is not None else None
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:  # ProofError is a ValueError
                log.info("inzage: no usable receipt from %s: %s", url, type(exc).__name__)
                return record
            return replace(record, receipt=receipt, opening=opening)

        return list(await asyncio.gather(*(one(r) for r in records)))


def _remote_receipt(record: FoundRecord) -> RecordReceipt | None:
    """The receipt of a record read from another Logboek, with the entry its opening gives when
    the opening is the record shown (its ids, name, time, status, activity and organisation);
    otherwise no entry, so the check fails: a receipt alone does not say which record it is for."""
    if record.receipt is None:
        return None
    try:
        receipt = Receipt.parse(record.receipt)
        origin = Checkpoint.from_text(parse_note(receipt.checkpoint_note).text).origin
    except NoteError:
        return RecordReceipt("?", 0, record.receipt)  # fails the check, which says why
    entry = None
    if record.opening is not None and _opening_is(record.opening, record):
        with contextlib.suppress(ProofError):
            entry = record.opening.entry()
    return RecordReceipt(origin, receipt.index, record.receipt, entry)


def _opening_is(opening: RecordOpening, record: FoundRecord) -> bool:
    """Whether `opening` is the record shown: every field the overview shows."""
    return (
        opening.field("TraceId") == record.trace_id
        and opening.field("SpanId") == record.span_id
        and opening.field("SpanName") == record.name
        and opening.field("Timestamp") // 1_000_000 == record.start_ns // 1_000_000
        and opening.field("StatusCode") == record.status.value
        and (opening.attribute("SpanAttributes", attr.PROCESSING_ACTIVITY_ID) or "") == record.activity_id
        and (opening.attribute("ResourceAttributes", attr.ORGANISATION) or record.organisation_ref) == record.organisation_ref
    )


def _remote_record(item: Mapping[str, Any], party: Organisation | None, source: str) -> FoundRecord:
    attributes = item.get("attributes") or {}
    resource = (item.get("resource") or {}).get("attributes") or {}
    return FoundRecord(
        trace_id=str(item["traceId"]).replace("-", "").lower(),
        span_id=str(item["spanId"]).lower(),
        name=str(item.get("name", "")),
        start_ns=int(item["startTime"]) * 1_000_000,
        status=Status(item.get("status", "Unset")),
        activity_id=str(attributes.get(attr.PROCESSING_ACTIVITY_ID, "")),
        organisation_ref=str(resource.get(attr.ORGANISATION) or (party.id if party else source)),
        external_read_api=str(attributes.get(attr.EXTERNAL_READ_API_ID, "")),
        source=source,
        foreign_span_id=str(attributes.get(attr.FOREIGN_OPERATION_SPAN_ID, "")).lower(),
    )
