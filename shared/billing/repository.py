"""All SQL for the usage ledger."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.billing.models import UsageEntry
from shared.ids import new_id


async def record_once(
    session: AsyncSession,
    *,
    job_id: str,
    user_id: str,
    model: str,
    platform: str,
    prompt_tokens: int,
    cached_prompt_tokens: int,
    completion_tokens: int,
    model_calls: int,
    cost_usd: Decimal,
) -> bool:
    """Insert the job's ledger row unless it exists; True if this call wrote it.

    The unique ``job_id`` makes billing exactly-once even when a job is delivered twice.
    """
    result = await session.execute(
        insert(UsageEntry)
        .values(
            id=new_id("use"),
            job_id=job_id,
            user_id=user_id,
            model=model,
            platform=platform,
            prompt_tokens=prompt_tokens,
            cached_prompt_tokens=cached_prompt_tokens,
            completion_tokens=completion_tokens,
            model_calls=model_calls,
            cost_usd=cost_usd,
        )
        .on_conflict_do_nothing(index_elements=[UsageEntry.job_id])
        .returning(UsageEntry.id)
    )
    return result.scalar_one_or_none() is not None
