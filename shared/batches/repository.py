"""All SQL for batches, including reads of their items (jobs) by batch."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.batches.models import Batch
from shared.clock import utcnow
from shared.errors import NotFound
from shared.jobs.models import Job


async def insert_batch(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(insert(Batch).values(**values))


async def get_owned(session: AsyncSession, user_id: str, batch_id: str) -> Batch:
    """Raises NotFound for unknown ids and for other users' batches alike."""
    batch = await session.scalar(
        select(Batch).where(Batch.id == batch_id, Batch.user_id == user_id)
    )
    if batch is None:
        raise NotFound("batch not found")
    return batch


async def reload(session: AsyncSession, batch_id: str) -> Batch:
    """Read the batch again, replacing what this session already holds."""
    batch = await session.scalar(
        select(Batch).where(Batch.id == batch_id).execution_options(populate_existing=True)
    )
    if batch is None:
        raise NotFound("batch not found")
    return batch


async def list_owned(
    session: AsyncSession, user_id: str, *, after_id: str | None, limit: int
) -> Sequence[Batch]:
    query = select(Batch).where(Batch.user_id == user_id)
    if after_id:
        query = query.where(Batch.id < after_id)
    return (await session.scalars(query.order_by(Batch.id.desc()).limit(limit))).all()


async def counts(session: AsyncSession, batch_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    """Per batch, how many of its jobs are in each status (one grouped query)."""
    per_batch: defaultdict[str, dict[str, int]] = defaultdict(dict)
    if not batch_ids:
        return per_batch
    rows = await session.execute(
        select(Job.batch_id, Job.status, func.count())
        .where(Job.batch_id.in_(list(batch_ids)))
        .group_by(Job.batch_id, Job.status)
    )
    for batch_id, status, count in rows:
        per_batch[str(batch_id)][status] = count
    return per_batch


async def count_finished(session: AsyncSession, batch_id: str, finished: int) -> Batch | None:
    """Subtract ``finished`` items from ``pending``; complete the batch when none are left.

    One UPDATE under the row lock: concurrent completions queue up behind each other, so no
    decrement is lost and exactly one of them brings ``pending`` to zero.
    """
    now = utcnow()
    left = Batch.pending - finished
    result = await session.execute(
        update(Batch)
        .where(Batch.id == batch_id)
        .values(
            pending=left,
            status=case(
                ((left == 0) & (Batch.status == "in_progress"), "completed"),
                else_=Batch.status,
            ),
            finished_at=case(
                (left == 0, func.coalesce(Batch.finished_at, now)), else_=Batch.finished_at
            ),
            updated_at=now,
        )
        .returning(Batch)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return result.scalar_one_or_none()


async def transition(
    session: AsyncSession, batch_id: str, *, from_status: str, **values: Any
) -> Batch | None:
    """Change a batch only if it is in ``from_status``; return it, or None if it was not."""
    values.setdefault("updated_at", utcnow())
    result = await session.execute(
        update(Batch)
        .where(Batch.id == batch_id, Batch.status == from_status)
        .values(**values)
        .returning(Batch)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return result.scalar_one_or_none()


async def items_after(
    session: AsyncSession, batch_id: str, *, after_id: str | None, limit: int
) -> Sequence[Job]:
    """The batch's jobs in id order, ``limit`` at a time (for streaming results)."""
    query = select(Job).where(Job.batch_id == batch_id)
    if after_id:
        query = query.where(Job.id > after_id)
    return (await session.scalars(query.order_by(Job.id).limit(limit))).all()
