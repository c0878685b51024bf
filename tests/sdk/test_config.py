"""Configuration from code and from LDV_* environment variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from ldv_sdk.errors import ConfigurationError
from ldv_sdk.settings import LdvConfig, build_config

ENV = {
    "LDV_ORGANISATION": "dienst-toeslagen",
    "LDV_SERVICE_NAME": "huurtoeslag",
    "LDV_PSEUDONYM_KEY": "toeslagen-key-0123456789",
    "LDV_ENDPOINT": "https://logboek.toeslagen.example/v1/traces",
    "LDV_HEADERS": "Authorization=Bearer%20abc,X-Org=toeslagen",
    "LDV_READ_APIS": '{"https://api.belastingdienst.example/": "https://logboek.belastingdienst.example/lezenapi/v1"}',
    "LDV_SPOOL_MAX_RECORDS": "10",
    "LDV_SPOOL_FULL_POLICY": "fail",
    "LDV_FAILURE_POLICY": "closed",
    "LDV_RECORD_STACKTRACE": "true",
    "LDV_SPOOL_PATH": "/tmp/x/spool.db",
}


def test_everything_from_the_environment() -> None:
    c = build_config(ENV)
    assert c.organisation == "dienst-toeslagen" and c.service_name == "huurtoeslag"
    assert c.pseudonym_key == b"toeslagen-key-0123456789"
    assert c.headers == {"Authorization": "Bearer abc", "X-Org": "toeslagen"}
    assert c.read_apis["https://api.belastingdienst.example/"].endswith("/lezenapi/v1")
    assert (c.spool_max_records, c.spool_full_policy, c.failure_policy) == (10, "fail", "closed")
    assert c.record_stacktrace is True and c.spool_path == Path("/tmp/x/spool.db")
    assert c.application == "urn:ldv:application:dienst-toeslagen:huurtoeslag"
    assert "toeslagen-key" not in repr(c) and "Bearer" not in repr(c)


def test_arguments_win_over_the_environment_and_key_file(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_bytes(b"a-key-from-a-file-0123\n")
    env = {**ENV, "LDV_PSEUDONYM_KEY_FILE": str(key_file), "OTEL_SERVICE_NAME": "ignored"}
    c = build_config(env, service_name="uit-code")
    assert c.service_name == "uit-code" and c.pseudonym_key == b"a-key-from-a-file-0123"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "missing required settings: organisation, service_name, pseudonym_key"),
        ({**ENV, "LDV_PSEUDONYM_KEY": "kort"}, "at least 16 bytes"),
        ({**ENV, "LDV_ENDPOINT": "http://logboek.example:4318/v1/traces"}, "plain http"),
        ({**ENV, "LDV_SPOOL_FULL_POLICY": "drop"}, "spool_full_policy"),
        ({**ENV, "LDV_BATCH_SIZE": "veel"}, "LDV_BATCH_SIZE must be a whole number"),
        ({**ENV, "LDV_READ_APIS": "[1]"}, "LDV_READ_APIS must be a JSON object"),
        ({**ENV, "LDV_HEADERS": "zonder-is"}, "key=value"),
    ],
)
def test_bad_settings_are_precise_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        build_config(env)


def test_plain_http_to_loopback_is_fine_and_insecure_can_be_allowed() -> None:
    LdvConfig(organisation="o", service_name="s", pseudonym_key=b"k" * 16, endpoint="http://127.0.0.1:4318/v1/traces")
    LdvConfig(
        organisation="o", service_name="s", pseudonym_key=b"k" * 16, endpoint="http://logboek:4318/v1/traces",
        allow_insecure=True,
    )


def test_sender_token_from_the_environment_or_a_file_is_sent_as_bearer_and_never_shown(tmp_path: Path) -> None:
    c = build_config({**ENV, "LDV_HEADERS": "X-Org=toeslagen", "LDV_SENDER_TOKEN": "s3nder-token-from-env"})
    assert c.sender_token == "s3nder-token-from-env"
    assert c.collector_headers == {"X-Org": "toeslagen", "Authorization": "Bearer s3nder-token-from-env"}
    assert "s3nder-token" not in repr(c)
    token_file = tmp_path / "token"
    token_file.write_text("s3nder-token-from-file\n")
    from_file = build_config({**ENV, "LDV_SENDER_TOKEN": "ignored", "LDV_SENDER_TOKEN_FILE": str(token_file)})
    assert from_file.collector_headers["Authorization"] == "Bearer s3nder-token-from-file"
    assert build_config(ENV, sender_token="uit-code").collector_headers["Authorization"] == "Bearer uit-code"
    assert "Authorization" not in build_config({**ENV, "LDV_HEADERS": "X-Org=t"}).collector_headers


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({**ENV, "LDV_SENDER_TOKEN_FILE": "/nonexistent/ldv-token"}, "cannot read LDV_SENDER_TOKEN_FILE"),
        ({**ENV, "LDV_SENDER_TOKEN": "two\nlines"}, "sender_token must be a non-empty token on one line"),
    ],
)
def test_bad_sender_token_is_a_precise_error(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        build_config(env)
