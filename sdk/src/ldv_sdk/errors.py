"""Exceptions the SDK raises into host code, and only in the cases documented here."""

from __future__ import annotations


class LdvError(Exception):
    """Base class of every exception the SDK raises."""


class ConfigurationError(LdvError):
    """`configure()` or the `LDV_*` environment variables were given something unusable.

    Raised at configuration time (service start), never in the middle of a processing.
    """


class LoggingFailed(LdvError):
    """A processing could not be logged durably and the failure policy is `closed`.

    Under the default `open` policy the SDK logs a warning instead and the processing goes on.
    """


class SpoolFull(LoggingFailed):
    """The local spool holds `spool_max_records` records and the full policy is `fail`."""
