"""ldv_logboek: the shared core of the LDV suite (record model, attribute names, rules).

The storage layer lives in `ldv_logboek.storage` and needs the `store` extra
(clickhouse-connect and chDB); everything else here is pure Python so the SDK can use it.
"""

from ldv_logboek.errors import LdvError
from ldv_logboek.pseudonym import is_bsn, pseudonymise
from ldv_logboek.record import Event, Link, LogRecord, Status
from ldv_logboek.validation import Violation, check_record

__all__ = ["Event", "LdvError", "Link", "LogRecord", "Status", "Violation", "check_record", "is_bsn", "pseudonymise"]
