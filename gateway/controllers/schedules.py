"""Schedules: create, list, read, change (pause/resume), delete, and their firings."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.dependencies import PageCursor, PageLimit, gateway_state
from gateway.idempotency import IdempotencyKey, created
from gateway.rate_limits import SUBMISSION
from shared.auth.principal import Principal
from shared.db.uow import UnitOfWork
from shared.pagination import DEFAULT_LIMIT, Page
from shared.schedules import service
from shared.schedules.schemas import (
    ScheduleCreate,
    ScheduleFiringOut,
    ScheduleOut,
    ScheduleUpdate,
)

READ = {"scope": "schedules:read"}
WRITE = {"scope": "schedules:write"}
# Creation also spends the caller's submission rate limit (SUBMIT_RATE_LIMITS).
SUBMIT = {**WRITE, SUBMISSION: True}


class ScheduleController(Controller):
    path = "/schedules"
    tags = ["schedules"]
    security = [{"BearerAuth": []}]

    @post(opt=SUBMIT, summary="Create a one-shot (run_at) or recurring (cron) schedule")
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[ScheduleCreate],
        uow: NamedDependency[UnitOfWork],
        principal: NamedDependency[Principal],
        state: State,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[ScheduleOut]:
        """Errors: 422, 404 profile, 409 idempotency_conflict."""

        async def make() -> ScheduleOut:
            return await service.create(
                uow.session, gateway_state(state).settings, principal.user_id, data
            )

        return await created(request, uow, principal, idempotency_key, data, make)

    @get(opt=READ, summary="List your schedules, newest first")
    async def list_schedules(
        self,
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        limit: PageLimit = DEFAULT_LIMIT,
        cursor: PageCursor = None,
    ) -> Page[ScheduleOut]:
        """Raises ValidationFailed (bad cursor)."""
        return await service.list_schedules(session, principal.user_id, limit=limit, cursor=cursor)

    @get("/{schedule_id:str}", opt=READ, summary="Get a schedule with its next and last run")
    async def get_schedule(
        self,
        schedule_id: FromPath[str],
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> ScheduleOut:
        """Raises NotFound."""
        return await service.get(session, principal.user_id, schedule_id)

    @patch("/{schedule_id:str}", opt=WRITE, summary="Change, pause or resume a schedule")
    async def update(
        self,
        schedule_id: FromPath[str],
        data: JSONBody[ScheduleUpdate],
        uow: NamedDependency[UnitOfWork],
        principal: NamedDependency[Principal],
        state: State,
    ) -> ScheduleOut:
        """Raises NotFound and ValidationFailed."""
        return await service.update(
            uow.session, gateway_state(state).settings, principal.user_id, schedule_id, data
        )

    @delete("/{schedule_id:str}", opt=WRITE, summary="Delete a schedule (its jobs stay)")
    async def delete_schedule(
        self,
        schedule_id: FromPath[str],
        uow: NamedDependency[UnitOfWork],
        principal: NamedDependency[Principal],
    ) -> None:
        """Raises NotFound."""
        await service.delete(uow.session, principal.user_id, schedule_id)

    @get("/{schedule_id:str}/firings", opt=READ, summary="A schedule's firings, newest first")
    async def list_firings(
        self,
        schedule_id: FromPath[str],
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        limit: PageLimit = DEFAULT_LIMIT,
        cursor: PageCursor = None,
    ) -> Page[ScheduleFiringOut]:
        """Raises NotFound and ValidationFailed (bad cursor)."""
        return await service.list_firings(
            session, principal.user_id, schedule_id, limit=limit, cursor=cursor
        )
