"""ClickHouse-shaped errors: an exception code, its name, an HTTP status, a `Code: N. DB::Exception:` body.

Clients tell an error by the status and the `X-ClickHouse-Exception-Code` header, and show
the body (clickhouse-connect raises with it; Grafana's plugin classes a body containing
`DB::Exception` or a 4xx status as the user's error, not the plugin's).
"""

from __future__ import annotations

import re

from ldv_inzicht.errors import InzichtError

# Exception codes and names as ClickHouse numbers them (`errorCodeToName()` in the engine).
BAD_ARGUMENTS = 36
UNKNOWN_TABLE = 60
SYNTAX_ERROR = 62
TIMEOUT_EXCEEDED = 159
READONLY = 164
QUERY_IS_TOO_LARGE = 229
MEMORY_LIMIT_EXCEEDED = 241
TOO_MANY_ROWS_OR_BYTES = 396
ACCESS_DENIED = 497
AUTHENTICATION_FAILED = 516
UNSUPPORTED_MEDIA_TYPE = 779

_NAMES = {
    BAD_ARGUMENTS: "BAD_ARGUMENTS",
    UNKNOWN_TABLE: "UNKNOWN_TABLE",
    SYNTAX_ERROR: "SYNTAX_ERROR",
    TIMEOUT_EXCEEDED: "TIMEOUT_EXCEEDED",
    READONLY: "READONLY",
    QUERY_IS_TOO_LARGE: "QUERY_IS_TOO_LARGE",
    MEMORY_LIMIT_EXCEEDED: "MEMORY_LIMIT_EXCEEDED",
    TOO_MANY_ROWS_OR_BYTES: "TOO_MANY_ROWS_OR_BYTES",
    ACCESS_DENIED: "ACCESS_DENIED",
    AUTHENTICATION_FAILED: "AUTHENTICATION_FAILED",
    UNSUPPORTED_MEDIA_TYPE: "UNSUPPORTED_MEDIA_TYPE",
}

# ClickHouse's own mapping (src/Server/HTTP/exceptionCodeToHTTPStatus.cpp) for the codes it
# gives a 4xx, except that everything else a query raises is a 4xx here too: a query's error is
# the user's fault (a type, an argument, a bad value, a format that cannot be written, FINAL or
# PREWHERE where the engine cannot do them ...), and a 5xx only says the server failed.
# UNKNOWN_USER, WRONG_PASSWORD, ACCESS_DENIED, SET_NON_GRANTED_ROLE, AUTHENTICATION_FAILED
_FORBIDDEN = {192, 193, 497, 512, 516}
# UNKNOWN_FUNCTION, _IDENTIFIER, _TYPE, _STORAGE, _TABLE, _AGGREGATE_FUNCTION, _FORMAT, _TYPE_OF_QUERY, _DATABASE, ...
_NOT_FOUND = {46, 47, 50, 56, 60, 63, 73, 78, 81, 115, 152, 336, 511}
# The server's own faults, by the engine's code: the store cannot be read or written, memory or
# disk ran out, a bug (LOGICAL_ERROR), an exception without a ClickHouse code (1000-1002).
_SERVER_FAULTS = {
    3,  # UNEXPECTED_END_OF_FILE (of a data file)
    40,  # CHECKSUM_DOESNT_MATCH
    49,  # LOGICAL_ERROR
    74,  # CANNOT_READ_FROM_FILE_DESCRIPTOR
    75,  # CANNOT_WRITE_TO_FILE_DESCRIPTOR
    107,  # FILE_DOESNT_EXIST
    173,  # CANNOT_ALLOCATE_MEMORY
    236,  # ABORTED
    242,  # TABLE_IS_READ_ONLY
    243,  # NOT_ENOUGH_SPACE
    246,  # CORRUPTED_DATA
    252,  # TOO_MANY_PARTS
    271,  # CANNOT_DECOMPRESS
    999,  # KEEPER_EXCEPTION
    1000,  # POCO_EXCEPTION
    1001,  # STD_EXCEPTION
    1002,  # UNKNOWN_EXCEPTION
}
_STATUS_BY_CODE = {
    **dict.fromkeys(_FORBIDDEN, 403),
    **dict.fromkeys(_NOT_FOUND, 404),
    **dict.fromkeys(_SERVER_FAULTS, 500),
    194: 401,  # REQUIRED_PASSWORD
    229: 413,  # QUERY_IS_TOO_LARGE
    381: 411,  # HTTP_LENGTH_REQUIRED
    159: 408,  # TIMEOUT_EXCEEDED
    779: 415,  # UNSUPPORTED_MEDIA_TYPE
    # The server cannot take the query now: retry later.
    76: 503,  # CANNOT_OPEN_FILE
    202: 503,  # TOO_MANY_SIMULTANEOUS_QUERIES
    209: 503,  # SOCKET_TIMEOUT
    210: 503,  # NETWORK_ERROR
    394: 503,  # QUERY_WAS_CANCELLED (the endpoint is stopping)
    439: 503,  # CANNOT_SCHEDULE_TASK
    # Refusals of the request (ClickHouse answers 500): never a 5xx here.
    164: 403,  # READONLY: a write, DDL, SET, SYSTEM or outside-data table function
}

_CODE_RE = re.compile(r"Code: (\d+)\. ")


def http_status(code: int) -> int:
    """The HTTP status for exception `code`: 5xx only for the server's own faults, 4xx for the query's."""
    return _STATUS_BY_CODE.get(code, 400)


class ClickHouseError(InzichtError):
    """An error to answer the way ClickHouse does; `message` is the text after `DB::Exception: `."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def status(self) -> int:
        return http_status(self.code)

    def body(self) -> bytes:
        """`Code: N. DB::Exception: <message> (NAME)`, as ClickHouse writes it."""
        text = (
            self.message if self.message.startswith("Code: ") else f"Code: {self.code}. DB::Exception: {self.message}"
        )
        name = _NAMES.get(self.code)
        if name and f"({name})" not in text:
            text = f"{text} ({name})"
        return (text.rstrip() + "\n").encode()

    @classmethod
    def from_engine(cls, exc: BaseException) -> ClickHouseError:
        """The engine's own exception (chDB raises with ClickHouse's `Code: N. DB::Exception: ...` text)."""
        text = str(exc)
        match = _CODE_RE.search(text)
        if match is None:
            return cls(1001, f"Code: 1001. DB::Exception: {text} (STD_EXCEPTION)")
        # chDB sometimes nests the same message twice ("Code: 164. DB::Exception: Code: 164. ..."): keep the inner one.
        start = match.start()
        inner = _CODE_RE.search(text, match.end())
        if inner is not None and inner.group(1) == match.group(1):
            start = inner.start()
        return cls(int(match.group(1)), text[start:].strip())
