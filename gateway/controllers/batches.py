"""Batches: submit (202), read with long poll, list, stream results, cancel."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.dependencies import PageCursor, PageLimit, gateway_state, request_id_of
from gateway.idempotency import IdempotencyKey, created
from gateway.openapi import PROBLEMS
from gateway.rate_limits import SUBMISSION
from shared import errors
from shared.auth.principal import Principal
from shared.batches import service
from shared.batches.schemas import BatchCreate, BatchOut
from shared.db.uow import UnitOfWork
from shared.jobs.schemas import MAX_WAIT_SECONDS
from shared.observability.tracing import current_traceparent
from shared.pagination import DEFAULT_LIMIT, Page

READ = {"scope": "batches:read"}
WRITE = {"scope": "batches:write"}
# Creation also spends the caller's submission rate limit (SUBMIT_RATE_LIMITS).
SUBMIT = {**WRITE, SUBMISSION: True, PROBLEMS: (errors.BudgetExceeded,)}
# 1000 items with long topics do not fit the default body limit.
MAX_BATCH_BODY = 8 * 1024 * 1024


class BatchController(Controller):
    path = "/batches"
    tags = ["batches"]
    security = [{"BearerAuth": []}]

    @post(
        opt=SUBMIT,
        status_code=202,
        request_max_body_size=MAX_BATCH_BODY,
        summary="Submit a batch of up to 1000 generation jobs",
    )
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[BatchCreate],
        uow: NamedDependency[UnitOfWork],
        principal: NamedDependency[Principal],
        state: State,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[BatchOut]:
        """Accept a batch. Errors: 404 item profile, 422, 402, 409 idempotency_conflict."""

        async def submit() -> BatchOut:
            return await service.create(
                uow,
                gateway_state(state).settings,
                principal.owner,
                data,
                request_id=request_id_of(request),
                traceparent=current_traceparent(),
            )

        return await created(request, uow, principal, idempotency_key, data, submit)

    @get("/{batch_id:str}", opt=READ, summary="Get a batch; ?wait=N holds until it finishes")
    async def get_batch(
        self,
        batch_id: FromPath[str],
        principal: NamedDependency[Principal],
        uow: NamedDependency[UnitOfWork],
        session: NamedDependency[AsyncSession],
        state: State,
        wait: Annotated[float, QueryParameter(ge=0, le=MAX_WAIT_SECONDS)] = 0,
    ) -> BatchOut:
        """The batch with exact counts. Errors: 404 not_found."""
        if wait <= 0:
            return await service.get(session, principal.user_id, batch_id)
        # A long poll must not hold a pooled connection while it waits.
        await uow.commit()
        gateway = gateway_state(state)
        return await service.wait(
            gateway.db.sessions, gateway.job_events, principal.user_id, batch_id, wait
        )

    @get(opt=READ, summary="List your batches, newest first")
    async def list_batches(
        self,
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        limit: PageLimit = DEFAULT_LIMIT,
        cursor: PageCursor = None,
    ) -> Page[BatchOut]:
        """Your batches with exact counts, newest first."""
        return await service.list_batches(session, principal.user_id, limit=limit, cursor=cursor)

    @get(
        "/{batch_id:str}/results",
        opt=READ,
        media_type="application/x-ndjson",
        summary="Stream the batch's items as JSON Lines",
        description="One line per item: {custom_id, job_id, status, result?, error?}.",
    )
    async def results(
        self,
        batch_id: FromPath[str],
        principal: NamedDependency[Principal],
        session: NamedDependency[AsyncSession],
        state: State,
    ) -> Stream:
        """Errors: 404 not_found, answered before anything is streamed."""
        lines = await service.results(
            session, gateway_state(state).db.read_sessions, principal.user_id, batch_id
        )
        return Stream(lines, media_type="application/x-ndjson")

    @post(
        "/{batch_id:str}/cancel",
        opt=WRITE,
        status_code=200,
        summary="Cancel a batch's unfinished items",
    )
    async def cancel(
        self,
        batch_id: FromPath[str],
        uow: NamedDependency[UnitOfWork],
        principal: NamedDependency[Principal],
    ) -> BatchOut:
        """Errors: 404 not_found, 409 conflict when the batch is no longer in progress."""
        return await service.cancel(uow, principal.user_id, batch_id)
