"""One factory for the ClickHouse client, embedded (chDB) or server, same SQL either way."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client


class StorageUnavailable(RuntimeError):
    """The store cannot be reached or refused a write; the caller may retry later."""


def connect(dsn: str, **settings: Any) -> Client:
    """Return a clickhouse-connect client for `dsn`.

    - `chdb:///var/lib/ldv` : embedded chDB with its data in that directory (the default engine).
      chDB opens a directory from one process only: run the collector and the APIs together.
    - `http://user:password@host:8123/database` or `https://...:8443/...` : a ClickHouse server.

    Extra keyword arguments are passed to `clickhouse_connect.get_client`.
    """
    scheme = urlsplit(dsn).scheme
    if scheme not in ("chdb", "http", "https", "clickhouse", "clickhouses"):
        raise ValueError(f"unsupported storage DSN scheme {scheme!r}: use chdb:///path or http(s)://host:port")
    try:
        # get_client takes keyword arguments only.
        return clickhouse_connect.get_client(dsn=dsn, **settings)
    except Exception as exc:  # noqa: BLE001 - any driver failure means: not reachable now
        raise StorageUnavailable(f"cannot open the store at {redact(dsn)}: {exc}") from exc


def redact(dsn: str) -> str:
    """The DSN without its password, for logs and error messages."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()
