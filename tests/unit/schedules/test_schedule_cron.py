"""Cron occurrences across DST changes, stored as UTC, and the misfire policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import islice, pairwise
from zoneinfo import ZoneInfo

import pytest

from shared.schedules.cron import (
    MAX_CATCH_UP_STEPS,
    MAX_RECORDED_MISSES,
    CronError,
    catch_up,
    expand,
    next_after,
    occurrences,
    zone,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
GRACE = timedelta(minutes=5)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def local(tz: ZoneInfo, text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=tz)


def firings(expr: str, tz: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """Firing times in [start, end), as local wall-clock times."""
    result = []
    for instant in occurrences(expr, tz, start - timedelta(seconds=1)):
        if instant >= end:
            return result
        assert instant.tzinfo is UTC
        result.append(instant.astimezone(tz))
    return result


@pytest.mark.parametrize(
    ("tz", "day"),
    [(BERLIN, "2025-03-30"), (NEW_YORK, "2025-03-09")],
)
def test_daily_job_in_the_skipped_hour_runs_once_when_the_clock_resumes(
    tz: ZoneInfo, day: str
) -> None:
    start = local(tz, f"{day}T00:00")
    fired = firings("30 2 * * *", tz, start, start + timedelta(days=1))

    assert [t.strftime("%H:%M") for t in fired] == ["03:00"]
    # The day after, it is back at 02:30 (in summer time).
    after = next_after("30 2 * * *", tz, fired[0].astimezone(UTC))
    assert after is not None
    assert after.astimezone(tz).strftime("%d %H:%M") == f"{int(day[-2:]) + 1:02d} 02:30"


def test_hourly_job_skips_the_missing_hour() -> None:
    start = local(BERLIN, "2025-03-30T00:00")
    fired = firings("0 * * * *", BERLIN, start, local(BERLIN, "2025-03-30T05:00"))

    assert [t.strftime("%H:%M") for t in fired] == ["00:00", "01:00", "03:00", "04:00"]
    # Real-time hours apart: the 01:00 → 03:00 step is one hour, not two.
    assert fired[2].astimezone(UTC) - fired[1].astimezone(UTC) == timedelta(hours=1)


@pytest.mark.parametrize(
    ("tz", "expr", "day", "expected_utc"),
    [
        (NEW_YORK, "30 1 * * *", "2025-11-02", "2025-11-02T05:30"),
        (BERLIN, "30 2 * * *", "2025-10-26", "2025-10-26T00:30"),
    ],
)
def test_daily_job_in_the_repeated_hour_runs_once(
    tz: ZoneInfo, expr: str, day: str, expected_utc: str
) -> None:
    start = local(tz, f"{day}T00:00")
    fired = firings(expr, tz, start, start + timedelta(hours=25))

    assert [t.astimezone(UTC) for t in fired] == [utc(expected_utc)]


def test_interval_job_runs_every_30_real_minutes_through_the_repeated_hour() -> None:
    start = local(NEW_YORK, "2025-11-02T00:30")
    fired = firings("*/30 * * * *", NEW_YORK, start, start.astimezone(UTC) + timedelta(hours=4))

    as_utc = [t.astimezone(UTC) for t in fired]
    assert len(as_utc) == 8
    assert all(b - a == timedelta(minutes=30) for a, b in pairwise(as_utc))
    # 01:00 and 01:30 local happen twice, once in EDT and once in EST.
    assert [t.strftime("%H:%M%z") for t in fired[1:5]] == [
        "01:00-0400",
        "01:30-0400",
        "01:00-0500",
        "01:30-0500",
    ]


def test_start_inside_the_repeated_hour_never_goes_back_in_time() -> None:
    # 06:00Z is 01:00 EST, the second 01:00; the 01:30 EDT firing (05:30Z) is already past.
    after = utc("2025-11-02T06:00")
    upcoming = list(islice(occurrences("30 1 * * *", NEW_YORK, after), 2))

    assert upcoming == [utc("2025-11-03T06:30"), utc("2025-11-04T06:30")]


def test_results_are_utc_instants_of_the_local_time() -> None:
    winter = next_after("0 9 * * 1-5", BERLIN, utc("2025-01-06T00:00"))
    summer = next_after("0 9 * * 1-5", BERLIN, utc("2025-07-07T00:00"))

    assert winter == utc("2025-01-06T08:00")
    assert summer == utc("2025-07-07T07:00")
    assert winter is not None
    assert winter.tzinfo is UTC


@pytest.mark.parametrize(
    "expr",
    ["0 0 * * * *", "0 0 0 * * * 2025", "@reboot", "61 * * * *", "* * *", "nonsense", "@often"],
)
def test_invalid_or_non_standard_expressions_are_refused(expr: str) -> None:
    with pytest.raises(CronError):
        expand(expr)


def test_nicknames_stand_for_their_five_fields() -> None:
    assert expand("@daily") == "0 0 * * *"
    assert expand("@HOURLY") == "0 * * * *"
    assert expand(" */5  * * * 1-5 ") == "*/5 * * * 1-5"


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(CronError):
        zone("Mars/Olympus_Mons")
    with pytest.raises(CronError):
        zone("../../etc/passwd")
    assert zone("Europe/Berlin") == BERLIN


def test_catch_up_on_time_runs_and_schedules_the_next() -> None:
    due = utc("2025-06-01T10:00")
    owed = catch_up("*/10 * * * *", ZoneInfo("UTC"), due, due + timedelta(seconds=2), GRACE)

    assert owed.run == due
    assert owed.missed == ()
    assert owed.missed_count == 0
    assert owed.next_run_at == utc("2025-06-01T10:10")


def test_catch_up_runs_the_latest_within_grace_and_misses_the_older() -> None:
    due = utc("2025-06-01T09:00")
    now = utc("2025-06-01T10:03")  # the 10:00 firing is 3 minutes late
    owed = catch_up("*/10 * * * *", ZoneInfo("UTC"), due, now, GRACE)

    assert owed.run == utc("2025-06-01T10:00")
    assert owed.missed == tuple(utc(f"2025-06-01T09:{m:02d}") for m in range(0, 60, 10))
    assert owed.missed_count == 6
    assert owed.next_run_at == utc("2025-06-01T10:10")


def test_catch_up_misses_everything_when_the_latest_is_past_grace() -> None:
    due = utc("2025-06-01T09:00")
    now = utc("2025-06-01T10:07")  # the 10:00 firing is 7 minutes late
    owed = catch_up("*/10 * * * *", ZoneInfo("UTC"), due, now, GRACE)

    assert owed.run is None
    assert owed.missed_count == 7
    assert owed.missed[-1] == utc("2025-06-01T10:00")
    assert owed.next_run_at == utc("2025-06-01T10:10")


def test_catch_up_records_only_the_most_recent_misses_but_counts_all() -> None:
    due = utc("2025-06-01T00:00")
    now = utc("2025-06-01T05:00:30")
    owed = catch_up("* * * * *", ZoneInfo("UTC"), due, now, GRACE)

    assert owed.run == utc("2025-06-01T05:00")
    assert owed.missed_count == 300
    assert len(owed.missed) == MAX_RECORDED_MISSES
    assert owed.missed[-1] == utc("2025-06-01T04:59")


def test_catch_up_far_behind_resumes_over_several_passes() -> None:
    due = utc("2024-01-01T00:00")
    now = utc("2025-01-01T00:00:30")
    owed = catch_up("* * * * *", ZoneInfo("UTC"), due, now, GRACE)

    assert owed.run is None
    assert owed.missed_count == MAX_CATCH_UP_STEPS
    assert owed.next_run_at == due + timedelta(minutes=MAX_CATCH_UP_STEPS)


def test_one_shot_runs_within_grace_else_is_missed() -> None:
    due = utc("2025-06-01T10:00")
    on_time = catch_up(None, ZoneInfo("UTC"), due, due + timedelta(minutes=4), GRACE)
    late = catch_up(None, ZoneInfo("UTC"), due, due + timedelta(minutes=6), GRACE)

    assert (on_time.run, on_time.missed_count, on_time.next_run_at) == (due, 0, None)
    assert (late.run, late.missed, late.missed_count, late.next_run_at) == (None, (due,), 1, None)
