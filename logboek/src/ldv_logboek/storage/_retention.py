"""How long the store keeps a record: its `RetentionDays`, decided once, at insert.

Precedence, first that applies:

1. the register: the `retentionPeriod` (ISO 8601 duration) of the version of the record's
   processing activity in force at the record's time;
2. the record's organisation (`dpl.suite.organisation`): `LogStore(retention_by_organisation=...)`;
3. the store's default (`LDV_SERVE_RETENTION_DAYS`, `LogStore(retention_days=...)`).

A period counts from the record's time on the calendar (years and months as ClickHouse's
`addYears`/`addMonths` count them, so `P7Y` from 29 February ends on 28 February), rounded up
to whole days so a record is never removed before its period ends, and held within what the
column takes (1 to 65,535 days, about 179 years).

A record whose retention has already ended when it arrives (`retention_ended`: its own time
plus its RetentionDays lies before the Logboek's clock, or within `RETENTION_MARGIN_NS` of it)
is refused by the collector with the rule `retention-passed` (ldv_logboek.rules), never
acknowledged: the store's TTL would delete it as it is written, so acknowledging it would
report a record stored that is not. Retention is the profile's, counted from the record's own
time (the standard's times are the processing's), so such a record is not kept longer instead:
a service whose clock is years behind sees its records refused, with the reason, in the OTLP
partial success, and they are counted per rule in the rejections table.
"""

from __future__ import annotations

import bisect
import calendar
import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from ldv_logboek import attributes as attr
from ldv_logboek.register._models import Register

MAX_RETENTION_DAYS = 65_535  # RetentionDays is a UInt16
_NS_PER_DAY = 86_400 * 1_000_000_000
# A record whose retention ends within this of its arrival is refused too: it would be deleted
# before anyone could read it, and the insert follows the check by up to a few seconds.
RETENTION_MARGIN_NS = 60 * 1_000_000_000
_DURATION = re.compile(
    r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _add_months(moment: datetime, months: int) -> datetime:
    """`moment` plus whole months; a day past the target month's end becomes its last day."""
    total = moment.month - 1 + months
    year, month = moment.year + total // 12, total % 12 + 1
    if year > 9999:
        return datetime.max.replace(tzinfo=UTC)
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def period_days(period: str, start_ns: int) -> int | None:
    """Whole days from `start_ns` to the end of the ISO 8601 `period` counted from it, rounded up
    and held within 1..MAX_RETENTION_DAYS; None for an empty or unreadable period."""
    match = _DURATION.fullmatch(period) if period else None
    if match is None:
        return None
    years, months, weeks, days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    start = _EPOCH + timedelta(microseconds=start_ns // 1000)
    end = _add_months(start, 12 * years + months)
    try:
        end += timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError:
        return MAX_RETENTION_DAYS
    whole = math.ceil((end - start) / timedelta(days=1))
    return max(1, min(MAX_RETENTION_DAYS, whole))


class Retention:
    """RetentionDays for records, by the precedence in the module docstring."""

    __slots__ = ("_by_day", "_by_organisation", "_default", "_periods")

    def __init__(self, default_days: int, by_organisation: Mapping[str, int] | None, register: Register) -> None:
        self._default = default_days
        self._by_organisation = dict(by_organisation or {})
        # Per activity: its versions' start times (ns), their periods, and when it ended (ns or None).
        self._periods: dict[str, tuple[list[int], list[str], int | None]] = {}
        for activity_id, activity in register.activities.items():
            if not any(v.retention_period for v in activity.versions):
                continue
            starts = [_ns(v.valid_from) for v in activity.versions]
            ended = _ns(activity.ended_at) if activity.ended_at is not None else None
            self._periods[activity_id] = (starts, [v.retention_period for v in activity.versions], ended)
        # (period, day of the record) -> days: the records of one insert nearly all share both.
        self._by_day: dict[tuple[str, int], int | None] = {}

    def days_for(self, organisation: str, activity_id: str, start_ns: int) -> int:
        """RetentionDays of a record of `organisation` and `activity_id` made at `start_ns`."""
        # The retention period of the activity's version in force at `start_ns` ('' for none).
        period = ""
        if (known := self._periods.get(activity_id)) is not None:
            starts, periods, ended = known
            index = bisect.bisect_right(starts, start_ns) - 1
            if index >= 0 and (ended is None or start_ns < ended):
                period = periods[index]
        if period:
            key = (period, start_ns // _NS_PER_DAY)
            try:
                found = self._by_day[key]
            except KeyError:
                # Counted from the day's start: within a day a calendar period ends a day apart at most,
                # and rounding up from the day's start never ends it early for any time of that day.
                found = period_days(period, key[1] * _NS_PER_DAY)
                found = None if found is None else min(MAX_RETENTION_DAYS, found + 1)
                if len(self._by_day) > 4096:
                    self._by_day.clear()
                self._by_day[key] = found
            if found is not None:
                return found
        return self._by_organisation.get(organisation, self._default)

    def days_of_rows(self, rows: pa.Table, starts: Sequence[int]) -> list[int]:
        """RetentionDays of each row of a rows table (`ldv_logboek.storage._arrow_insert.ROWS_SCHEMA`),
        whose start times are `starts`: the rule of `days_for`, read from the columns."""
        organisations = pc.map_lookup(rows.column("ResourceAttributes"), attr.ORGANISATION, "last")
        if not self._periods:
            # No activity has a period: the organisation decides, one lookup per distinct one.
            distinct = {o: self._by_organisation.get(o or "", self._default) for o in pc.unique(organisations).to_pylist()}
            if len(distinct) == 1:
                return [next(iter(distinct.values()))] * rows.num_rows
            return [distinct[o] for o in organisations.to_pylist()]
        activities = pc.map_lookup(rows.column("SpanAttributes"), attr.PROCESSING_ACTIVITY_ID, "last").to_pylist()
        return [
            self.days_for(o or "", a or "", s) for o, a, s in zip(organisations.to_pylist(), activities, starts)
        ]


def _ns(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


def may_have_ended(starts: Sequence[int], now_ns: int) -> list[int]:
    """Indices of the records (start times `starts`, ns) whose retention may have ended at
    `now_ns`: those older than a day plus the margin (a retention is at least one day)."""
    oldest_kept = now_ns - _NS_PER_DAY - RETENTION_MARGIN_NS
    return [i for i, start in enumerate(starts) if start < oldest_kept]


def retention_ended(starts: Sequence[int], days: Sequence[int], now_ns: int) -> list[bool]:
    """For each record (start time ns, RetentionDays): whether its retention ends before `now_ns`
    plus RETENTION_MARGIN_NS, as the store's TTL counts it (`toDateTime(Timestamp) +
    toIntervalDay(RetentionDays)`: whole seconds, then days)."""
    limit = now_ns + RETENTION_MARGIN_NS
    return [(start // 1_000_000_000) * 1_000_000_000 + d * _NS_PER_DAY <= limit for start, d in zip(starts, days, strict=True)]

