"""Fail-open (default): logging never breaks the host code. Fail-closed: a processing that cannot be
logged durably fails loudly."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import ldv_sdk
from ldv_sdk._runtime import get_runtime
from ldv_sdk.errors import LoggingFailed, SpoolFull
from tests.sdk.conftest import make_config

BSN = "123456782"


@ldv_sdk.verwerking("bijstand", subject="bsn")
def beslis(bsn: str, log: list[str]) -> str:
    log.append("verwerkt")
    return "toegekend"


def test_fail_closed_refuses_a_processing_when_the_spool_is_full(tmp_path: Path) -> None:
    ldv_sdk.configure(
        make_config(tmp_path, start_sender=False, spool_max_records=2, spool_full_policy="fail", failure_policy="closed")
    )
    ran: list[str] = []
    beslis(BSN, ran)
    beslis(BSN, ran)
    with pytest.raises(SpoolFull):
        beslis(BSN, ran)
    assert ran == ["verwerkt", "verwerkt"]  # the third processing did not run


def test_fail_closed_raises_when_the_record_cannot_be_written(tmp_path: Path) -> None:
    runtime = ldv_sdk.configure(make_config(tmp_path, start_sender=False, failure_policy="closed"))
    runtime.spool.close()  # the disk is gone, as far as the SDK can tell
    with pytest.raises(LoggingFailed, match="could not be logged durably"):
        beslis(BSN, [])


def test_fail_open_keeps_the_host_code_running_and_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    runtime = ldv_sdk.configure(make_config(tmp_path, start_sender=False))
    runtime.spool.close()
    with caplog.at_level(logging.ERROR, "ldv_sdk"):
        assert beslis(BSN, []) == "toegekend"
    assert "could not be logged durably" in caplog.text
    assert BSN not in caplog.text


def test_fail_closed_rejects_a_record_that_breaks_the_standard(tmp_path: Path) -> None:
    ldv_sdk.configure(make_config(tmp_path, start_sender=False, failure_policy="closed"))
    with pytest.raises(LoggingFailed, match="data-subject-pair"):
        with ldv_sdk.verwerking("bijstand", "zonder type") as v:
            v.set_attribute("dpl.core.data_subject_id", "hmac-sha256:" + "a" * 64)


def test_unconfigured_sdk_is_fail_open_by_default(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    for var in ("LDV_ORGANISATION", "LDV_SERVICE_NAME", "LDV_PSEUDONYM_KEY", "LDV_FAILURE_POLICY"):
        monkeypatch.delenv(var, raising=False)
    import ldv_sdk._runtime as rt

    monkeypatch.setattr(rt, "_env_failed", False)
    with caplog.at_level(logging.ERROR, "ldv_sdk"):
        assert beslis(BSN, []) == "toegekend"
    assert "NOT logged" in caplog.text
    monkeypatch.setenv("LDV_FAILURE_POLICY", "closed")
    with pytest.raises(LoggingFailed, match="not configured"):
        beslis(BSN, [])


def test_configuration_from_the_environment_on_first_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ldv_sdk._runtime as rt

    monkeypatch.setattr(rt, "_env_failed", False)
    monkeypatch.setenv("LDV_ORGANISATION", "gemeente-amsterdam")
    monkeypatch.setenv("LDV_SERVICE_NAME", "bijstand-api")
    monkeypatch.setenv("LDV_PSEUDONYM_KEY", "amsterdam-key-0123456789")
    monkeypatch.setenv("LDV_SPOOL_PATH", str(tmp_path / "env.db"))
    monkeypatch.setenv("LDV_START_SENDER", "false")
    beslis(BSN, [])
    runtime = get_runtime()
    assert runtime is not None and runtime.config.service_name == "bijstand-api"
    assert len(runtime.spool) == 1


def test_fail_closed_refuses_a_processing_whose_subject_cannot_be_taken(tmp_path: Path) -> None:
    runtime = ldv_sdk.configure(make_config(tmp_path, start_sender=False, failure_policy="closed"))
    ran: list[str] = []

    @ldv_sdk.verwerking("bijstand", subject=lambda a: a["aanvraag"]["bsn"])
    def verwerk(aanvraag: dict) -> None:
        ran.append("verwerkt")

    with pytest.raises(LoggingFailed, match="data subject could not be taken: KeyError"):
        verwerk({})
    assert ran == []  # the body did not run
    assert len(runtime.spool) == 1  # and the refusal is itself on record (status Error)
    assert ldv_sdk.current() is None


def test_an_unconfigured_sdk_runs_shared_declarations_as_no_ops(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("LDV_ORGANISATION", "LDV_SERVICE_NAME", "LDV_PSEUDONYM_KEY", "LDV_FAILURE_POLICY"):
        monkeypatch.delenv(var, raising=False)
    import ldv_sdk._runtime as rt

    monkeypatch.setattr(rt, "_env_failed", False)
    gedeeld = ldv_sdk.verwerking("bijstand", "beslissen")
    with gedeeld as buiten:
        with gedeeld as binnen:
            binnen.add_subject(BSN)
            binnen.mark_ok()
            assert ldv_sdk.current() is binnen and binnen.trace_id == ""
        assert ldv_sdk.current() is buiten
    assert ldv_sdk.current() is None
