"""Periodic housekeeping tasks."""

from __future__ import annotations

from typing import Any

from loguru import logger

from shared.db.uow import UnitOfWork
from shared.idempotency import service as idempotency
from shared.idempotency.service import PURGE_CHUNK
from workers.context import deps_of


async def idempotency_purge(ctx: dict[str, Any]) -> int:
    """Delete expired idempotency keys, a bounded chunk per transaction; return the count."""
    deps = deps_of(ctx)
    purged = 0
    while True:
        # Short transactions: a large backlog never holds locks or a connection for long.
        async with UnitOfWork(deps.db.sessions, deps.relay) as uow:
            deleted = await idempotency.purge_expired(uow.session)
            await uow.commit()
        purged += deleted
        if deleted < PURGE_CHUNK:
            break
    logger.info("idempotency.purged", count=purged)
    return purged
