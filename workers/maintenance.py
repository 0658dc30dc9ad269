"""Periodic housekeeping tasks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from loguru import logger
from sqlalchemy.ext.asyncio import AsyncSession

from shared.audit import service as audit
from shared.audit.service import PRUNE_BATCH
from shared.db.uow import UnitOfWork
from shared.idempotency import service as idempotency
from shared.idempotency.service import PURGE_CHUNK
from workers.context import WorkerDeps, deps_of


async def idempotency_purge(ctx: dict[str, Any]) -> int:
    """Delete expired idempotency keys, a bounded chunk per transaction; return the count."""
    purged = await _in_batches(deps_of(ctx), idempotency.purge_expired, PURGE_CHUNK)
    logger.info("idempotency.purged", count=purged)
    return purged


async def audit_prune(ctx: dict[str, Any], *, batch: int = PRUNE_BATCH) -> int:
    """Delete audit events older than ``AUDIT_RETENTION``, ``batch`` rows per transaction;
    return the count."""
    deps = deps_of(ctx)
    retention = deps.settings.audit_retention

    async def prune(session: AsyncSession) -> int:
        return await audit.prune(session, retention, batch)

    pruned = await _in_batches(deps, prune, batch)
    logger.info("audit.pruned", count=pruned, retention_seconds=retention)
    return pruned


async def _in_batches(
    deps: WorkerDeps, delete: Callable[[AsyncSession], Awaitable[int]], batch: int
) -> int:
    """Run ``delete`` (at most ``batch`` rows) until it comes back short; return the total."""
    total = 0
    while True:
        # Short transactions: a large backlog never holds locks or a connection for long.
        async with UnitOfWork(deps.db.sessions, deps.relay) as uow:
            deleted = await delete(uow.session)
            await uow.commit()
        total += deleted
        if deleted < batch:
            return total
