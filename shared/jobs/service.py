"""Generation jobs: accept, list, wait for and cancel them (the gateway side)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.clock import utcnow
from shared.config import Settings
from shared.db.uow import UnitOfWork
from shared.errors import Conflict, FieldError, NotFound, ValidationFailed
from shared.ids import new_id
from shared.jobs import events, repository
from shared.jobs.events import JobEventHub
from shared.jobs.models import ACTIVE_STATUSES, TERMINAL_STATUSES, Job
from shared.jobs.schemas import JobCreate, JobError, JobOut, JobResult
from shared.pagination import Page, decode_cursor, page_of
from shared.queue.tasks import GENERATION_RUN, GenerationPayload


def to_out(job: Job) -> JobOut:
    return JobOut(
        id=job.id,
        status=job.status,  # type: ignore[arg-type]
        profile_id=job.profile_id,
        platform=job.platform,
        topic=job.topic,
        options=job.options,
        metadata=job.meta,
        attempts=job.attempts,
        created_at=job.created_at,
        batch_id=job.batch_id,
        schedule_id=job.schedule_id,
        webhook_url=job.webhook_url,
        result=msgspec.convert(job.result, JobResult) if job.result else None,
        error=JobError(code=job.error_code, message=job.error_message or "")
        if job.error_code
        else None,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


async def submit(
    uow: UnitOfWork,
    settings: Settings,
    user_id: str,
    data: JobCreate,
    *,
    request_id: str | None,
    traceparent: str | None,
) -> JobOut:
    """Record the job and send it to the workers once committed.

    Raises NotFound (profile unknown or not the caller's) and ValidationFailed (model unknown).
    """
    options: dict[str, Any] = msgspec.to_builtins(data.options) if data.options else {}
    model = options.get("model")
    if model is not None and model not in settings.selectable_models:
        raise ValidationFailed(
            errors=[FieldError("options.model", f"unknown model; known: {_known(settings)}")]
        )
    job_id = new_id("job")
    now = utcnow()
    meta = data.metadata or {}
    inserted = await repository.insert_for_profile(
        uow.session,
        {
            "id": job_id,
            "user_id": user_id,
            "profile_id": data.profile_id,
            "platform": data.platform,
            "topic": data.topic,
            "options": options,
            "metadata": meta,
            "status": "queued",
            "attempts": 0,
            "webhook_url": data.webhook_url,
            "request_id": request_id,
            "traceparent": traceparent,
            "created_at": now,
            "updated_at": now,
        },
    )
    if not inserted:
        raise NotFound("profile not found")
    uow.enqueue(
        GENERATION_RUN,
        job_id,
        GenerationPayload(job_id=job_id, request_id=request_id, traceparent=traceparent),
    )
    return JobOut(
        id=job_id,
        status="queued",
        profile_id=data.profile_id,
        platform=data.platform,
        topic=data.topic,
        options=options,
        metadata=meta,
        attempts=0,
        created_at=now,
        webhook_url=data.webhook_url,
    )


def _known(settings: Settings) -> str:
    return ", ".join(sorted(settings.selectable_models))


async def get(session: AsyncSession, user_id: str, job_id: str) -> JobOut:
    """Raises NotFound."""
    return to_out(await repository.get_owned(session, user_id, job_id))


async def wait(
    sessions: async_sessionmaker[AsyncSession],
    hub: JobEventHub,
    user_id: str,
    job_id: str,
    wait_seconds: float,
) -> JobOut:
    """Return the job once it is terminal or ``wait_seconds`` elapse (long poll).

    Holds no database connection while waiting; wakes on the job's completion event.
    Raises NotFound.
    """
    with hub.waiter(job_id) as finished:
        async with sessions() as session:
            job = await repository.get_owned(session, user_id, job_id)
        if job.status in TERMINAL_STATUSES:
            return to_out(job)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(finished.wait(), wait_seconds)
    async with sessions() as session:
        return to_out(await repository.get_owned(session, user_id, job_id))


async def list_jobs(
    session: AsyncSession,
    user_id: str,
    *,
    status: str | None,
    batch_id: str | None,
    schedule_id: str | None,
    limit: int,
    cursor: str | None,
) -> Page[JobOut]:
    rows = await repository.list_owned(
        session,
        user_id,
        status=status,
        batch_id=batch_id,
        schedule_id=schedule_id,
        after_id=decode_cursor(cursor),
        limit=limit + 1,
    )
    return page_of([to_out(row) for row in rows], limit, "id")


async def cancel(uow: UnitOfWork, user_id: str, job_id: str) -> JobOut:
    """Cancel a job that has not finished. Raises NotFound, or Conflict if already terminal."""
    job = await repository.get_owned(uow.session, user_id, job_id)
    canceled = await repository.transition(
        uow.session,
        job.id,
        from_statuses=ACTIVE_STATUSES,
        status="canceled",
        error_code="canceled",
        error_message="canceled by the user",
        **repository.finished_now(),
    )
    if canceled is None:
        raise Conflict(f"job is already {job.status}")
    uow.after_commit(lambda: events.publish_finished(uow.redis, canceled.id))
    return to_out(canceled)
