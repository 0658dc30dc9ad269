"""Generation jobs: submit (202), read with long poll, list, cancel."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.dependencies import PageCursor, PageLimit, gateway_state, request_id_of
from gateway.idempotency import IdempotencyKey, created
from gateway.openapi import PROBLEMS
from gateway.rate_limits import SUBMISSION
from shared import errors
from shared.auth.principal import Principal
from shared.db.uow import UnitOfWork
from shared.jobs import service
from shared.jobs.schemas import MAX_WAIT_SECONDS, JobCreate, JobOut, JobStatus
from shared.observability.tracing import current_traceparent
from shared.pagination import DEFAULT_LIMIT, Page

READ = {"scope": "jobs:read"}
WRITE = {"scope": "jobs:write"}
# Creation also spends the caller's submission rate limit (SUBMIT_RATE_LIMITS).
SUBMIT = {**WRITE, SUBMISSION: True, PROBLEMS: (errors.BudgetExceeded,)}


class JobController(Controller):
    path = "/jobs"
    tags = ["jobs"]
    security = [{"BearerAuth": []}]

    @post(opt=SUBMIT, status_code=202, summary="Submit a generation job")
    async def submit(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[JobCreate],
        uow: NamedDependency[UnitOfWork],
        principal: NamedDependency[Principal],
        state: State,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[JobOut]:
        """Accept a job. Errors: 404 profile, 422, 402 budget_exceeded, 409 idempotency_conflict."""

        async def submit() -> JobOut:
            return await service.submit(
                uow,
                gateway_state(state).settings,
                principal.owner,
                data,
                request_id=request_id_of(request),
                traceparent=current_traceparent(),
            )

        return await created(request, uow, principal, idempotency_key, data, submit)

    @get("/{job_id:str}", opt=READ, summary="Get a job; ?wait=N holds until it finishes")
    async def get_job(
        self,
        job_id: FromPath[str],
        principal: NamedDependency[Principal],
        uow: NamedDependency[UnitOfWork],
        session: NamedDependency[AsyncSession],
        state: State,
        wait: Annotated[float, QueryParameter(ge=0, le=MAX_WAIT_SECONDS)] = 0,
    ) -> JobOut:
        if wait <= 0:
            return await service.get(session, principal.user_id, job_id)
        # A long poll must not hold a pooled connection while it waits.
        await uow.commit()
        gateway = gateway_state(state)
        return await service.wait(
            gateway.db.sessions, gateway.job_events, principal.user_id, job_id, wait
        )

    @get(opt=READ, summary="List your jobs, newest first")
    async def list_jobs(
        self,
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        status: FromQuery[JobStatus | None] = None,
        batch_id: Annotated[str | None, QueryParameter(max_length=64)] = None,
        schedule_id: Annotated[str | None, QueryParameter(max_length=64)] = None,
        limit: PageLimit = DEFAULT_LIMIT,
        cursor: PageCursor = None,
    ) -> Page[JobOut]:
        return await service.list_jobs(
            session,
            principal.user_id,
            status=status,
            batch_id=batch_id,
            schedule_id=schedule_id,
            limit=limit,
            cursor=cursor,
        )

    @post("/{job_id:str}/cancel", opt=WRITE, status_code=200, summary="Cancel an unfinished job")
    async def cancel(
        self,
        job_id: FromPath[str],
        uow: NamedDependency[UnitOfWork],
        principal: NamedDependency[Principal],
    ) -> JobOut:
        return await service.cancel(uow, principal.user_id, job_id)
