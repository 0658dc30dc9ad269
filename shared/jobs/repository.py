"""All SQL for jobs. State changes are conditional updates, so terminal states never move."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.clock import utcnow
from shared.errors import NotFound
from shared.jobs.models import ACTIVE_STATUSES, Job
from shared.profiles.models import Profile


async def get_owned(session: AsyncSession, user_id: str, job_id: str) -> Job:
    """Raises NotFound for unknown ids and for other users' jobs alike."""
    job = await session.scalar(select(Job).where(Job.id == job_id, Job.user_id == user_id))
    if job is None:
        raise NotFound("job not found")
    return job


async def insert_for_profile(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Insert a job only if its profile belongs to its user; False when it does not.

    ``INSERT … SELECT FROM profiles`` checks ownership and inserts in one round trip, on the
    busiest endpoint; the ORM unit of work is skipped for the same reason.
    """
    columns = Job.__table__.c
    row = select(
        *(literal(value, columns[name].type).label(name) for name, value in values.items())
    )
    owned = row.where(
        Profile.id == values["profile_id"], Profile.user_id == values["user_id"]
    ).select_from(Profile)
    result = await session.execute(insert(Job).from_select(list(values), owned).returning(Job.id))
    return result.scalar_one_or_none() is not None


async def owned_profile_ids(
    session: AsyncSession, user_id: str, profile_ids: Iterable[str]
) -> set[str]:
    """Which of ``profile_ids`` exist and belong to ``user_id``."""
    rows = await session.scalars(
        select(Profile.id).where(Profile.user_id == user_id, Profile.id.in_(list(profile_ids)))
    )
    return set(rows)


async def insert_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Insert jobs whose profiles were checked already (one executemany round trip)."""
    # Core insert: ``rows`` use column names (``metadata``), like insert_for_profile.
    await session.execute(insert(Job.metadata.tables[Job.__tablename__]), list(rows))


async def list_owned(
    session: AsyncSession,
    user_id: str,
    *,
    status: str | None,
    batch_id: str | None,
    schedule_id: str | None,
    after_id: str | None,
    limit: int,
) -> Sequence[Job]:
    query = select(Job).where(Job.user_id == user_id)
    if status:
        query = query.where(Job.status == status)
    if batch_id:
        query = query.where(Job.batch_id == batch_id)
    if schedule_id:
        query = query.where(Job.schedule_id == schedule_id)
    if after_id:
        query = query.where(Job.id < after_id)
    return (await session.scalars(query.order_by(Job.id.desc()).limit(limit))).all()


async def transition(
    session: AsyncSession, job_id: str, *, from_statuses: Sequence[str], **values: Any
) -> Job | None:
    """Move a job only if it is in one of ``from_statuses``; return it, or None if it was not.

    This is the one way job state changes: a conditional UPDATE, so a late worker result can
    never overwrite a cancel, and a terminal job never changes again.
    """
    values.setdefault("updated_at", utcnow())
    result = await session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status.in_(from_statuses))
        .values(**values)
        .returning(Job)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return result.scalar_one_or_none()


async def claim(
    session: AsyncSession, job_id: str, *, worker_id: str, lease: timedelta
) -> Job | None:
    """Start an attempt: a queued job, or a running one whose lease ran out, moves to running
    under ``worker_id``'s lease. None when the job is terminal or another worker holds it.

    A stale re-delivery of a job another worker runs therefore finds nothing to claim.
    """
    now = utcnow()
    result = await session.execute(
        update(Job)
        .where(
            Job.id == job_id,
            or_(
                Job.status == "queued",
                and_(Job.status == "running", Job.lease_expires_at < now),
            ),
        )
        .values(
            status="running",
            attempts=Job.attempts + 1,
            started_at=func.coalesce(Job.started_at, now),
            leased_by=worker_id,
            lease_expires_at=now + lease,
            updated_at=now,
        )
        .returning(Job)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return result.scalar_one_or_none()


async def renew_lease(
    session: AsyncSession, job_id: str, *, worker_id: str, lease: timedelta
) -> bool:
    """Extend the lease while ``worker_id`` still runs the job; False once it does not."""
    renewed = await session.scalar(
        update(Job)
        .where(Job.id == job_id, Job.status == "running", Job.leased_by == worker_id)
        .values(lease_expires_at=utcnow() + lease)
        .returning(Job.id)
    )
    return renewed is not None


async def lock_lost(session: AsyncSession, *, now: datetime, limit: int) -> Sequence[Job]:
    """Running jobs whose lease expired (their worker died), locked for this transaction;
    ``SKIP LOCKED`` keeps concurrent sweeps apart."""
    return (
        await session.scalars(
            select(Job)
            .where(Job.status == "running", Job.lease_expires_at < now)
            .order_by(Job.lease_expires_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()


async def lock_queued_before(
    session: AsyncSession, *, before: datetime, limit: int
) -> Sequence[Job]:
    """Jobs queued and untouched since ``before``, locked for this transaction (SKIP LOCKED)."""
    return (
        await session.scalars(
            select(Job)
            .where(Job.status == "queued", Job.updated_at < before)
            .order_by(Job.updated_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()


async def touch(session: AsyncSession, job_ids: Sequence[str]) -> None:
    """Mark jobs as just handled, so a sweep leaves them alone for a while."""
    await session.execute(update(Job).where(Job.id.in_(job_ids)).values(updated_at=utcnow()))


async def count_active_by_status(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        select(Job.status, func.count()).where(Job.status.in_(ACTIVE_STATUSES)).group_by(Job.status)
    )
    counts = dict.fromkeys(ACTIVE_STATUSES, 0)
    counts.update({status: count for status, count in rows})
    return counts


def finished_now() -> dict[str, datetime]:
    now = utcnow()
    return {"finished_at": now, "updated_at": now}


async def cancel_batch_items(session: AsyncSession, batch_id: str, message: str) -> Sequence[Job]:
    """Cancel every unfinished job of a batch at once; return the jobs that were canceled."""
    result = await session.execute(
        update(Job)
        .where(Job.batch_id == batch_id, Job.status.in_(ACTIVE_STATUSES))
        .values(status="canceled", error_code="canceled", error_message=message, **finished_now())
        .returning(Job)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return result.scalars().all()
