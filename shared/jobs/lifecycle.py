"""What follows a job reaching a terminal state, whoever moved it there.

Workers (succeeded, failed), the user (cancel) and batch cancels all call :func:`finished` in
the transaction that made the transition, so its consequences commit or roll back with it:
the webhook event is recorded once per state change, the batch's progress is counted once,
and long polls are woken after the commit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import msgspec

from shared.batches import progress
from shared.db.uow import UnitOfWork
from shared.jobs import events
from shared.jobs.models import TERMINAL_STATUSES, Job
from shared.jobs.schemas import to_out
from shared.webhooks import service as webhooks
from shared.webhooks.schemas import NewEvent


async def finished(uow: UnitOfWork, jobs: Sequence[Job]) -> None:
    """Record the consequences of ``jobs`` having just become terminal (in ``uow``)."""
    if not jobs:
        return
    assert all(job.status in TERMINAL_STATUSES for job in jobs)  # noqa: S101 - invariant
    await webhooks.emit(
        uow,
        [
            NewEvent(
                user_id=job.user_id,
                type=f"job.{job.status}",
                subject_id=job.id,
                data={"job": msgspec.to_builtins(to_out(job))},
                webhook_url=job.webhook_url,
            )
            for job in jobs
        ],
    )
    per_batch = Counter(job.batch_id for job in jobs if job.batch_id)
    if per_batch:
        await progress.items_finished(uow, per_batch)
    ids = [job.id for job in jobs]
    uow.after_commit(lambda: events.publish_finished(uow.redis, *ids))
