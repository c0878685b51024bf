"""A declaration is a value: defined once, shared by concurrent tasks, threads and functions.

Each entry of a shared `verwerking(...)` (decorator call, `with`, `async with`) is its own
processing with its own record: subject, status, exception and duration never cross over to
another entry's record, whatever the order in which the entries end.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import logging
import random
import threading
import time

import pytest

import ldv_sdk
from ldv_logboek import attributes as attr
from ldv_sdk.testing import CapturedRecords, capture_ldv

BSN_A = "123456782"
BSN_B = "111222333"

HUURTOESLAG = ldv_sdk.verwerking("huurtoeslag", "berekenen")


class GeenHuur(ValueError):
    """A fault inside one processing."""


def _by_subject(records: CapturedRecords) -> dict[str, dict]:
    out = {r["attributes"][attr.DATA_SUBJECT_ID]: r for r in records}
    assert len(out) == len(records), "two records carry the same subject"
    return out


def _duration_ms(record: dict) -> float:
    return (record["end_time_ns"] - record["start_time_ns"]) / 1e6


def test_concurrent_async_with_blocks_on_one_declaration_log_their_own_records() -> None:
    """A enters, B enters, A fails and ends first (after 20 ms), B ends later (after 150 ms)."""
    seen: dict[str, tuple[object, object]] = {}

    async def handle(bsn: str, entered: asyncio.Event, go: asyncio.Event, hold: float, fail: bool) -> str:
        async with HUURTOESLAG as v:
            v.add_subject(bsn)
            entered.set()
            await go.wait()
            await asyncio.sleep(hold)
            seen[bsn] = (v, ldv_sdk.current())
            if fail:
                raise GeenHuur("geen huur voor deze aanvraag")
        assert ldv_sdk.current() is None
        return bsn

    async def run() -> list[object]:
        go = asyncio.Event()
        a_in, b_in = asyncio.Event(), asyncio.Event()
        a = asyncio.create_task(handle(BSN_A, a_in, go, 0.02, fail=True))
        await a_in.wait()
        b = asyncio.create_task(handle(BSN_B, b_in, go, 0.15, fail=False))
        await b_in.wait()
        go.set()
        return await asyncio.gather(a, b, return_exceptions=True)

    with capture_ldv() as records:
        outcome_a, outcome_b = asyncio.run(run())
    assert isinstance(outcome_a, GeenHuur)
    assert outcome_b == BSN_B  # no ContextVar token error, no exception of A
    for v, current in seen.values():
        assert current is v  # inside its block, each task sees its own processing

    assert len(records) == 2
    by_subject = _by_subject(records)
    a = by_subject[records.pseudonym(BSN_A)]
    b = by_subject[records.pseudonym(BSN_B)]
    assert a["status"] == "Error"
    assert a["attributes"][attr.EXCEPTION_TYPE].endswith("GeenHuur")
    assert b["status"] == "Unset"
    assert attr.EXCEPTION_TYPE not in b["attributes"]
    assert a["end_time_ns"] < b["end_time_ns"]  # A left first
    assert _duration_ms(a) >= 20 and _duration_ms(b) >= 150 and _duration_ms(a) < _duration_ms(b)
    assert a["name"] == b["name"] == "berekenen"
    assert a["trace_id"] != b["trace_id"] and a["parent_span_id"] == b["parent_span_id"] == ""


def test_many_interleaved_tasks_on_one_declaration() -> None:
    """Twenty tasks that end in a shuffled order: odd ones fail; each record matches its own task."""
    bsns = [f"{100000000 + i}" for i in range(20)]
    holds = {bsn: random.Random(i).uniform(0.0, 0.05) for i, bsn in enumerate(bsns)}

    async def handle(i: int, bsn: str) -> None:
        async with HUURTOESLAG as v:
            v.add_subject(bsn)
            v.set_attribute("dpl.test.taak", i)
            await asyncio.sleep(holds[bsn])
            if i % 2:
                raise GeenHuur(f"taak {i}")

    async def run() -> list[object]:
        return await asyncio.gather(*(handle(i, bsn) for i, bsn in enumerate(bsns)), return_exceptions=True)

    with capture_ldv() as records:
        outcomes = asyncio.run(run())
    assert [type(o).__name__ for o in outcomes] == ["NoneType", "GeenHuur"] * 10
    by_subject = _by_subject(records)
    for i, bsn in enumerate(bsns):
        r = by_subject[records.pseudonym(bsn)]
        assert r["attributes"]["dpl.test.taak"] == str(i)  # as the Logboek stores it
        assert r["status"] == ("Error" if i % 2 else "Unset")
        if i % 2:
            assert r["attributes"][attr.EXCEPTION_MESSAGE] == f"taak {i}"
        assert _duration_ms(r) >= holds[bsn] * 1000 - 1


def test_threads_sharing_one_declaration_with_with_log_their_own_records() -> None:
    """Thread A enters, B enters, A fails and ends first, B ends 100 ms later."""
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def handle(bsn: str, entered: threading.Event, wait_for: threading.Event, hold: float, fail: bool) -> None:
        try:
            with HUURTOESLAG as v:
                v.add_subject(bsn)
                entered.set()
                assert wait_for.wait(5)
                time.sleep(hold)
                assert ldv_sdk.current() is v
                if fail:
                    raise GeenHuur("geen huur")
            outcome[bsn] = "klaar"
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            outcome[bsn] = exc
        finally:
            if bsn == BSN_A:
                a_out.set()

    with capture_ldv() as records:
        a = threading.Thread(target=handle, args=(BSN_A, a_in, b_in, 0.02, True))
        b = threading.Thread(target=handle, args=(BSN_B, b_in, a_out, 0.1, False))
        a.start()
        assert a_in.wait(5)
        b.start()
        a.join(5)
        b.join(5)
    assert isinstance(outcome[BSN_A], GeenHuur)
    assert outcome[BSN_B] == "klaar"
    by_subject = _by_subject(records)
    ra = by_subject[records.pseudonym(BSN_A)]
    rb = by_subject[records.pseudonym(BSN_B)]
    assert ra["status"] == "Error" and ra["attributes"][attr.EXCEPTION_TYPE].endswith("GeenHuur")
    assert rb["status"] == "Unset" and attr.EXCEPTION_TYPE not in rb["attributes"]
    assert ra["end_time_ns"] < rb["end_time_ns"]
    assert _duration_ms(ra) >= 20 and _duration_ms(rb) >= 100


def test_one_declaration_decorating_two_functions_logs_each_under_its_own_name() -> None:
    gedeeld = ldv_sdk.verwerking("huurtoeslag", subject="bsn")

    @gedeeld
    def eerste(bsn: str) -> str:
        return "1"

    @gedeeld
    def tweede(bsn: str) -> str:
        return "2"

    kaal = ldv_sdk.verwerking("huurtoeslag")

    @kaal
    async def derde() -> None:
        return None

    with capture_ldv() as records:
        assert (tweede(BSN_B), eerste(BSN_A)) == ("2", "1")
        asyncio.run(derde())
        with kaal:  # decorating did not give the declaration a name
            pass
    assert [r["name"] for r in records] == ["tweede", "eerste", "derde", "huurtoeslag"]
    assert [r["attributes"].get(attr.DATA_SUBJECT_ID) for r in records[:2]] == [
        records.pseudonym(BSN_B),
        records.pseudonym(BSN_A),
    ]
    assert gedeeld.name is None and kaal.name is None


def test_nested_use_of_one_declaration() -> None:
    @HUURTOESLAG
    def binnenste() -> None:
        assert ldv_sdk.current() is not None

    with capture_ldv() as records:
        with HUURTOESLAG as buiten:
            with HUURTOESLAG as binnen:
                assert binnen is not buiten and ldv_sdk.current() is binnen
                binnenste()
                assert ldv_sdk.current() is binnen
            assert ldv_sdk.current() is buiten
        assert ldv_sdk.current() is None
    diepst, midden, buitenst = records
    assert diepst["name"] == midden["name"] == buitenst["name"] == "berekenen"  # the declared name
    assert diepst["parent_span_id"] == midden["span_id"]
    assert midden["parent_span_id"] == buitenst["span_id"]
    assert buitenst["parent_span_id"] == ""
    assert len({r["trace_id"] for r in records}) == 1


def test_nested_tasks_on_one_declaration_end_in_any_order() -> None:
    """Two child tasks under one `async with`, on the same declaration, end first-in first-out."""

    async def child(bsn: str, entered: asyncio.Event, go: asyncio.Event, hold: float) -> None:
        async with HUURTOESLAG as v:
            v.add_subject(bsn)
            entered.set()
            await go.wait()
            await asyncio.sleep(hold)

    async def run() -> None:
        async with HUURTOESLAG as ouder:
            ouder.mark_ok()
            go = asyncio.Event()
            a_in, b_in = asyncio.Event(), asyncio.Event()
            a = asyncio.create_task(child(BSN_A, a_in, go, 0.0))
            await a_in.wait()
            b = asyncio.create_task(child(BSN_B, b_in, go, 0.05))
            await b_in.wait()
            go.set()
            await asyncio.gather(a, b)
            assert ldv_sdk.current() is ouder

    with capture_ldv() as records:
        asyncio.run(run())
    assert len(records) == 3
    ouder = next(r for r in records if attr.DATA_SUBJECT_ID not in r["attributes"])
    kinderen = [r for r in records if attr.DATA_SUBJECT_ID in r["attributes"]]
    assert ouder["status"] == "Ok" and ouder is records[-1]
    assert sorted(r["attributes"][attr.DATA_SUBJECT_ID] for r in kinderen) == sorted(
        [records.pseudonym(BSN_A), records.pseudonym(BSN_B)]
    )
    for kind in kinderen:
        assert kind["parent_span_id"] == ouder["span_id"] and kind["status"] == "Unset"
    kind_a, kind_b = sorted(kinderen, key=lambda r: r["attributes"][attr.DATA_SUBJECT_ID] != records.pseudonym(BSN_A))
    assert kind_a["end_time_ns"] < kind_b["end_time_ns"]  # A left first
    assert _duration_ms(kind_b) >= 50


def test_a_declaration_is_immutable() -> None:
    declaration = ldv_sdk.verwerking("huurtoeslag", "berekenen", attributes={"dpl.test.x": "1"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        declaration.name = "iets anders"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        declaration.activity = "iets anders"  # type: ignore[misc]
    with pytest.raises(TypeError):
        declaration.attributes["dpl.test.x"] = "2"  # type: ignore[index]
    assert declaration.name == "berekenen" and declaration.attributes == {"dpl.test.x": "1"}


def test_the_attributes_given_are_copied() -> None:
    given = {"dpl.test.x": "1"}
    declaration = ldv_sdk.verwerking("huurtoeslag", "berekenen", attributes=given)
    given["dpl.test.x"] = "2"
    with capture_ldv() as records, declaration:
        pass
    assert records[0]["attributes"]["dpl.test.x"] == "1"


def test_open_gives_a_new_processing_per_call_sync_and_async() -> None:
    async def run() -> None:
        async with HUURTOESLAG.open() as v:
            v.add_subject(BSN_B)

    with capture_ldv() as records:
        opened = HUURTOESLAG.open()
        with opened as v:
            assert opened is v and ldv_sdk.current() is v
            v.add_subject(BSN_A)
        with pytest.raises(RuntimeError, match="once"):
            with opened:
                pass
        asyncio.run(run())
    assert records.subjects() == [records.pseudonym(BSN_A), records.pseudonym(BSN_B)]


def test_a_with_block_left_in_another_context_is_reported_not_misattributed(caplog: pytest.LogCaptureFixture) -> None:
    """Entered in one context and left in another (as an async generator closed by another task
    could): the other context holds no processing of it, so nothing is finished there."""
    elders = contextvars.copy_context()
    with capture_ldv() as records:
        v = elders.run(HUURTOESLAG.__enter__)
        v.add_subject(BSN_A)
        with caplog.at_level(logging.ERROR, "ldv_sdk"):
            HUURTOESLAG.__exit__(None, None, None)
        assert "ended in another context" in caplog.text
        assert records == []
        elders.run(HUURTOESLAG.__exit__, None, None, None)
    assert records.subjects() == [records.pseudonym(BSN_A)]
