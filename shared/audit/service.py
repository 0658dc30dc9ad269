"""Recording security events and listing them for admins.

:func:`record` writes into the session it is given: the request's own, so an event commits
or rolls back with the action it describes, or one of its own (``UnitOfWork.abandon``) for
events of requests that end in an error, such as a failed login. ``details`` is small and
never holds a password, token or key. Events older than ``AUDIT_RETENTION`` are pruned by the
workers (``audit.prune``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncSession

from shared.audit import repository
from shared.audit.models import AuditEvent
from shared.audit.schemas import AuditAction, AuditEventOut, ClientInfo
from shared.clock import utcnow
from shared.pagination import Page, decode_cursor, page_of

# Rows per DELETE: each batch is its own short transaction, so a large backlog never holds
# row locks or a connection for long.
PRUNE_BATCH = 5_000


async def record(
    session: AsyncSession,
    action: AuditAction,
    client: ClientInfo,
    *,
    actor_user_id: str | None,
    target_user_id: str | None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one event to the log in ``session``'s transaction."""
    await repository.add_event(
        session,
        action=action,
        actor_user_id=actor_user_id,
        target_user_id=target_user_id,
        ip=client.ip,
        user_agent=client.user_agent,
        details=details or {},
    )


async def list_events(
    session: AsyncSession,
    *,
    actor_user_id: str | None,
    target_user_id: str | None,
    action: AuditAction | None,
    limit: int,
    cursor: str | None,
) -> Page[AuditEventOut]:
    """Events newest first, filtered by actor, target and action.

    Raises:
        ValidationFailed: the cursor is malformed.
    """
    rows = await repository.list_events(
        session,
        actor_user_id=actor_user_id,
        target_user_id=target_user_id,
        action=action,
        after_id=decode_cursor(cursor),
        limit=limit + 1,
    )
    return page_of([_out(row) for row in rows], limit, "id")


async def prune(session: AsyncSession, retention_seconds: int, limit: int) -> int:
    """Delete up to ``limit`` events older than the retention; return how many went (commit
    per batch)."""
    before = utcnow() - timedelta(seconds=retention_seconds)
    return await repository.delete_before(session, before, limit)


def _out(event: AuditEvent) -> AuditEventOut:
    return AuditEventOut(
        id=event.id,
        action=cast("AuditAction", event.action),  # only record() writes, with an AuditAction
        actor_user_id=event.actor_user_id,
        target_user_id=event.target_user_id,
        ip=event.ip,
        user_agent=event.user_agent,
        details=event.details,
        created_at=event.created_at,
    )
