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

# ClickHouse's own mapping (src/Server/HTTP/exceptionCodeToHTTPStatus.cpp), by code.
# UNKNOWN_USER, WRONG_PASSWORD, ACCESS_DENIED, SET_NON_GRANTED_ROLE, AUTHENTICATION_FAILED
_FORBIDDEN = {192, 193, 497, 512, 516}
# Parse and syntax errors, BAD_ARGUMENTS, TYPE_MISMATCH, AST limits ...
_BAD_REQUEST = {6, 8, 15, 25, 26, 27, 36, 37, 38, 41, 44, 53, 62, 72, 117, 123, 167, 168, 223, 321, 376, 427, 441, 675, 676}  # fmt: skip
# UNKNOWN_FUNCTION, _IDENTIFIER, _TYPE, _STORAGE, _TABLE, _AGGREGATE_FUNCTION, _FORMAT, _TYPE_OF_QUERY, _DATABASE, ...
_NOT_FOUND = {46, 47, 50, 56, 60, 63, 73, 78, 81, 115, 152, 336, 511}
_STATUS_BY_CODE = {
    194: 401,  # REQUIRED_PASSWORD
    229: 413,  # QUERY_IS_TOO_LARGE
    48: 501,  # NOT_IMPLEMENTED
    209: 503,  # SOCKET_TIMEOUT
    76: 503,  # CANNOT_OPEN_FILE
    381: 411,  # HTTP_LENGTH_REQUIRED
    159: 408,  # TIMEOUT_EXCEEDED
    439: 503,  # CANNOT_SCHEDULE_TASK
    779: 415,  # UNSUPPORTED_MEDIA_TYPE
    # Where this endpoint departs from ClickHouse (which answers 500): these are refusals of the
    # request, and a refusal is never a 5xx here.
    164: 403,  # READONLY: a write, DDL, SET, SYSTEM or outside-data table function
    396: 400,  # TOO_MANY_ROWS_OR_BYTES: the result is over the row or byte cap
    158: 400,  # TOO_MANY_ROWS
    307: 400,  # TOO_MANY_BYTES
    241: 400,  # MEMORY_LIMIT_EXCEEDED: over the per-query memory cap
    456: 400,  # UNKNOWN_QUERY_PARAMETER: a {name:Type} placeholder without its param_name
    457: 400,  # BAD_QUERY_PARAMETER
    # Found by fuzzing (fuzz/crashes/clickhouse_endpoint): a function called with the wrong
    # number or types of arguments is the query's fault, not the server's.
    42: 400,  # NUMBER_OF_ARGUMENTS_DOESNT_MATCH
    43: 400,  # ILLEGAL_TYPE_OF_ARGUMENT
}

_CODE_RE = re.compile(r"Code: (\d+)\. ")


def http_status(code: int) -> int:
    """The HTTP status for exception `code` (ClickHouse's mapping; refusals stay 4xx)."""
    if code in _STATUS_BY_CODE:
        return _STATUS_BY_CODE[code]
    if code in _FORBIDDEN:
        return 403
    if code in _BAD_REQUEST:
        return 400
    if code in _NOT_FOUND:
        return 404
    return 500


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
