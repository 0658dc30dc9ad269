"""The caller's usage report and budget standing."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.principal import Principal
from shared.billing import service
from shared.billing.schemas import GroupBy, UsageReportOut
from shared.errors import FieldError, ValidationFailed

# Strings checked by `instants`, not `datetime`: Litestar's lax conversion reads a bare number
# as a Unix time, and its errors would name the Python parameter, not `from`.
_RFC3339 = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)$"
_INSTANT = {"format": "date-time", "pattern": _RFC3339, "maxLength": 32}
# `from` is a Python keyword, so the parameter is renamed in the query string.
From = Annotated[
    str | None,
    QueryParameter(
        name="from",
        schema_extra=_INSTANT,
        description="RFC 3339 with an offset; default: start of the current UTC month",
    ),
]
To = Annotated[
    str | None,
    QueryParameter(
        schema_extra=_INSTANT,
        description="RFC 3339 with an offset, exclusive; default: now",
    ),
]


def instants(start: str | None, end: str | None) -> tuple[datetime | None, datetime | None]:
    """``from`` and ``to`` as datetimes. Raises ValidationFailed (not RFC 3339, no such date)."""
    parsed: dict[str, datetime | None] = {}
    problems = []
    for field, value in (("from", start), ("to", end)):
        try:
            if value is not None and not re.fullmatch(_RFC3339, value):
                raise ValueError(value)
            parsed[field] = None if value is None else datetime.fromisoformat(value)
        except ValueError:
            problems.append(
                FieldError(field, "must be RFC 3339 with an offset, e.g. 2025-01-01T00:00:00Z")
            )
    if problems:
        raise ValidationFailed(errors=problems)
    return parsed["from"], parsed["to"]


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
        begin, end = instants(start, to)
        return await service.report(
            session, principal.user_id, start=begin, end=end, group_by=group_by
        )
