"""Confidential activities: `hidden_windows` says exactly what `hidden_from_subject` says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ldv_logboek.register import ActivityVersion, LegalBasis, ProcessingActivity, Register

ACTIVITY = "https://register.example/processing-activities/onderzoek"
ORG = "https://register.example/organisations/dienst"


def version(number: int, year: int, *, confidential: bool = False, until: datetime | None = None) -> ActivityVersion:
    return ActivityVersion(
        version=number,
        valid_from=datetime(year, 1, 1, tzinfo=UTC),
        name=f"onderzoek v{number}",
        purpose="Onderzoek.",
        legal_basis=(LegalBasis(dpv="LegalObligation", law="Wet"),),
        controller=ORG,
        confidential=confidential,
        confidential_until=until,
    )


ACTIVITIES = {
    "never": ProcessingActivity(id=ACTIVITY, versions=(version(1, 2020), version(2, 2022))),
    "always": ProcessingActivity(id=ACTIVITY, versions=(version(1, 2020, confidential=True),)),
    "middle-version": ProcessingActivity(
        id=ACTIVITY, versions=(version(1, 2020), version(2, 2021, confidential=True), version(3, 2023))
    ),
    "until-2024": ProcessingActivity(
        id=ACTIVITY,
        versions=(version(1, 2020), version(2, 2021, confidential=True, until=datetime(2024, 6, 1, tzinfo=UTC))),
    ),
    "latest-confidential-ended": ProcessingActivity(
        id=ACTIVITY,
        versions=(version(1, 2020), version(2, 2022, confidential=True)),
        ended_at=datetime(2023, 3, 1, tzinfo=UTC),
    ),
}
NOWS = [datetime(2021, 6, 1, tzinfo=UTC), datetime(2023, 6, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)]


def _inside(moment: datetime, windows: list[tuple[datetime | None, datetime | None]]) -> bool:
    return any((s is None or s <= moment) and (e is None or moment < e) for s, e in windows)


def _probes(activity: ProcessingActivity) -> list[datetime]:
    """Moments around every boundary where the answer could change, and far away."""
    moments = [v.valid_from for v in activity.versions] + ([activity.ended_at] if activity.ended_at else [])
    tick = timedelta(microseconds=1)
    probes = [datetime(1990, 1, 1, tzinfo=UTC), datetime(2090, 1, 1, tzinfo=UTC)]
    for m in moments:
        probes += [m - tick, m, m + tick, m + timedelta(days=100)]
    return probes


@pytest.mark.parametrize("name", list(ACTIVITIES))
@pytest.mark.parametrize("now", NOWS, ids=lambda d: d.date().isoformat())
def test_windows_agree_with_hidden_from_subject(name: str, now: datetime) -> None:
    activity = ACTIVITIES[name]
    windows = activity.hidden_windows(now)
    for moment in _probes(activity):
        assert _inside(moment, windows) == activity.hidden_from_subject(moment, now), (name, now, moment, windows)


def test_windows_are_merged_and_open_where_unbounded() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert ACTIVITIES["never"].hidden_windows(now) == []
    assert ACTIVITIES["always"].hidden_windows(now) == [(None, None)]
    v2, v3 = ACTIVITIES["middle-version"].versions[1:]
    assert ACTIVITIES["middle-version"].hidden_windows(now) == [(v2.valid_from, v3.valid_from)]
    assert ACTIVITIES["until-2024"].hidden_windows(now) == []  # confidentiality lifted


def test_register_level_answers() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    register = Register(activities={ACTIVITY: ACTIVITIES["middle-version"]})
    assert register.hidden_windows(now) == [(ACTIVITY, *ACTIVITIES["middle-version"].hidden_windows(now)[0])]
    assert register.hidden_from_subject(ACTIVITY, datetime(2021, 5, 1, tzinfo=UTC), now)
    assert not register.hidden_from_subject(ACTIVITY, datetime(2020, 5, 1, tzinfo=UTC), now)
    # Activities the register does not know are not hidden (the inzage shows them, flagged).
    assert not register.hidden_from_subject("https://register.example/unknown", datetime(2021, 5, 1, tzinfo=UTC), now)
