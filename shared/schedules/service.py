"""Schedules: one-shot and recurring job submissions, and the loop that fires them.

A schedule has exactly one trigger: ``run_at`` (one instant) or ``cron`` (evaluated in its
``timezone``). ``next_run_at`` is the next firing in UTC, or null while the schedule is paused
or done. Firing happens in the workers (:func:`fire_due`), in one transaction per pass:
due schedules are locked with SKIP LOCKED and each firing is a row keyed by
``(schedule_id, scheduled_for)``, so a firing creates exactly one job however many workers
run the loop.

Misfire policy: when a schedule is found late (workers down, paused...), every firing time
from ``next_run_at`` up to now is owed; only the latest runs, and only if it is at most
``SCHEDULE_MISFIRE_GRACE`` late. The others are recorded as ``missed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import msgspec
from loguru import logger
from sqlalchemy.ext.asyncio import AsyncSession

from shared.billing import budget
from shared.clock import utcnow
from shared.config import Settings
from shared.db.uow import UnitOfWork
from shared.errors import BudgetExceeded, FieldError, NotFound, ValidationFailed
from shared.ids import new_id
from shared.jobs import service as jobs
from shared.jobs.schemas import JobOptions
from shared.pagination import Page, decode_cursor, encode_cursor, page_of
from shared.profiles import repository as profiles
from shared.schedules import cron, repository
from shared.schedules.models import Schedule
from shared.schedules.schemas import (
    ScheduleCreate,
    ScheduleFiringOut,
    ScheduleOut,
    ScheduleUpdate,
    firing_out,
    to_out,
)
from shared.webhooks.urls import url_problem

# Schedules one firing pass takes; the rest wait for the next pass, two seconds later.
FIRE_BATCH = 100
ONE_TRIGGER = "give exactly one of run_at and cron"
ONE_TOPIC = "give exactly one of topic and topics"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Trigger:
    cron: str | None
    run_at: datetime | None
    timezone: str
    next_run_at: datetime | None


async def create(
    session: AsyncSession, settings: Settings, user_id: str, data: ScheduleCreate
) -> ScheduleOut:
    """Record a schedule. Raises ValidationFailed, and NotFound for a profile not the user's."""
    errors: list[FieldError] = []
    topics = _topics(data.topics, data.topic, errors)
    trigger = _trigger(data.cron, data.run_at, data.timezone, utcnow(), errors)
    _check_delivery(settings, data.options, data.webhook_url, errors)
    if errors:
        raise ValidationFailed(errors=errors)
    assert trigger is not None  # noqa: S101 - no errors means a trigger
    await profiles.get_owned(session, user_id, data.profile_id)
    now = utcnow()
    schedule = Schedule(
        id=new_id("sch"),
        user_id=user_id,
        profile_id=data.profile_id,
        platform=data.platform,
        topics=topics,
        options=_options(data.options),
        meta=data.metadata or {},
        cron=trigger.cron,
        run_at=trigger.run_at,
        timezone=trigger.timezone,
        webhook_url=data.webhook_url,
        enabled=data.enabled,
        next_run_at=trigger.next_run_at if data.enabled else None,
        last_run_at=None,
        fired_count=0,
        missed_count=0,
        created_at=now,
        updated_at=now,
    )
    session.add(schedule)
    await session.flush()
    return to_out(schedule)


async def get(session: AsyncSession, user_id: str, schedule_id: str) -> ScheduleOut:
    """Raises NotFound."""
    return to_out(await repository.get_owned(session, user_id, schedule_id))


async def list_schedules(
    session: AsyncSession, user_id: str, *, limit: int, cursor: str | None
) -> Page[ScheduleOut]:
    """The user's schedules, newest first. Raises ValidationFailed for a bad cursor."""
    rows = await repository.list_owned(
        session, user_id, after_id=decode_cursor(cursor), limit=limit + 1
    )
    return page_of([to_out(row) for row in rows], limit, "id")


async def update(
    session: AsyncSession,
    settings: Settings,
    user_id: str,
    schedule_id: str,
    data: ScheduleUpdate,
) -> ScheduleOut:
    """Change, pause or resume a schedule. Raises NotFound and ValidationFailed.

    Pausing clears ``next_run_at``; resuming, or changing the trigger or time zone,
    recomputes it from now.
    """
    schedule = await repository.get_owned(session, user_id, schedule_id, for_update=True)
    errors: list[FieldError] = []
    unset = msgspec.UNSET
    new_topics = None
    if data.topics is not unset or data.topic is not unset:
        new_topics = _topics(_given(data.topics), _given(data.topic), errors)
    options, webhook_url = _given(data.options), _given(data.webhook_url)
    _check_delivery(settings, options, webhook_url, errors)
    enabled = schedule.enabled if data.enabled is unset else data.enabled
    retimed = data.cron is not unset or data.run_at is not unset or data.timezone is not unset
    trigger = None
    if retimed or (enabled and not schedule.enabled):
        if data.cron is unset and data.run_at is unset:
            cron_expr, run_at = schedule.cron, schedule.run_at
        else:
            # Either field replaces the trigger as a whole.
            cron_expr, run_at = _given(data.cron), _given(data.run_at)
        timezone = schedule.timezone if data.timezone is unset else data.timezone
        trigger = _trigger(cron_expr, run_at, timezone, utcnow(), errors)
    if errors:
        raise ValidationFailed(errors=errors)
    if new_topics is not None:
        schedule.topics = new_topics
    if data.options is not unset:
        schedule.options = _options(options)
    if data.webhook_url is not unset:
        schedule.webhook_url = webhook_url
    if data.metadata is not unset:
        schedule.meta = dict(data.metadata or {})
    if trigger is not None:
        schedule.cron, schedule.run_at = trigger.cron, trigger.run_at
        schedule.timezone, schedule.next_run_at = trigger.timezone, trigger.next_run_at
    if not enabled:
        schedule.next_run_at = None
    schedule.enabled = enabled
    schedule.updated_at = utcnow()
    await session.flush()
    return to_out(schedule)


async def delete(session: AsyncSession, user_id: str, schedule_id: str) -> None:
    """Delete a schedule and its firing history; the jobs it created stay. Raises NotFound."""
    schedule = await repository.get_owned(session, user_id, schedule_id)
    await repository.delete_schedule(session, schedule.id)


async def list_firings(
    session: AsyncSession, user_id: str, schedule_id: str, *, limit: int, cursor: str | None
) -> Page[ScheduleFiringOut]:
    """A schedule's firings, newest first. Raises NotFound and ValidationFailed (cursor)."""
    schedule = await repository.get_owned(session, user_id, schedule_id)
    rows = await repository.list_firings(
        session, schedule.id, before=_firing_cursor(cursor), limit=limit + 1
    )
    items = [firing_out(row) for row in rows]
    has_more = len(items) > limit
    items = items[:limit]
    next_cursor = (
        encode_cursor(items[-1].scheduled_for.astimezone(UTC).isoformat())
        if has_more and items
        else None
    )
    return Page(data=items, next_cursor=next_cursor)


async def fire_due(
    uow: UnitOfWork, settings: Settings, now: datetime, *, traceparent: str | None = None
) -> int:
    """Fire the schedules due at ``now`` in ``uow``'s transaction; return the jobs created.

    Refusals (budget, deleted profile, invalid options) are recorded on the firing and do
    not stop the others.
    """
    due = await repository.lock_due(uow.session, now, FIRE_BATCH)
    created = 0
    # Job creation may lock the owner's row (budget); taking those locks in one order in
    # every worker keeps two firing passes from deadlocking on each other.
    for schedule in sorted(due, key=lambda row: row.user_id):
        created += await _fire(uow, settings, schedule, now, traceparent)
    return created


async def _fire(
    uow: UnitOfWork, settings: Settings, schedule: Schedule, now: datetime, traceparent: str | None
) -> int:
    assert schedule.next_run_at is not None  # noqa: S101 - lock_due selects due schedules
    owed = cron.catch_up(
        schedule.cron,
        cron.zone(schedule.timezone),
        schedule.next_run_at,
        now,
        timedelta(seconds=settings.schedule_misfire_grace),
    )
    if owed.missed:
        await repository.record_missed(uow.session, schedule.id, owed.missed)
    if owed.missed_count:
        logger.info("schedule.missed", schedule_id=schedule.id, count=owed.missed_count)
    created = owed.run is not None and await _run(uow, settings, schedule, owed.run, traceparent)
    schedule.missed_count += owed.missed_count
    schedule.next_run_at = owed.next_run_at
    if schedule.cron is None:
        schedule.enabled = False
    schedule.updated_at = now
    await uow.session.flush()
    return int(created)


async def _run(
    uow: UnitOfWork,
    settings: Settings,
    schedule: Schedule,
    scheduled_for: datetime,
    traceparent: str | None,
) -> bool:
    """Create the firing's job unless the firing was recorded already; True if created."""
    session = uow.session
    if not await repository.claim_firing(session, schedule.id, scheduled_for):
        return False
    spec = jobs.NewJob(
        profile_id=schedule.profile_id,
        platform=schedule.platform,  # type: ignore[arg-type]
        topic=schedule.topics[schedule.fired_count % len(schedule.topics)],
        options=msgspec.convert(schedule.options, JobOptions) if schedule.options else None,
    )
    origin = jobs.Origin(
        schedule_id=schedule.id,
        webhook_url=schedule.webhook_url,
        metadata=schedule.meta,
        traceparent=traceparent,
    )
    try:
        # A savepoint: a refused firing leaves the other schedules' firings in this pass.
        async with session.begin_nested():
            payer = await budget.owner(session, schedule.user_id)
            (job,) = await jobs.create(uow, settings, payer, [spec], origin)
    except (BudgetExceeded, NotFound, ValidationFailed) as error:
        await repository.settle_firing(
            session, schedule.id, scheduled_for, status="refused", detail=error.code
        )
        logger.warning("schedule.refused", schedule_id=schedule.id, code=error.code)
        return False
    await repository.settle_firing(
        session, schedule.id, scheduled_for, status="fired", job_id=job.id
    )
    schedule.fired_count += 1
    schedule.last_run_at = scheduled_for
    logger.info("schedule.fired", schedule_id=schedule.id, job_id=job.id)
    return True


def _topics(topics: list[str] | None, topic: str | None, errors: list[FieldError]) -> list[str]:
    if topic is not None and topics is None:
        return [topic]
    if topics is not None and topic is None:
        return topics
    errors.append(FieldError("topics", ONE_TOPIC))
    return []


def _trigger(
    cron_expr: str | None,
    run_at: datetime | None,
    timezone: str,
    now: datetime,
    errors: list[FieldError],
) -> Trigger | None:
    """Validate a trigger in ``timezone`` and find its first firing after ``now``."""
    try:
        tz = cron.zone(timezone)
    except cron.CronError as error:
        errors.append(FieldError("timezone", str(error)))
        return None
    if (cron_expr is None) == (run_at is None):
        errors.append(FieldError("run_at", ONE_TRIGGER))
        return None
    if cron_expr is not None:
        try:
            first = cron.next_after(cron_expr, tz, now)
        except cron.CronError as error:
            errors.append(FieldError("cron", str(error)))
            return None
        if first is None:
            errors.append(FieldError("cron", "never matches a date"))
            return None
        return Trigger(cron=cron_expr.strip(), run_at=None, timezone=timezone, next_run_at=first)
    assert run_at is not None  # noqa: S101 - exactly one trigger
    # Without an offset, run_at is a wall-clock time in the schedule's zone.
    instant = (run_at if run_at.tzinfo else run_at.replace(tzinfo=tz)).astimezone(UTC)
    if instant <= now:
        errors.append(FieldError("run_at", "must be in the future"))
        return None
    return Trigger(cron=None, run_at=instant, timezone=timezone, next_run_at=instant)


def _check_delivery(
    settings: Settings,
    options: JobOptions | None,
    webhook_url: str | None,
    errors: list[FieldError],
) -> None:
    """Refuse now what every firing would be refused for: an unknown model, a bad webhook."""
    if problem := jobs.model_problem(settings, options.model if options else None):
        errors.append(FieldError("options.model", problem))
    if webhook_url is not None:
        problem = url_problem(webhook_url, allow_private=settings.webhook_allow_private_networks)
        if problem:
            errors.append(FieldError("webhook_url", problem))


def _given(value: T | msgspec.UnsetType) -> T | None:
    """A PATCH field's value; None when it was left out."""
    return None if isinstance(value, msgspec.UnsetType) else value


def _options(options: JobOptions | None) -> dict[str, Any]:
    return msgspec.to_builtins(options) if options else {}


def _firing_cursor(cursor: str | None) -> datetime | None:
    value = decode_cursor(cursor)
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(errors=[FieldError("cursor", "invalid cursor")]) from None
