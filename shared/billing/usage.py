"""Usage queries over the ledger: one row per job, summed per day, model, platform or user."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import msgspec
from sqlalchemy import Label, SQLColumnExpression, func, null, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.models import User
from shared.billing.models import UsageEntry
from shared.billing.schemas import AdminGroupBy


class UsageGroup(msgspec.Struct, frozen=True, kw_only=True):
    """The sums of one group; ``key`` is the day (``YYYY-MM-DD``), model, platform or user id."""

    key: str
    email: str | None = None
    jobs: int
    prompt_tokens: int
    completion_tokens: int
    cached_prompt_tokens: int
    cost_usd: Decimal


def _key(group_by: AdminGroupBy) -> SQLColumnExpression[str]:
    if group_by == "day":
        # Days are UTC days whatever the database session's time zone is.
        return func.to_char(func.timezone("UTC", UsageEntry.created_at), "YYYY-MM-DD")
    if group_by == "model":
        return UsageEntry.model
    if group_by == "platform":
        return UsageEntry.platform
    return UsageEntry.user_id


async def summarize(
    session: AsyncSession,
    *,
    start: datetime,
    end: datetime,
    group_by: AdminGroupBy,
    user_id: str | None = None,
) -> Sequence[UsageGroup]:
    """Ledger sums in ``[start, end)`` per group, ordered by key; all users if ``user_id`` is None.

    Served by the ledger's ``(user_id, created_at)`` and ``(created_at)`` indexes.
    """
    key: Label[str] = _key(group_by).label("key")
    by_user = group_by == "user"
    query = select(
        key,
        (User.email if by_user else null()).label("email"),
        func.count().label("jobs"),
        func.coalesce(func.sum(UsageEntry.prompt_tokens), 0).label("prompt_tokens"),
        func.coalesce(func.sum(UsageEntry.completion_tokens), 0).label("completion_tokens"),
        func.coalesce(func.sum(UsageEntry.cached_prompt_tokens), 0).label("cached_prompt_tokens"),
        func.coalesce(func.sum(UsageEntry.cost_usd), 0).label("cost_usd"),
    ).where(UsageEntry.created_at >= start, UsageEntry.created_at < end)
    if user_id is not None:
        query = query.where(UsageEntry.user_id == user_id)
    if by_user:
        query = query.join(User, User.id == UsageEntry.user_id).group_by(key, User.email)
    else:
        query = query.group_by(key)
    rows = await session.execute(query.order_by(key))
    return [
        UsageGroup(
            key=row.key,
            email=row.email,
            jobs=row.jobs,
            prompt_tokens=int(row.prompt_tokens),
            completion_tokens=int(row.completion_tokens),
            cached_prompt_tokens=int(row.cached_prompt_tokens),
            cost_usd=Decimal(row.cost_usd),
        )
        for row in rows
    ]


async def monthly_budget(session: AsyncSession, user_id: str) -> Decimal | None:
    return await session.scalar(select(User.monthly_budget_usd).where(User.id == user_id))
