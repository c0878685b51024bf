"""Declaring processings: decorator and context manager, subjects, status, errors, privacy."""

from __future__ import annotations

import asyncio
import logging

import pytest

import ldv_sdk
from ldv_logboek import attributes as attr
from ldv_logboek._pseudonym import pseudonymise
from ldv_sdk.testing import TEST_KEY, capture_ldv

BSN = "123456782"  # passes the elfproef
BSN2 = "111222333"
ACTIVITY = "https://register.example/activiteiten/huurtoeslag"


class OngeldigeAanvraag(ValueError):
    """Bad user input that the service handles."""


@ldv_sdk.verwerking("huurtoeslag", subject="bsn")
def bereken(bsn: str, inkomen: int = 0) -> int:
    return inkomen // 10


@ldv_sdk.verwerking
def zonder_argumenten() -> str:
    return "ok"


@ldv_sdk.verwerking("huurtoeslag", "huurtoeslag async", subject=lambda a: a["aanvraag"]["bsn"])
async def bereken_async(aanvraag: dict) -> str:
    await asyncio.sleep(0)
    return aanvraag["bsn"]


def test_decorator_with_arguments_logs_one_record_with_pseudonymised_subject() -> None:
    with capture_ldv() as records:
        assert bereken(BSN, inkomen=100) == 10
    assert len(records) == 1
    r = records[0]
    assert r["name"] == "bereken"
    assert r["status"] == "Unset"
    assert r["attributes"] == {
        attr.PROCESSING_ACTIVITY_ID: ACTIVITY,
        attr.DATA_SUBJECT_ID: pseudonymise(BSN, TEST_KEY),
        attr.DATA_SUBJECT_ID_TYPE: "BSN",
    }
    assert r["resource"] == {attr.SERVICE_NAME: "test-service", attr.ORGANISATION: "test-organisatie"}
    assert BSN not in str(r)
    assert len(r["trace_id"]) == 32 and len(r["span_id"]) == 16 and r["parent_span_id"] == ""
    assert 0 < r["start_time_ns"] <= r["end_time_ns"]


def test_subject_by_keyword_and_by_position_give_the_same_pseudonym() -> None:
    with capture_ldv() as records:
        bereken(BSN)
        bereken(bsn=BSN)
    assert records.subjects() == [records.pseudonym(BSN)] * 2


def test_bare_decorator_captures_nothing_personal() -> None:
    with capture_ldv() as records:
        assert zonder_argumenten() == "ok"
    assert [r["name"] for r in records] == ["zonder_argumenten"]
    assert records[0]["attributes"] == {}


def test_async_function_is_logged_when_awaited() -> None:
    with capture_ldv() as records:
        assert asyncio.run(bereken_async({"bsn": BSN})) == BSN
    assert [r["name"] for r in records] == ["huurtoeslag async"]
    assert records.subjects() == [records.pseudonym(BSN)]


def test_async_with_block() -> None:
    async def run() -> None:
        async with ldv_sdk.verwerking(ACTIVITY, "async blok") as v:
            v.add_subject(BSN)
            await asyncio.sleep(0)

    with capture_ldv() as records:
        asyncio.run(run())
    assert records.named("async blok")[0]["attributes"][attr.DATA_SUBJECT_ID] == records.pseudonym(BSN)


def test_generators_are_refused_at_decoration_time() -> None:
    with pytest.raises(TypeError, match="generator"):

        @ldv_sdk.verwerking("huurtoeslag")
        def gen():  # type: ignore[no-untyped-def]
            yield 1

    with pytest.raises(TypeError, match="generator"):

        @ldv_sdk.verwerking
        async def agen():  # type: ignore[no-untyped-def]
            yield 1


def test_unknown_subject_parameter_is_a_decoration_error() -> None:
    with pytest.raises(TypeError, match="no parameter 'burger'"):

        @ldv_sdk.verwerking("huurtoeslag", subject="burger")
        def f(bsn: str) -> None: ...


def test_zero_subjects_is_one_record_without_subject() -> None:
    with capture_ldv() as records:
        with ldv_sdk.verwerking("statistiek", "tellen"):
            pass
    assert len(records) == 1
    assert attr.DATA_SUBJECT_ID not in records[0]["attributes"]
    assert records[0]["attributes"][attr.PROCESSING_ACTIVITY_ID].endswith("/statistiek")


def test_n_subjects_give_n_child_records_under_the_action() -> None:
    with capture_ldv() as records:
        with ldv_sdk.verwerking("huurtoeslag", "gezin beoordelen") as v:
            v.add_subjects([BSN, BSN2, BSN])  # the repeat is one subject
            v.mark_ok()
    parent = [r for r in records if attr.DATA_SUBJECT_ID not in r["attributes"]]
    children = [r for r in records if attr.DATA_SUBJECT_ID in r["attributes"]]
    assert len(parent) == 1 and len(children) == 2
    assert {c["attributes"][attr.DATA_SUBJECT_ID] for c in children} == {records.pseudonym(BSN), records.pseudonym(BSN2)}
    for child in children:
        assert child["parent_span_id"] == parent[0]["span_id"]
        assert child["trace_id"] == parent[0]["trace_id"]
        assert child["status"] == "Ok"
        assert child["attributes"][attr.PROCESSING_ACTIVITY_ID] == parent[0]["attributes"][attr.PROCESSING_ACTIVITY_ID]
        assert child["attributes"][attr.DATA_SUBJECT_ID_TYPE] == "BSN"


def test_subjects_known_only_after_a_reply_start_their_record_then() -> None:
    with capture_ldv() as records:
        with ldv_sdk.verwerking("huurtoeslag", "huishouden opvragen") as v:
            v.add_subject(BSN)
            import time

            time.sleep(0.01)  # the reply of another application
            v.add_subject(BSN2, subject_type="https://register.example/types/relatienummer")
    children = {r["attributes"][attr.DATA_SUBJECT_ID]: r for r in records if attr.DATA_SUBJECT_ID in r["attributes"]}
    late = children[records.pseudonym(BSN2)]
    early = children[records.pseudonym(BSN)]
    assert late["start_time_ns"] >= early["start_time_ns"] + 5_000_000
    assert late["attributes"][attr.DATA_SUBJECT_ID_TYPE] == "https://register.example/types/relatienummer"


def test_subject_from_result() -> None:
    @ldv_sdk.verwerking("huurtoeslag", subject_from_result=lambda res: [p["bsn"] for p in res])
    def zoek_gezin() -> list[dict]:
        return [{"bsn": BSN}, {"bsn": BSN2}]

    with capture_ldv() as records:
        zoek_gezin()
    assert sorted(records.subjects()) == sorted([records.pseudonym(BSN), records.pseudonym(BSN2)])


def test_status_ok_when_marked_and_error_with_exception_attributes_for_a_fault() -> None:
    @ldv_sdk.verwerking("huurtoeslag", subject="bsn")
    def kapot(bsn: str) -> None:
        raise ZeroDivisionError("deling door nul bij " + bsn)

    with capture_ldv() as records:
        with ldv_sdk.verwerking("huurtoeslag", "goed") as v:
            v.mark_ok()
        with pytest.raises(ZeroDivisionError):
            kapot(BSN)
    goed, fout = records
    assert goed["status"] == "Ok"
    assert fout["status"] == "Error"
    assert fout["status_message"] == "ZeroDivisionError"
    assert fout["attributes"][attr.EXCEPTION_TYPE] == "ZeroDivisionError"
    # The message held a clear BSN: the guard took it out.
    assert BSN not in fout["attributes"][attr.EXCEPTION_MESSAGE]
    assert fout["attributes"][attr.EXCEPTION_MESSAGE].startswith("deling door nul bij [redacted")
    assert attr.EXCEPTION_STACKTRACE not in fout["attributes"]


def test_stacktrace_is_opt_in() -> None:
    with capture_ldv(record_stacktrace=True) as records:
        with pytest.raises(KeyError):
            with ldv_sdk.verwerking("huurtoeslag", "stuk"):
                {}["x"]
    assert "Traceback" in records[0]["attributes"][attr.EXCEPTION_STACKTRACE]


def test_handled_bad_user_input_is_not_an_error() -> None:
    @ldv_sdk.verwerking("huurtoeslag", subject="bsn", expected=(OngeldigeAanvraag,))
    def aanvraag(bsn: str) -> None:
        raise OngeldigeAanvraag("inkomen ontbreekt")

    with capture_ldv() as records:
        with pytest.raises(OngeldigeAanvraag):
            aanvraag(BSN)
        with ldv_sdk.verwerking("huurtoeslag", "afgebroken door gebruiker") as v:
            v.mark_ok()  # a deliberate cancel is Ok
    assert [r["status"] for r in records] == ["Unset", "Ok"]
    assert attr.EXCEPTION_TYPE not in records[0]["attributes"]


def test_handled_internal_fault_is_an_error() -> None:
    with capture_ldv() as records:
        with ldv_sdk.verwerking("huurtoeslag", "met herstel") as v:
            try:
                raise ConnectionError("register onbereikbaar")
            except ConnectionError as exc:
                v.mark_error(exc)
    assert records[0]["status"] == "Error"
    assert records[0]["attributes"][attr.EXCEPTION_TYPE] == "ConnectionError"


def test_empty_name_gets_a_default_and_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with capture_ldv() as records, caplog.at_level(logging.WARNING, "ldv_sdk"):
        with ldv_sdk.verwerking(ACTIVITY, " ") as v:
            v.add_subject(BSN)
    assert records[0]["name"] == "verwerking"
    assert "filled in name" in caplog.text
    assert BSN not in caplog.text


def test_clear_bsn_in_any_attribute_is_refused(caplog: pytest.LogCaptureFixture) -> None:
    with capture_ldv() as records, caplog.at_level(logging.WARNING, "ldv_sdk"):
        with ldv_sdk.verwerking("huurtoeslag", f"aanvraag {BSN}", attributes={"dpl.demo.note": f"bsn={BSN}"}) as v:
            v.set_attribute("dpl.demo.ids", "nummer 123456789 is geen BSN")  # fails the elfproef: kept
            v.set_attribute(attr.DATA_SUBJECT_ID, BSN)  # raw, past add_subject: still pseudonymised
            v.set_attribute(attr.DATA_SUBJECT_ID_TYPE, "BSN")
    r = records[0]
    assert BSN not in str(r)
    assert r["attributes"]["dpl.demo.ids"] == "nummer 123456789 is geen BSN"
    assert r["attributes"][attr.DATA_SUBJECT_ID] == records.pseudonym(BSN)
    assert "dpl.demo.note" in caplog.text and "name" in caplog.text
    assert BSN not in caplog.text


def test_nested_processings_share_the_trace() -> None:
    with capture_ldv() as records:
        with ldv_sdk.verwerking("huurtoeslag", "buiten") as outer:
            with ldv_sdk.verwerking("inkomen", "binnen"):
                assert ldv_sdk.current() is not outer
            assert ldv_sdk.current() is outer
        assert ldv_sdk.current() is None
    binnen, buiten = records
    assert binnen["trace_id"] == buiten["trace_id"]
    assert binnen["parent_span_id"] == buiten["span_id"]


def test_a_failing_subject_extractor_does_not_break_the_host_code(caplog: pytest.LogCaptureFixture) -> None:
    @ldv_sdk.verwerking("huurtoeslag", subject=lambda a: a["aanvraag"]["bsn"])
    def verwerk(aanvraag: dict) -> str:
        return "klaar"

    with capture_ldv() as records, caplog.at_level(logging.WARNING, "ldv_sdk"):
        assert verwerk({}) == "klaar"
    assert len(records) == 1 and attr.DATA_SUBJECT_ID not in records[0]["attributes"]
    assert "KeyError" in caplog.text


def test_activity_without_register_base_becomes_a_urn() -> None:
    with capture_ldv(register_base_uri=None) as records:
        with ldv_sdk.verwerking("huurtoeslag", "x"):
            pass
    assert records[0]["attributes"][attr.PROCESSING_ACTIVITY_ID] == "urn:ldv:processing-activity:huurtoeslag"


def test_the_pytest_fixture(ldv_records: list[dict]) -> None:
    bereken(BSN)
    assert [r["name"] for r in ldv_records] == ["bereken"]
