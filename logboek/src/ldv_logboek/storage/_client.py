"""One factory for the ClickHouse client, embedded (chDB) or server, same SQL either way."""

from __future__ import annotations

import errno
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import OperationalError

from ldv_logboek.errors import StorageFault, StorageUnavailable

# ClickHouse error codes that mean "not now": the server or its network is overloaded,
# out of memory or disk, timed out or lost a connection; the same statement may succeed
# later. Every other code (syntax, unknown table or column, types, access rights) is a fault.
TRANSIENT_ERROR_CODES = frozenset({
    3,  # UNEXPECTED_END_OF_FILE
    32,  # ATTEMPT_TO_READ_AFTER_EOF
    159,  # TIMEOUT_EXCEEDED
    160,  # TOO_SLOW
    173,  # CANNOT_ALLOCATE_MEMORY
    198,  # DNS_ERROR
    201,  # QUOTA_EXCEEDED
    202,  # TOO_MANY_SIMULTANEOUS_QUERIES
    203,  # NO_FREE_CONNECTION
    209,  # SOCKET_TIMEOUT
    210,  # NETWORK_ERROR
    225,  # NO_ZOOKEEPER
    236,  # ABORTED
    241,  # MEMORY_LIMIT_EXCEEDED
    242,  # TABLE_IS_READ_ONLY (a replica that lost its coordinator)
    243,  # NOT_ENOUGH_SPACE
    252,  # TOO_MANY_PARTS (merges lag behind inserts)
    279,  # ALL_CONNECTION_TRIES_FAILED
    285,  # TOO_FEW_LIVE_REPLICAS
    319,  # UNKNOWN_STATUS_OF_INSERT
    394,  # QUERY_WAS_CANCELLED
    425,  # SYSTEM_ERROR
    439,  # CANNOT_SCHEDULE_TASK
    999,  # KEEPER_EXCEPTION
    1000,  # POCO_EXCEPTION (network)
})
_CODE_IN_MESSAGE = re.compile(r"\bCode:\s*(\d+)")


def error_code(exc: BaseException) -> int | None:
    """The ClickHouse error code of a driver exception, when it has one.

    clickhouse-connect sets `code` on its errors (also on chDB's, which it wraps); an error
    that reached us unwrapped (chDB's own exception types) carries it in its text.
    """
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return code
    match = _CODE_IN_MESSAGE.search(str(exc))
    return int(match.group(1)) if match else None


# How a full disk shows: ClickHouse's NOT_ENOUGH_SPACE (243: it reserves room for a part before
# writing it), or the operating system's ENOSPC when a write runs out of room anyway (then
# ClickHouse reports a write error, with another code, quoting errno 28).
_OUT_OF_SPACE = ("NOT_ENOUGH_SPACE", "No space left on device", "errno: 28,")


def out_of_space(exc: BaseException) -> bool:
    """True when driver exception `exc` says the store's disk is full (a retry after space is freed succeeds)."""
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return True
    text = str(exc)
    return error_code(exc) == 243 or any(marker in text for marker in _OUT_OF_SPACE)


def storage_error(exc: BaseException, what: str) -> StorageUnavailable | StorageFault:
    """The exception to raise for driver exception `exc` while doing `what` (e.g. "insert of 5 records").

    Unavailable (retry later): a connection that failed or was lost (clickhouse-connect's
    OperationalError, an OSError from the network), the codes in TRANSIENT_ERROR_CODES and a
    full disk (`out_of_space`), whatever code it came with.
    Everything else is a fault: ClickHouse's other codes, and errors without a code from
    turning our data into the wire format (clickhouse-connect's DataError, ProgrammingError).
    """
    if isinstance(exc, (StorageUnavailable, StorageFault)):
        return exc
    code = error_code(exc)
    message = f"{what} failed: {type(exc).__name__}: {exc}"
    if isinstance(exc, (OperationalError, OSError)) or code in TRANSIENT_ERROR_CODES or out_of_space(exc):
        return StorageUnavailable(message)
    return StorageFault(message, code=code)


@contextmanager
def storage_errors(what: str) -> Iterator[None]:
    """Raise what `storage_error` makes of any exception in the block: the one place the driver's
    many exception types become StorageUnavailable or StorageFault (httpx's `map_exceptions` is the model)."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - the driver raises many types: classified here
        raise storage_error(exc, what) from exc


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
        # At start a store that cannot be opened is one to wait for, whatever the driver says.
        raise StorageUnavailable(f"cannot open the store at {redact(dsn)}: {exc}") from exc


def redact(dsn: str) -> str:
    """The DSN without its password, for logs and error messages."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


def embedded_path(client: Client) -> str | None:
    """The data directory of an embedded chDB `client`; None for a server or an in-memory engine.

    Other connections on that directory (readers) share the client's engine: chDB hosts one
    engine per process and any number of connections to it.
    """
    # By name: clickhouse-connect keeps its chDB client in a private module.
    path = getattr(client, "path", None)
    if type(client).__name__ != "ChdbClient" or not isinstance(path, str) or path.startswith(("file:", ":memory:")):
        return None
    return path or None
