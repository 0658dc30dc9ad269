"""Usage reports from the ledger, and the caller's budget standing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from shared.billing import budget, usage
from shared.billing.pricing import format_usd
from shared.billing.schemas import (
    AdminGroupBy,
    AdminUsageReportOut,
    BudgetOut,
    GroupBy,
    UsageReportOut,
    UsageRowOut,
    UsageTotalsOut,
)
from shared.billing.usage import UsageGroup
from shared.clock import utcnow
from shared.errors import FieldError, ValidationFailed

MAX_WINDOW = timedelta(days=366)


def window(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    """The report's ``[from, to)``: by default from the start of ``to``'s UTC month to now.

    Raises ValidationFailed (no UTC offset, ``from`` not before ``to``, more than 366 days).
    """
    naive = [
        FieldError(field, "must be RFC 3339 with an offset, e.g. 2025-01-01T00:00:00Z")
        for field, value in (("from", start), ("to", end))
        if value is not None and value.utcoffset() is None
    ]
    if naive:
        raise ValidationFailed(errors=naive)
    end = end or utcnow()
    start = start or budget.month_start(end.astimezone(UTC))
    if start >= end:
        raise ValidationFailed(errors=[FieldError("from", "must be before to")])
    if end - start > MAX_WINDOW:
        raise ValidationFailed(errors=[FieldError("from", "the range may span at most 366 days")])
    return start.astimezone(UTC), end.astimezone(UTC)


async def report(
    session: AsyncSession,
    user_id: str,
    *,
    start: datetime | None,
    end: datetime | None,
    group_by: GroupBy,
) -> UsageReportOut:
    """The caller's jobs, tokens, cost and budget. Raises ValidationFailed (bad window)."""
    start, end = window(start, end)
    groups = await usage.summarize(
        session, start=start, end=end, group_by=group_by, user_id=user_id
    )
    return UsageReportOut(
        from_=start,
        to=end,
        group_by=group_by,
        data=[_row(group_by, group) for group in groups],
        total=_total(groups),
        budget=await standing(session, user_id),
    )


async def admin_report(
    session: AsyncSession,
    *,
    start: datetime | None,
    end: datetime | None,
    group_by: AdminGroupBy,
) -> AdminUsageReportOut:
    """Every user's jobs, tokens and cost in the window. Raises ValidationFailed."""
    start, end = window(start, end)
    groups = await usage.summarize(session, start=start, end=end, group_by=group_by)
    return AdminUsageReportOut(
        from_=start,
        to=end,
        group_by=group_by,
        data=[_row(group_by, group) for group in groups],
        total=_total(groups),
    )


async def standing(session: AsyncSession, user_id: str) -> BudgetOut | None:
    """This month's budget, ledger spending and open reservations; None without a budget."""
    monthly = await usage.monthly_budget(session, user_id)
    if monthly is None:
        return None
    period_start = budget.month_start(utcnow())
    spent = await budget.spent_since(session, user_id, period_start)
    reserved = await budget.open_reservations(session, user_id)
    return BudgetOut(
        monthly_budget_usd=format_usd(monthly),
        spent_usd=format_usd(spent),
        reserved_usd=format_usd(reserved),
        remaining_usd=format_usd(max(monthly - spent - reserved, Decimal(0))),
        period_start=period_start,
    )


def _row(group_by: AdminGroupBy, group: UsageGroup) -> UsageRowOut:
    return UsageRowOut(
        jobs=group.jobs,
        prompt_tokens=group.prompt_tokens,
        completion_tokens=group.completion_tokens,
        cached_prompt_tokens=group.cached_prompt_tokens,
        total_tokens=group.prompt_tokens + group.completion_tokens,
        cost_usd=format_usd(group.cost_usd),
        day=group.key if group_by == "day" else None,
        model=group.key if group_by == "model" else None,
        platform=group.key if group_by == "platform" else None,
        user_id=group.key if group_by == "user" else None,
        email=group.email,
    )


def _total(groups: Sequence[UsageGroup]) -> UsageTotalsOut:
    prompt = sum(group.prompt_tokens for group in groups)
    completion = sum(group.completion_tokens for group in groups)
    return UsageTotalsOut(
        jobs=sum(group.jobs for group in groups),
        prompt_tokens=prompt,
        completion_tokens=completion,
        cached_prompt_tokens=sum(group.cached_prompt_tokens for group in groups),
        total_tokens=prompt + completion,
        cost_usd=format_usd(sum((group.cost_usd for group in groups), Decimal(0))),
    )
