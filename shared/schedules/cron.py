"""Time computations for schedules: cron occurrences in a time zone, and what a late run owes.

Cron expressions are evaluated by ``cronsim`` in the schedule's zone with Debian cron's DST
rules: a job at a fixed local time (minute and hour both fixed) that falls into the hour
skipped in spring runs when the clock resumes (02:30 → 03:00), and one that falls into the
hour repeated in autumn runs once; jobs with a ``*`` minute or hour run at real-time
intervals, through the repeated hour too. Everything leaving this module is aware UTC.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

# The nicknames of Vixie/Debian cron, as the five fields they stand for. ``@reboot`` has no
# place in a schedule and is refused with the other unknown words.
NICKNAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
CRON_FIELDS = 5
# Individually recorded missed firings per catch-up; the count covers all of them.
MAX_RECORDED_MISSES = 100
# Occurrences one catch-up walks through: a schedule that was down for a year with a
# per-minute cron catches up over several runs instead of blowing the task's timeout.
MAX_CATCH_UP_STEPS = 10_000


class CronError(ValueError):
    """A cron expression or time zone that cannot be used; the message says why."""


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``. Raises CronError."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CronError("unknown time zone; use an IANA name such as Europe/Berlin") from None


def expand(expr: str) -> str:
    """The five fields ``expr`` stands for (nicknames expanded). Raises CronError."""
    text = " ".join(expr.split())
    if text.startswith("@"):
        fields = NICKNAMES.get(text.lower())
        if fields is None:
            raise CronError(f"unsupported nickname; use one of {', '.join(NICKNAMES)}")
        return fields
    if len(text.split()) != CRON_FIELDS:
        raise CronError("must have exactly 5 fields: minute hour day-of-month month day-of-week")
    try:
        CronSim(text, datetime(2000, 1, 1, tzinfo=UTC))
    except CronSimError as error:
        raise CronError(str(error)) from None
    return text


def occurrences(expr: str, tz: ZoneInfo, after: datetime) -> Iterator[datetime]:
    """The firing times of ``expr`` in ``tz`` strictly after ``after``, as increasing UTC.

    ``expr`` must have passed :func:`expand`. Ends when cron finds no match for 50 years.
    """
    # cronsim evaluates fixed-time jobs on naive wall-clock time, so a start inside the
    # repeated autumn hour can yield the earlier instance of that hour again: skip anything
    # not after the last instant returned.
    last = after
    for local in CronSim(expand(expr), after.astimezone(tz)):
        instant = local.astimezone(UTC)
        if instant > last:
            last = instant
            yield instant


def next_after(expr: str, tz: ZoneInfo, after: datetime) -> datetime | None:
    """The first firing strictly after ``after`` (UTC), or None if there is none."""
    return next(occurrences(expr, tz, after), None)


@dataclass(frozen=True, slots=True)
class CatchUp:
    """What a due schedule owes at ``now``: at most one run, and the firings it missed."""

    run: datetime | None
    missed: tuple[datetime, ...]  # the most recent ones, oldest first
    missed_count: int
    next_run_at: datetime | None


def catch_up(
    expr: str | None, tz: ZoneInfo, due: datetime, now: datetime, grace: timedelta
) -> CatchUp:
    """Apply the misfire policy to a schedule due at ``due`` (``expr`` None: one-shot).

    Every firing time from ``due`` up to ``now`` is owed. The latest one runs if it is at
    most ``grace`` late; all others (and the latest too, when it is later than that) are
    missed. The next run is the first firing strictly after ``now``; a one-shot has none.
    """
    if expr is None:
        if now - due <= grace:
            return CatchUp(run=due, missed=(), missed_count=0, next_run_at=None)
        return CatchUp(run=None, missed=(due,), missed_count=1, next_run_at=None)
    owed: deque[datetime] = deque([due], maxlen=MAX_RECORDED_MISSES + 1)
    count = 1
    next_run_at = None
    for instant in occurrences(expr, tz, due):
        if instant > now:
            next_run_at = instant
            break
        if count == MAX_CATCH_UP_STEPS:
            # Too far behind for one pass: count these as missed and resume from here, still
            # due, on the next pass. Individual records are kept for the final pass only.
            return CatchUp(run=None, missed=(), missed_count=count, next_run_at=instant)
        owed.append(instant)
        count += 1
    if now - owed[-1] <= grace:
        run = owed.pop()
        return CatchUp(run=run, missed=tuple(owed), missed_count=count - 1, next_run_at=next_run_at)
    return CatchUp(
        run=None,
        missed=tuple(owed)[-MAX_RECORDED_MISSES:],
        missed_count=count,
        next_run_at=next_run_at,
    )
