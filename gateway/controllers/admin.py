"""Admin endpoints (role admin): users, platform-wide usage, the queue and the audit log."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, patch
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.controllers.usage import From, To, instants
from gateway.dependencies import PageCursor, PageLimit, gateway_state
from gateway.openapi import PROBLEMS
from shared import errors
from shared.admin import service
from shared.admin.schemas import AdminUserOut, AdminUserUpdate, QueueOut
from shared.audit import service as audit
from shared.audit.schemas import AuditAction, AuditEventOut, ClientInfo
from shared.auth.principal import Principal
from shared.auth.schemas import Role
from shared.billing import service as billing
from shared.billing.schemas import AdminGroupBy, AdminUsageReportOut
from shared.db.uow import UnitOfWork
from shared.pagination import DEFAULT_LIMIT, Page

# Every handler takes `principal`: resolving it is what enforces the admin role.
ADMIN = {"admin": True}


class AdminController(Controller):
    path = "/admin"
    tags = ["admin"]
    security = [{"BearerAuth": []}]

    @get("/users", opt=ADMIN, summary="List users, newest first")
    async def list_users(
        self,
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        email: Annotated[
            str | None, QueryParameter(max_length=320, description="Substring of the email")
        ] = None,
        role: Annotated[Role | None, QueryParameter()] = None,
        disabled: Annotated[bool | None, QueryParameter()] = None,
        limit: PageLimit = DEFAULT_LIMIT,
        cursor: PageCursor = None,
    ) -> Page[AdminUserOut]:
        """Raises Forbidden (not an admin) and ValidationFailed (bad cursor)."""
        return await service.list_users(
            session, email=email, role=role, disabled=disabled, limit=limit, cursor=cursor
        )

    @get("/users/{user_id:str}", opt=ADMIN, summary="Get a user")
    async def get_user(
        self,
        user_id: FromPath[str],
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> AdminUserOut:
        """Raises Forbidden and NotFound."""
        return await service.get_user(session, user_id)

    @patch(
        "/users/{user_id:str}",
        opt={**ADMIN, PROBLEMS: (errors.Conflict,)},
        summary="Change a user's role, access or budget",
    )
    async def update_user(
        self,
        user_id: FromPath[str],
        data: JSONBody[AdminUserUpdate],
        uow: NamedDependency[UnitOfWork],
        principal: NamedDependency[Principal],
        client: NamedDependency[ClientInfo],
    ) -> AdminUserOut:
        """Raises Forbidden, NotFound, and Conflict (demoting or disabling yourself)."""
        return await service.update_user(uow, principal.user_id, user_id, data, client=client)

    @get("/usage", opt=ADMIN, summary="Every user's jobs, tokens and cost")
    async def usage(
        self,
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        start: From = None,
        to: To = None,
        group_by: Annotated[AdminGroupBy, QueryParameter()] = "user",
    ) -> AdminUsageReportOut:
        """Raises Forbidden and ValidationFailed (bad window)."""
        begin, end = instants(start, to)
        return await billing.admin_report(session, start=begin, end=end, group_by=group_by)

    @get("/queue", opt=ADMIN, summary="Queue depth, unfinished jobs and live workers")
    async def queue(
        self,
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        state: State,
    ) -> QueueOut:
        """Raises Forbidden."""
        return await service.queue(session, gateway_state(state).redis)

    @get("/audit", opt=ADMIN, summary="Security events, newest first")
    async def audit_events(
        self,
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        actor: Annotated[
            str | None, QueryParameter(max_length=64, description="User id of the actor")
        ] = None,
        target: Annotated[
            str | None, QueryParameter(max_length=64, description="User id acted upon")
        ] = None,
        action: Annotated[AuditAction | None, QueryParameter()] = None,
        limit: PageLimit = DEFAULT_LIMIT,
        cursor: PageCursor = None,
    ) -> Page[AuditEventOut]:
        """Raises Forbidden and ValidationFailed (bad action or cursor)."""
        return await audit.list_events(
            session,
            actor_user_id=actor,
            target_user_id=target,
            action=action,
            limit=limit,
            cursor=cursor,
        )
