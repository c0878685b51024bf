"""ApiSettings: defaults, environment variables and the bounds the store imposes."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from ldv_inzicht._subject_keys import SubjectKeys
from ldv_inzicht.settings import ApiSettings
from ldv_logboek._pseudonym import pseudonymise
from ldv_logboek.storage._query import MAX_PAGE_SIZE


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "PUBLIC_BASE_URL", "RETRY_AFTER_SECONDS", "ORGANISATION_KEYS"):
        monkeypatch.delenv(f"LDV_API_{name}", raising=False)
    monkeypatch.delenv("LDV_ORGANISATION_KEYS", raising=False)
    settings = ApiSettings()
    assert (settings.default_page_size, settings.max_page_size) == (100, MAX_PAGE_SIZE)
    assert settings.base_url() is None
    assert settings.organisation_keys == {}


def test_environment_with_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LDV_API_DEFAULT_PAGE_SIZE", "7")
    monkeypatch.setenv("LDV_API_PUBLIC_BASE_URL", "https://logboek.example.nl/")
    monkeypatch.setenv("LDV_ORGANISATION_KEYS", '{"dienst-toeslagen": "geheim-toeslagen-0123", "uwv": "geheim-uwv-0123456"}')
    settings = ApiSettings()
    assert settings.default_page_size == 7
    assert settings.base_url() == "https://logboek.example.nl"
    assert set(settings.organisation_keys) == {"dienst-toeslagen", "uwv"}
    assert settings.organisation_keys["uwv"].get_secret_value() == "geheim-uwv-0123456"
    assert "geheim" not in repr(settings)  # a secret never shows in logs or tracebacks
    keys = SubjectKeys(settings.organisation_keys)
    assert keys.organisations == ["dienst-toeslagen", "uwv"]
    assert "geheim" not in repr(keys)


def test_subject_keys_pseudonymise_a_clear_id_under_every_key() -> None:
    keys = SubjectKeys({"a": SecretStr("key-a"), "b": SecretStr("key-b")})
    bsn = "123456782"
    assert keys.pseudonyms(bsn) == (pseudonymise(bsn, b"key-a"), pseudonymise(bsn, b"key-b"))
    assert keys.citizen_pseudonyms(bsn) == keys.pseudonyms(bsn)
    pseudonym = pseudonymise(bsn, b"key-a")
    assert keys.pseudonyms(pseudonym) == (pseudonym,)  # already a pseudonym: as it is
    assert keys.only({"b", "unknown"}).organisations == ["b"]
    none = SubjectKeys({})
    assert none.pseudonyms(bsn) == (bsn,)  # no keys: records hold ids as they came
    assert none.citizen_pseudonyms(bsn) == ()  # but a citizen is never matched on a clear BSN


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_page_size": MAX_PAGE_SIZE + 1},
        {"default_page_size": 0},
        {"default_page_size": 50, "max_page_size": 10},
        {"public_base_url": "ftp://logboek.example.nl"},
        {"retry_after_seconds": 0},
        {"organisation_keys": {"uwv": ""}},
        {"organisation_keys": {"": "a-key-of-sixteen-bytes"}},
        {"organisation_keys": {"uwv": "too-short"}},
    ],
)
def test_refuses_impossible_values(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ApiSettings(**kwargs)
