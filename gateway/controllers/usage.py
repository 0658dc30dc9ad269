"""The caller's usage report and budget standing."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.principal import Principal
from shared.billing import service
from shared.billing.schemas import GroupBy, UsageReportOut

# `from` is a Python keyword, so the parameter is renamed in the query string.
From = Annotated[
    datetime | None,
    QueryParameter(name="from", description="RFC 3339; default: start of the current UTC month"),
]
To = Annotated[datetime | None, QueryParameter(description="RFC 3339, exclusive; default: now")]


class UsageController(Controller):
    path = "/usage"
    tags = ["usage"]
    security = [{"BearerAuth": []}]

    @get(opt={"scope": "usage:read"}, summary="Your jobs, tokens and cost, and your budget")
    async def usage(
        self,
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        start: From = None,
        to: To = None,
        group_by: Annotated[GroupBy, QueryParameter(description="How rows are grouped")] = "day",
    ) -> UsageReportOut:
        """Sums from the ledger (one row per job). Raises ValidationFailed (bad window)."""
        return await service.report(
            session, principal.user_id, start=start, end=to, group_by=group_by
        )
