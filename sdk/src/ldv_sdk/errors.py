"""Exceptions the SDK raises into host code, and only in the cases documented here.

    LdvError                     (ldv_logboek.errors) every exception the suite raises on purpose
    ├── ConfigurationError       `configure()` or an `LDV_*` variable was given something unusable (at start)
    ├── ProcessingReentered      one processing entered twice; open the declaration again (also a RuntimeError)
    ├── SpoolClosed              a record was written to a closed spool (reaches host code as LoggingFailed)
    └── LoggingFailed            a processing could not be logged durably (failure policy `closed`)
        └── SpoolFull            the spool holds `spool_max_records` records and the full policy is `fail`
            └── SpoolDiskFull    the spool's disk is full (raised under either failure policy)

`ldv_sdk.LdvError` is the core's `LdvError`: `except ldv_sdk.LdvError` catches every one of these.
"""

from __future__ import annotations

from ldv_logboek import LdvError

__all__ = [
    "ConfigurationError",
    "LdvError",
    "LoggingFailed",
    "ProcessingReentered",
    "SpoolClosed",
    "SpoolDiskFull",
    "SpoolFull",
]


class ConfigurationError(LdvError):
    """`configure()` or the `LDV_*` environment variables were given something unusable.

    Raised at configuration time (service start), never in the middle of a processing.
    """


class ProcessingReentered(LdvError, RuntimeError):
    """A processing (one entry of a declaration) was entered a second time: a bug in the calling code.

    A RuntimeError too, as Python's own "used twice" errors are.
    """


class LoggingFailed(LdvError):
    """A processing could not be logged durably and the failure policy is `closed`.

    Under the default `open` policy the SDK logs a warning instead and the processing goes on.
    """


class SpoolFull(LoggingFailed):
    """The local spool holds `spool_max_records` records and the full policy is `fail`."""


class SpoolDiskFull(SpoolFull):
    """The spool's disk has no room for the record: at once (`spool_disk_full_policy=fail`) or after
    waiting `spool_disk_full_wait` seconds for space (`block`).

    Raised into the host code under either failure policy: logging is part of the processing,
    and a record that cannot be kept anywhere must not look logged. Records written before stay
    in the spool and are delivered as usual.
    """


class SpoolClosed(LdvError):
    """The spool was closed (the SDK was shut down or configured anew) while a record was written to it.

    Raised by the spool; a processing turns it into `LoggingFailed` (policy `closed`) or a warning.
    """
