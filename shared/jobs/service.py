"""Generation jobs: accept, list, wait for and cancel them (the gateway side)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.billing import budget
from shared.clock import utcnow
from shared.config import Settings
from shared.db.uow import UnitOfWork
from shared.errors import Conflict, FieldError, NotFound, ValidationFailed
from shared.ids import new_id
from shared.jobs import lifecycle, repository
from shared.jobs.events import JobEventHub
from shared.jobs.models import ACTIVE_STATUSES, TERMINAL_STATUSES
from shared.jobs.schemas import JobCreate, JobOptions, JobOut, to_out
from shared.pagination import Page, decode_cursor, page_of
from shared.queue.tasks import GENERATION_RUN, GenerationPayload
from shared.style import Platform
from shared.webhooks.urls import check_url


class NewJob(msgspec.Struct, frozen=True, kw_only=True):
    """One job to create; ``field`` names it in validation errors (e.g. ``items[3]``)."""

    profile_id: str
    platform: Platform
    topic: str
    options: JobOptions | None = None
    custom_id: str | None = None
    field: str = ""


class Origin(msgspec.Struct, frozen=True, kw_only=True):
    """Where jobs come from: their batch or schedule, webhook, metadata and trace context."""

    batch_id: str | None = None
    schedule_id: str | None = None
    webhook_url: str | None = None
    metadata: dict[str, Any] | None = None
    request_id: str | None = None
    traceparent: str | None = None


async def submit(
    uow: UnitOfWork,
    settings: Settings,
    owner: budget.Owner,
    data: JobCreate,
    *,
    request_id: str | None,
    traceparent: str | None,
) -> JobOut:
    """Record one job and send it to the workers once committed.

    Raises NotFound (profile unknown or not the caller's), ValidationFailed (model unknown)
    and BudgetExceeded.
    """
    (job,) = await create(
        uow,
        settings,
        owner,
        [
            NewJob(
                profile_id=data.profile_id,
                platform=data.platform,
                topic=data.topic,
                options=data.options,
                field="",
            )
        ],
        Origin(
            webhook_url=data.webhook_url,
            metadata=data.metadata,
            request_id=request_id,
            traceparent=traceparent,
        ),
    )
    return job


async def create(
    uow: UnitOfWork,
    settings: Settings,
    owner: budget.Owner,
    specs: Sequence[NewJob],
    origin: Origin,
) -> list[JobOut]:
    """Validate, reserve budget for, record and enqueue ``specs`` in the caller's transaction.

    Every job is sent to the workers after the commit, through the outbox.
    Raises ValidationFailed (unknown model), NotFound (a profile unknown or not the user's)
    and BudgetExceeded.
    """
    if origin.webhook_url:
        check_url(settings, origin.webhook_url, "webhook_url")
    user_id = owner.user_id
    rows = [_row(settings, user_id, spec, origin) for spec in specs]
    await budget.reserve(uow.session, owner, [row["reserved_usd"] for row in rows])
    if len(rows) == 1:
        # The busiest path: ownership check and insert in one statement.
        if not await repository.insert_for_profile(uow.session, rows[0]):
            raise NotFound("profile not found")
    else:
        wanted = {spec.profile_id for spec in specs}
        owned = await repository.owned_profile_ids(uow.session, user_id, wanted)
        missing = [
            FieldError(f"{spec.field}.profile_id", "profile not found")
            for spec in specs
            if spec.profile_id not in owned
        ]
        if missing:
            raise NotFound("profile not found", errors=missing)
        await repository.insert_many(uow.session, rows)
    for row in rows:
        uow.enqueue(
            GENERATION_RUN,
            row["id"],
            GenerationPayload(
                job_id=row["id"], request_id=origin.request_id, traceparent=origin.traceparent
            ),
        )
    return [_out(row) for row in rows]


def _row(settings: Settings, user_id: str, spec: NewJob, origin: Origin) -> dict[str, Any]:
    options: dict[str, Any] = msgspec.to_builtins(spec.options) if spec.options else {}
    model = options.get("model")
    if problem := model_problem(settings, model):
        field = f"{spec.field}.options.model" if spec.field else "options.model"
        raise ValidationFailed(errors=[FieldError(field, problem)])
    now = utcnow()
    reserved: Decimal = budget.estimate(settings, model or settings.openai_model, spec.platform)
    return {
        "id": new_id("job"),
        "user_id": user_id,
        "profile_id": spec.profile_id,
        "platform": spec.platform,
        "topic": spec.topic,
        "options": options,
        "metadata": origin.metadata or {},
        "status": "queued",
        "attempts": 0,
        "batch_id": origin.batch_id,
        "custom_id": spec.custom_id,
        "schedule_id": origin.schedule_id,
        "webhook_url": origin.webhook_url,
        "reserved_usd": reserved,
        "request_id": origin.request_id,
        "traceparent": origin.traceparent,
        "created_at": now,
        "updated_at": now,
    }


def _out(row: dict[str, Any]) -> JobOut:
    return JobOut(
        id=row["id"],
        status="queued",
        profile_id=row["profile_id"],
        platform=row["platform"],
        topic=row["topic"],
        options=row["options"],
        metadata=row["metadata"],
        attempts=0,
        created_at=row["created_at"],
        batch_id=row["batch_id"],
        custom_id=row["custom_id"],
        schedule_id=row["schedule_id"],
        webhook_url=row["webhook_url"],
    )


def model_problem(settings: Settings, model: str | None) -> str | None:
    """Why a job may not ask for ``model``; None if it may (None = the default model)."""
    if model is None or model in settings.selectable_models:
        return None
    return f"unknown model; known: {', '.join(sorted(settings.selectable_models))}"


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

    async def read() -> JobOut:
        async with sessions() as session:
            return await get(session, user_id, job_id)

    return await hub.wait_for(
        job_id, read, lambda job: job.status in TERMINAL_STATUSES, wait_seconds
    )


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
    await lifecycle.finished(uow, [canceled])
    return to_out(canceled)
