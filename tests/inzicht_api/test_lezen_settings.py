"""ApiSettings: defaults, environment variables and the bounds the store imposes."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ldv_inzicht.settings import ApiSettings
from ldv_logboek.storage.query import MAX_PAGE_SIZE


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "PUBLIC_BASE_URL", "RETRY_AFTER_SECONDS", "PSEUDONYM_KEY"):
        monkeypatch.delenv(f"LDV_API_{name}", raising=False)
    settings = ApiSettings()
    assert (settings.default_page_size, settings.max_page_size) == (100, MAX_PAGE_SIZE)
    assert settings.base_url() is None
    assert settings.pseudonym_key is None


def test_environment_with_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LDV_API_DEFAULT_PAGE_SIZE", "7")
    monkeypatch.setenv("LDV_API_PUBLIC_BASE_URL", "https://logboek.example.nl/")
    monkeypatch.setenv("LDV_API_PSEUDONYM_KEY", "geheim")
    settings = ApiSettings()
    assert settings.default_page_size == 7
    assert settings.base_url() == "https://logboek.example.nl"
    assert "geheim" not in repr(settings)  # a secret never shows in logs or tracebacks


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_page_size": MAX_PAGE_SIZE + 1},
        {"default_page_size": 0},
        {"default_page_size": 50, "max_page_size": 10},
        {"public_base_url": "ftp://logboek.example.nl"},
        {"retry_after_seconds": 0},
    ],
)
def test_refuses_impossible_values(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ApiSettings(**kwargs)
