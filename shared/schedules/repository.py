"""All SQL for schedules and their firings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import NotFound
from shared.schedules.models import Schedule, ScheduleFiring


async def get_owned(
    session: AsyncSession, user_id: str, schedule_id: str, *, for_update: bool = False
) -> Schedule:
    """Raises NotFound for unknown ids and for other users' schedules alike.

    ``for_update`` locks the row, so a change and a concurrent firing take turns.
    """
    query = select(Schedule).where(Schedule.id == schedule_id, Schedule.user_id == user_id)
    if for_update:
        query = query.with_for_update()
    schedule = await session.scalar(query)
    if schedule is None:
        raise NotFound("schedule not found")
    return schedule


async def list_owned(
    session: AsyncSession, user_id: str, *, after_id: str | None, limit: int
) -> Sequence[Schedule]:
    query = select(Schedule).where(Schedule.user_id == user_id)
    if after_id:
        query = query.where(Schedule.id < after_id)
    return (await session.scalars(query.order_by(Schedule.id.desc()).limit(limit))).all()


async def delete_schedule(session: AsyncSession, schedule_id: str) -> None:
    """Delete a schedule and (by cascade) its firings; its jobs stay."""
    await session.execute(delete(Schedule).where(Schedule.id == schedule_id))


async def lock_due(session: AsyncSession, now: datetime, limit: int) -> Sequence[Schedule]:
    """Lock up to ``limit`` enabled schedules due at ``now``, oldest due first.

    SKIP LOCKED: schedules another worker (or a PATCH) holds are left to it, so concurrent
    firing loops share the due set instead of queueing on each other.
    """
    query = (
        select(Schedule)
        .where(Schedule.enabled, Schedule.next_run_at.is_not(None), Schedule.next_run_at <= now)
        .order_by(Schedule.next_run_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (await session.scalars(query)).all()


async def claim_firing(session: AsyncSession, schedule_id: str, scheduled_for: datetime) -> bool:
    """Record the firing as ``fired``; False if it was recorded already (it must not run)."""
    result = await session.execute(
        insert(ScheduleFiring)
        .values(schedule_id=schedule_id, scheduled_for=scheduled_for, status="fired")
        .on_conflict_do_nothing()
        .returning(ScheduleFiring.schedule_id)
    )
    return result.scalar_one_or_none() is not None


async def settle_firing(
    session: AsyncSession,
    schedule_id: str,
    scheduled_for: datetime,
    *,
    status: str,
    job_id: str | None = None,
    detail: str | None = None,
) -> None:
    """Set what came of a claimed firing: its job, or why it was refused."""
    await session.execute(
        update(ScheduleFiring)
        .where(
            ScheduleFiring.schedule_id == schedule_id,
            ScheduleFiring.scheduled_for == scheduled_for,
        )
        .values(status=status, job_id=job_id, detail=detail)
    )


async def record_missed(session: AsyncSession, schedule_id: str, times: Sequence[datetime]) -> None:
    """Record skipped firings (one round trip); ones recorded already are left alone."""
    await session.execute(
        insert(ScheduleFiring)
        .values(
            [{"schedule_id": schedule_id, "scheduled_for": at, "status": "missed"} for at in times]
        )
        .on_conflict_do_nothing()
    )


async def list_firings(
    session: AsyncSession, schedule_id: str, *, before: datetime | None, limit: int
) -> Sequence[ScheduleFiring]:
    """Newest first; the primary key (schedule_id, scheduled_for) serves the order."""
    query = select(ScheduleFiring).where(ScheduleFiring.schedule_id == schedule_id)
    if before is not None:
        query = query.where(ScheduleFiring.scheduled_for < before)
    return (
        await session.scalars(query.order_by(ScheduleFiring.scheduled_for.desc()).limit(limit))
    ).all()
