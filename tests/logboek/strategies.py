"""Hypothesis strategies for LDV records: valid and invalid, with clear BSNs in every form and place."""

from __future__ import annotations

from hypothesis import strategies as st

from ldv_logboek import attributes as attr
from ldv_logboek._otlp import SPAN_KINDS
from ldv_logboek._pseudonym import PSEUDONYM_PREFIX
from ldv_logboek._record import Event, Link, LogRecord, Status


def _bsn_from(n: int) -> str:
    """The first 9-digit number passing the elfproef whose first 8 digits are n or after."""
    while True:
        head = f"{n % 10**8:08d}"
        last = sum(int(d) * w for d, w in zip(head, range(9, 1, -1))) % 11
        if last < 10 and (n % 10**8 or last):
            return head + str(last)
        n += 1


def bsns() -> st.SearchStrategy[str]:
    """9-digit numbers that pass the elfproef."""
    return st.integers(0, 10**8 - 1).map(_bsn_from)


def written(bsn: str, form: int) -> str:
    """`bsn` in one of the ways people write it."""
    return [
        bsn,
        f"{bsn[:4]}.{bsn[4:6]}.{bsn[6:]}",
        f"{bsn[:3]} {bsn[3:6]} {bsn[6:]}",
        f"{bsn[:3]}-{bsn[3:6]}-{bsn[6:]}",
        f"{bsn[:3]}.{bsn[3:6]}.{bsn[6:]}",
        f"  {bsn} ",
        bsn[1:] if bsn.startswith("0") else bsn,  # kept as a number: its one leading zero lost
        bsn.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")),
    ][form]


bsn_forms = st.builds(written, bsns(), st.integers(0, 7))
pseudonyms = st.text("0123456789abcdef", min_size=64, max_size=64).map(lambda h: PSEUDONYM_PREFIX + h)
plain_text = st.text(st.characters(codec="utf-8"), max_size=40)
texts = st.one_of(
    plain_text,
    bsn_forms,
    st.builds(lambda a, b, c: f"{a}{b}{c}", plain_text, bsn_forms, plain_text),  # a BSN amid text
    pseudonyms,
    st.sampled_from(
        ["", " ", "https://register.example/activiteiten/huurtoeslag", "urn:ldv:x", "123456789", "hmac-sha256:kort"]
    ),
    st.integers(0, 10**12).map(str),
    st.integers(1000, 20_000).map(lambda n: "é" * n),  # huge values
)
keys = st.one_of(
    st.sampled_from(
        [
            attr.PROCESSING_ACTIVITY_ID,
            attr.DATA_SUBJECT_ID,
            attr.DATA_SUBJECT_ID_TYPE,
            attr.FOREIGN_OPERATION_PROCESSOR,
            attr.FOREIGN_OPERATION_SPAN_ID,
            attr.EXTERNAL_READ_API_ID,
            attr.EXCEPTION_MESSAGE,
            "dpl.demo.note",
        ]
    ),
    st.text(min_size=1, max_size=12),
)
attribute_maps = st.dictionaries(keys, texts, max_size=6)
subject_types = st.sampled_from(["BSN", "bsn ", "KvK", "", "Medewerker"])


@st.composite
def ldv_attributes(draw: st.DrawFn) -> dict[str, str]:
    """Attributes as an LDV span carries them, often complete, sometimes broken."""
    out = draw(attribute_maps)
    if draw(st.booleans()):
        out[attr.PROCESSING_ACTIVITY_ID] = draw(
            st.sampled_from(["https://register.example/a", "urn:ldv:b", "geen uri"])
        )
    if draw(st.booleans()):
        out[attr.DATA_SUBJECT_ID] = draw(st.one_of(bsn_forms, pseudonyms, texts))
        out[attr.DATA_SUBJECT_ID_TYPE] = draw(subject_types)
    return out


ids = st.one_of(st.binary(min_size=16, max_size=16), st.binary(max_size=20))
span_ids = st.one_of(st.binary(min_size=8, max_size=8), st.binary(max_size=10))
times = st.integers(0, 2**64 - 1)


@st.composite
def records(draw: st.DrawFn, *, with_events: bool = True) -> LogRecord:
    """A LogRecord, valid or not: odd ids, missing attributes, clear BSNs, unicode, huge values."""
    events = draw(st.lists(st.builds(Event, times, texts, attribute_maps), max_size=2)) if with_events else []
    links = (
        draw(st.lists(st.builds(Link, ids, span_ids, st.sampled_from(["", "a=b"]), attribute_maps), max_size=2))
        if with_events
        else []
    )
    return LogRecord(
        trace_id=draw(ids),
        span_id=draw(span_ids),
        name=draw(texts),
        start_time_ns=draw(times),
        end_time_ns=draw(times),
        status=draw(st.sampled_from(list(Status))),
        attributes=draw(ldv_attributes()),
        parent_span_id=draw(st.one_of(st.just(b""), span_ids)),
        resource_attributes=draw(
            st.dictionaries(st.sampled_from([attr.SERVICE_NAME, attr.ORGANISATION, "host.name"]), texts)
        ),
        status_message=draw(texts),
        kind=draw(st.sampled_from(SPAN_KINDS)),
        trace_state=draw(st.sampled_from(["", "ldv=urn%3Aldv%3Aapp", "vendor=1234.56.782"])),
        scope_name=draw(st.sampled_from(["", "ldv_sdk"])),
        scope_version=draw(st.sampled_from(["", "0.1.0"])),
        events=events,
        links=links,
    )
