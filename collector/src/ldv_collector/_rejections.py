"""Counts of rejected spans per organisation, service and rule, for the dashboards' ingest health.

A rejected span is not stored, and nothing of it is: the collector only adds one to the count of
(organisation, service name, rule) for every distinct rule the span breaks (so a span that
breaks two rules counts under both). Rule codes are the collector's own (`uri`, `clear-bsn`,
`sender-organisation`, ...), never span content, names, ids or attribute values.

- Organisation: the authenticated sender's organisation when there is one, also for a span
  refused because its resource claims another organisation (`sender-organisation`): the claim
  may be forged, the credential is not. Without senders configured: what the resource says.
- An organisation or service name that holds a BSN is stored as WITHHELD; long names are cut.

The counts are kept in memory (thread-safe) and the group-commit writer's thread stores them
with one insert (`LogStore.insert_rejection_counts`) at most every FLUSH_INTERVAL_S, and at
shutdown. Timestamp is the time of that flush. A failed flush is logged (counts only) and never
fails an export: when the store is unavailable the counts wait for the next flush; when it
refuses them (a fault a retry would not cure) they are dropped. Counts pending when the process
crashes are lost: they are diagnostics, and every sender was already told which spans were
refused and why (OTLP `partial_success`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from datetime import UTC, datetime

from ldv_logboek import contains_bsn
from ldv_logboek.storage import LogStore, StorageError, StorageUnavailable

log = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 1.0
WITHHELD = "(withheld: holds a BSN)"
MAX_NAME_CHARS = 200
# Distinct (organisation, service, rule) keys waiting at most: service names come from senders,
# so a store that is down for long must not let them grow memory without bound. A new key past
# this is counted under OVERFLOW_SERVICE of its organisation instead (so the bound is this plus
# one key per organisation and rule; organisations are the senders' when senders are configured).
MAX_PENDING_KEYS = 10_000
OVERFLOW_SERVICE = "(other services)"

Key = tuple[str, str, str]


def _safe_name(name: str) -> str:
    return WITHHELD if contains_bsn(name) else name[:MAX_NAME_CHARS]


class RejectionCounts:
    """Rejected spans counted in memory until the next flush; safe to use from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[Key, int] = {}

    def add(self, organisation: str, service: str, rules: Iterable[str]) -> None:
        """Count one rejected span under each distinct rule it breaks."""
        organisation, service = _safe_name(organisation), _safe_name(service)
        self.put_back({(organisation, service, rule): 1 for rule in set(rules)})

    def pending(self) -> int:
        """Distinct keys waiting for a flush."""
        with self._lock:
            return len(self._counts)

    def take(self) -> dict[Key, int]:
        """Everything counted since the last take, and start again from zero."""
        with self._lock:
            counts, self._counts = self._counts, {}
        return counts

    def put_back(self, counts: dict[Key, int]) -> None:
        """Add `counts` (new ones, or those a flush could not store) to what goes with the next flush."""
        with self._lock:
            for key, spans in counts.items():
                if key not in self._counts and len(self._counts) >= MAX_PENDING_KEYS:
                    key = (key[0], OVERFLOW_SERVICE, key[2])
                self._counts[key] = self._counts.get(key, 0) + spans

    def flush(self, store: LogStore) -> bool:
        """Store what is pending with one insert; False (logged, counts only) when that failed."""
        counts = self.take()
        if not counts:
            return True
        try:
            store.insert_rejection_counts(datetime.now(UTC), counts)
        except StorageError as error:  # the store maps every failure of the insert to one of these
            spans = sum(counts.values())
            if isinstance(error, StorageUnavailable):
                self.put_back(counts)
                log.warning("could not store the counts of %d rejected spans (store unavailable): kept for the next flush", spans)
            else:
                # The driver's message may quote names: the kind of failure only.
                log.warning("the store refused the counts of %d rejected spans (%s): dropped", spans, type(error).__name__)
            return False
        return True
