"""Batch progress: count finished items and announce batches that are done.

Called by :func:`shared.jobs.lifecycle.finished` in the transaction that made items
terminal, so the count commits or rolls back with the items themselves.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from shared.batches import repository
from shared.batches.models import Batch
from shared.batches.schemas import to_out
from shared.db.uow import UnitOfWork
from shared.jobs import events
from shared.webhooks import service as webhooks
from shared.webhooks.schemas import NewEvent


async def items_finished(uow: UnitOfWork, finished_per_batch: Mapping[str, int]) -> None:
    """Count finished items; complete (and announce) batches with none left."""
    # A fixed lock order keeps two transactions finishing items of the same batches apart.
    for batch_id in sorted(finished_per_batch):
        batch = await repository.count_finished(uow.session, batch_id, finished_per_batch[batch_id])
        # Only the transaction that brought ``pending`` to zero sees it completed with zero
        # left: the batch row lock orders every decrement.
        if batch is not None and batch.pending == 0 and batch.status == "completed":
            await announce(uow, batch, "batch.completed")


async def announce(uow: UnitOfWork, batch: Batch, event_type: str) -> None:
    """Emit the batch's terminal event with its exact counts and wake its long polls."""
    per_status = await repository.counts(uow.session, [batch.id])
    await webhooks.emit(
        uow,
        [
            NewEvent(
                user_id=batch.user_id,
                type=event_type,
                subject_id=batch.id,
                data={"batch": msgspec.to_builtins(to_out(batch, per_status[batch.id]))},
                webhook_url=batch.webhook_url,
            )
        ],
    )
    batch_id = batch.id
    uow.after_commit(lambda: events.publish_finished(uow.redis, batch_id))
