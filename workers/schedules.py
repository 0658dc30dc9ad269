"""The schedule firing pass: one transaction that fires every due schedule (see
shared.schedules.service for the exactly-once and misfire rules)."""

from __future__ import annotations

from shared.clock import utcnow
from shared.db.uow import UnitOfWork
from shared.observability.tracing import current_traceparent
from shared.schedules import service
from workers.context import WorkerDeps


async def fire(deps: WorkerDeps) -> int:
    """Fire the due schedules and commit; return how many jobs were created."""
    async with UnitOfWork(deps.db.sessions, deps.relay) as uow:
        created = await service.fire_due(
            uow, deps.settings, utcnow(), traceparent=current_traceparent()
        )
        await uow.commit()
    return created
