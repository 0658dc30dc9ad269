"""All SQL for idempotency keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.idempotency.models import IdempotencyRecord


async def claim(
    session: AsyncSession,
    user_id: str,
    key: str,
    request_hash: str,
    *,
    now: datetime,
    expires_at: datetime,
) -> bool:
    """Take ``key`` for this request (replacing an expired record); False if it is taken.

    The row is written with an empty response, filled in by :func:`complete` before the
    commit. While it is uncommitted, another request's claim of the same key waits on the
    primary key: it proceeds if this transaction rolls back and finds the key taken if it
    commits.
    """
    placeholder = {
        "request_hash": request_hash,
        "status_code": 0,
        "body": b"",
        "location": None,
        "created_at": now,
        "expires_at": expires_at,
    }
    statement = insert(IdempotencyRecord).values(user_id=user_id, key=key, **placeholder)
    statement = statement.on_conflict_do_update(
        index_elements=[IdempotencyRecord.user_id, IdempotencyRecord.key],
        set_=placeholder,
        where=IdempotencyRecord.expires_at < now,
    )
    written = await session.execute(statement.returning(IdempotencyRecord.key))
    return written.scalar_one_or_none() is not None


async def get(session: AsyncSession, user_id: str, key: str) -> IdempotencyRecord | None:
    return await session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key
        )
    )


async def complete(
    session: AsyncSession,
    user_id: str,
    key: str,
    *,
    status_code: int,
    body: bytes,
    location: str | None,
) -> None:
    """Store the response of the request that claimed ``key``."""
    await session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key)
        .values(status_code=status_code, body=body, location=location)
    )


async def purge_expired(session: AsyncSession, now: datetime, limit: int) -> int:
    """Delete up to ``limit`` expired records; return how many went."""
    expired = (
        select(IdempotencyRecord.user_id, IdempotencyRecord.key)
        .where(IdempotencyRecord.expires_at < now)
        .limit(limit)
    )
    result = await session.execute(
        delete(IdempotencyRecord).where(
            tuple_(IdempotencyRecord.user_id, IdempotencyRecord.key).in_(expired)
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
