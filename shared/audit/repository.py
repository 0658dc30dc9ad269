"""All SQL of the audit log: append an event, list events for admins, prune old ones."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.audit.models import AuditEvent
from shared.ids import new_id


async def add_event(
    session: AsyncSession,
    *,
    action: str,
    actor_user_id: str | None,
    target_user_id: str | None,
    ip: str | None,
    user_agent: str | None,
    details: dict[str, Any],
) -> None:
    session.add(
        AuditEvent(
            id=new_id("aud"),
            action=action,
            actor_user_id=actor_user_id,
            target_user_id=target_user_id,
            ip=ip,
            user_agent=user_agent,
            details=details,
        )
    )
    await session.flush()


async def list_events(
    session: AsyncSession,
    *,
    actor_user_id: str | None,
    target_user_id: str | None,
    action: str | None,
    after_id: str | None,
    limit: int,
) -> Sequence[AuditEvent]:
    """Events newest first (ids are time-ordered); each filter has an ``(x, id)`` index."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if actor_user_id is not None:
        query = query.where(AuditEvent.actor_user_id == actor_user_id)
    if target_user_id is not None:
        query = query.where(AuditEvent.target_user_id == target_user_id)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    if after_id is not None:
        query = query.where(AuditEvent.id < after_id)
    return (await session.scalars(query)).all()


async def delete_before(session: AsyncSession, before: datetime, limit: int) -> int:
    """Delete up to ``limit`` events created before ``before``; return how many went."""
    old = select(AuditEvent.id).where(AuditEvent.created_at < before).limit(limit)
    result = await session.execute(delete(AuditEvent).where(AuditEvent.id.in_(old)))
    return int(result.rowcount)  # type: ignore[attr-defined]
