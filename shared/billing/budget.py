"""Monthly budgets: a job's estimated cost is reserved when it is accepted.

The reservation is the job's ``reserved_usd`` while it is unfinished; once it is terminal the
ledger holds what it really cost, so a month's commitment is ``ledger + open reservations``.
Users with a budget have their submissions serialised on their user row (``FOR UPDATE``), so
concurrent submissions cannot all pass the same check and overshoot together.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.models import User
from shared.billing.models import UsageEntry
from shared.billing.pricing import cost_usd, format_usd
from shared.clock import utcnow
from shared.config import Settings
from shared.errors import BudgetExceeded
from shared.jobs.models import ACTIVE_STATUSES, Job
from shared.style import Platform, rules_for

# A generous prompt size: the system prompt, the profile's style and up to three samples.
ESTIMATED_PROMPT_TOKENS = 2_000


class Owner(msgspec.Struct, frozen=True):
    """Who pays for new jobs, with the monthly budget read when the request was authenticated
    (``None``: no budget, so no reservation and no lock)."""

    user_id: str
    monthly_budget_usd: Decimal | None


async def owner(session: AsyncSession, user_id: str) -> Owner:
    """The payer for work started without a request (schedule firings)."""
    monthly = await session.scalar(select(User.monthly_budget_usd).where(User.id == user_id))
    return Owner(user_id=user_id, monthly_budget_usd=monthly)


def max_completion_tokens(platform: Platform) -> int:
    """The completion cap a generation asks the model for (also the estimate's worst case)."""
    return min(4096, max(256, rules_for(platform).max_chars // 2))


def estimate(settings: Settings, model: str, platform: Platform) -> Decimal:
    """The most one generation should cost: a full prompt and a maximal completion."""
    return cost_usd(
        settings.price_for(model),
        prompt_tokens=ESTIMATED_PROMPT_TOKENS,
        completion_tokens=max_completion_tokens(platform),
    )


def month_start(now: datetime) -> datetime:
    """Budgets run per calendar month in UTC."""
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


async def reserve(session: AsyncSession, payer: Owner, amounts: Sequence[Decimal]) -> None:
    """Check that the payer's budget holds ``amounts`` more this month.

    Free for users without a budget. Otherwise takes the user row's lock (re-reading the
    budget under it), held until the caller's transaction ends, so the caller must insert the
    jobs carrying these reservations in that transaction.

    Raises:
        BudgetExceeded: the month's spending plus open reservations plus ``amounts`` would pass
            the budget, or the budget is already used up.
    """
    if payer.monthly_budget_usd is None:
        return
    user_id = payer.user_id
    budget = await session.scalar(
        select(User.monthly_budget_usd).where(User.id == user_id).with_for_update()
    )
    if budget is None:  # removed meanwhile
        return
    committed = await committed_this_month(session, user_id)
    wanted = sum(amounts, Decimal(0))
    if committed >= budget or committed + wanted > budget:
        raise BudgetExceeded(
            f"this would commit {format_usd(committed + wanted)} USD this month against a "
            f"monthly budget of {format_usd(budget)} USD "
            f"({format_usd(committed)} USD already spent or reserved)"
        )


async def committed_this_month(session: AsyncSession, user_id: str) -> Decimal:
    """Spent this month (ledger) plus the reservations of the user's unfinished jobs."""
    spent = await spent_since(session, user_id, month_start(utcnow()))
    return spent + await open_reservations(session, user_id)


async def spent_since(session: AsyncSession, user_id: str, since: datetime) -> Decimal:
    """What the ledger billed the user from ``since`` on."""
    spent = await session.scalar(
        select(func.coalesce(func.sum(UsageEntry.cost_usd), 0)).where(
            UsageEntry.user_id == user_id, UsageEntry.created_at >= since
        )
    )
    return Decimal(spent or 0)


async def open_reservations(session: AsyncSession, user_id: str) -> Decimal:
    """The estimated costs held by the user's unfinished jobs."""
    reserved = await session.scalar(
        select(func.coalesce(func.sum(Job.reserved_usd), 0)).where(
            Job.user_id == user_id, Job.status.in_(ACTIVE_STATUSES)
        )
    )
    return Decimal(reserved or 0)
