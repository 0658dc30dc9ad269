"""Batches: submit many jobs at once, follow their progress, stream results, cancel."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
from loguru import logger
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.batches import progress, repository
from shared.batches.models import Batch
from shared.batches.schemas import BatchCounts, BatchCreate, BatchOut, BatchResultLine, to_out
from shared.billing.budget import Owner
from shared.clock import utcnow
from shared.config import Settings
from shared.db.uow import UnitOfWork
from shared.errors import Conflict, FieldError, ValidationFailed
from shared.ids import new_id
from shared.jobs import lifecycle
from shared.jobs import repository as jobs_repository
from shared.jobs import service as jobs
from shared.jobs.events import JobEventHub
from shared.jobs.models import Job
from shared.jobs.schemas import to_out as job_out
from shared.pagination import Page, decode_cursor, page_of
from shared.webhooks.urls import check_url

RESULTS_CHUNK = 200
_FINISHED = ("completed", "canceled")
_encoder = msgspec.json.Encoder()


async def create(
    uow: UnitOfWork,
    settings: Settings,
    owner: Owner,
    data: BatchCreate,
    *,
    request_id: str | None,
    traceparent: str | None,
) -> BatchOut:
    """Record a batch and all its jobs in the caller's transaction; jobs are sent on commit.

    Raises ValidationFailed (duplicate custom_id, bad webhook_url, unknown model), NotFound
    (an item's profile unknown or not the caller's, with per-item field errors) and
    BudgetExceeded.
    """
    _check_unique_custom_ids(data)
    if data.webhook_url:
        check_url(settings, data.webhook_url, "webhook_url")
    now = utcnow()
    batch_id = new_id("batch")
    total = len(data.items)
    metadata = dict(data.metadata or {})
    await repository.insert_batch(
        uow.session,
        {
            "id": batch_id,
            "user_id": owner.user_id,
            "status": "in_progress",
            "total": total,
            "pending": total,
            "webhook_url": data.webhook_url,
            "metadata": metadata,
            "request_id": request_id,
            "created_at": now,
            "updated_at": now,
        },
    )
    # The batch's webhook_url hears about the batch, not about each of its items.
    await jobs.create(
        uow,
        settings,
        owner,
        [
            jobs.NewJob(
                profile_id=item.profile_id,
                platform=item.platform,
                topic=item.topic,
                options=item.options,
                custom_id=item.custom_id,
                field=f"items[{index}]",
            )
            for index, item in enumerate(data.items)
        ],
        jobs.Origin(
            batch_id=batch_id, metadata=metadata, request_id=request_id, traceparent=traceparent
        ),
    )
    logger.info("batch.created", batch_id=batch_id, items=total)
    return BatchOut(
        id=batch_id,
        status="in_progress",
        counts=BatchCounts(total=total, queued=total),
        metadata=metadata,
        created_at=now,
        webhook_url=data.webhook_url,
    )


def _check_unique_custom_ids(data: BatchCreate) -> None:
    seen: set[str] = set()
    duplicates = []
    for index, item in enumerate(data.items):
        if item.custom_id in seen:
            duplicates.append(
                FieldError(f"items[{index}].custom_id", "custom_id is not unique in the batch")
            )
        seen.add(item.custom_id)
    if duplicates:
        raise ValidationFailed(errors=duplicates)


async def get(session: AsyncSession, user_id: str, batch_id: str) -> BatchOut:
    """Raises NotFound."""
    return await _out(session, await repository.get_owned(session, user_id, batch_id))


async def wait(
    sessions: async_sessionmaker[AsyncSession],
    hub: JobEventHub,
    user_id: str,
    batch_id: str,
    wait_seconds: float,
) -> BatchOut:
    """Return the batch once it is finished or ``wait_seconds`` elapse (long poll).

    Holds no database connection while waiting; wakes on the batch's finished event.
    Raises NotFound.
    """

    async def read() -> BatchOut:
        async with sessions() as session:
            return await get(session, user_id, batch_id)

    return await hub.wait_for(batch_id, read, lambda batch: batch.status in _FINISHED, wait_seconds)


async def list_batches(
    session: AsyncSession, user_id: str, *, limit: int, cursor: str | None
) -> Page[BatchOut]:
    """The caller's batches, newest first, with exact counts (one grouped query per page)."""
    rows = await repository.list_owned(
        session, user_id, after_id=decode_cursor(cursor), limit=limit + 1
    )
    per_batch = await repository.counts(session, [row.id for row in rows[:limit]])
    return page_of([to_out(row, per_batch[row.id]) for row in rows], limit, "id")


async def cancel(uow: UnitOfWork, user_id: str, batch_id: str) -> BatchOut:
    """Cancel a batch's unfinished items; finished items keep their outcome.

    Raises NotFound, or Conflict if the batch is not in progress.
    """
    batch = await repository.get_owned(uow.session, user_id, batch_id)
    if batch.status != "in_progress":
        raise Conflict(f"batch is already {batch.status}")
    # Items are locked before the batch row, in the order a worker finishing one item locks
    # them (job, then batch), so a cancel and a completion cannot deadlock.
    canceled_items = await jobs_repository.cancel_batch_items(
        uow.session, batch_id, "batch canceled"
    )
    canceled = await repository.transition(
        uow.session, batch_id, from_status="in_progress", status="canceled"
    )
    if canceled is None:
        # Finished (or canceled) meanwhile; rolling back leaves the items as they were.
        raise Conflict("batch is no longer in progress")
    await lifecycle.finished(uow, canceled_items)
    # Re-read: counting the canceled items just set ``pending`` and ``finished_at``.
    batch = await repository.reload(uow.session, batch_id)
    await progress.announce(uow, batch, "batch.canceled")
    logger.info("batch.canceled", batch_id=batch_id, canceled_items=len(canceled_items))
    return await _out(uow.session, batch)


async def results(
    session: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    user_id: str,
    batch_id: str,
) -> AsyncIterator[bytes]:
    """Check ownership now, then stream one JSON line per item from ``sessions``.

    Raises NotFound (before anything is streamed).
    """
    await repository.get_owned(session, user_id, batch_id)
    return _result_lines(sessions, batch_id)


async def _result_lines(
    sessions: async_sessionmaker[AsyncSession], batch_id: str
) -> AsyncIterator[bytes]:
    # A short session per chunk: a slow reader never holds a pooled connection.
    after_id: str | None = None
    while True:
        async with sessions() as session:
            items = await repository.items_after(
                session, batch_id, after_id=after_id, limit=RESULTS_CHUNK
            )
        if not items:
            return
        yield b"".join(_encoder.encode(_line(item)) + b"\n" for item in items)
        if len(items) < RESULTS_CHUNK:
            return
        after_id = items[-1].id


def _line(item: Job) -> BatchResultLine:
    out = job_out(item)
    return BatchResultLine(
        custom_id=out.custom_id,
        job_id=out.id,
        status=out.status,
        result=out.result,
        error=out.error,
    )


async def _out(session: AsyncSession, batch: Batch) -> BatchOut:
    per_batch = await repository.counts(session, [batch.id])
    return to_out(batch, per_batch[batch.id])
