"""Jobs whose worker died: back to the queue within about one lease.

A running job holds a lease its worker renews (``workers.generation``). A worker that was
killed, lost its node or was cut off stops renewing; this sweep finds the expired leases,
puts the jobs back to ``queued`` and sends them again through the outbox. ARQ would re-run a
crashed job too, but only after the job timeout (five minutes by default); its late
re-delivery then finds the job claimed or finished and skips it.

The recovered attempt counts: a job lost on its last attempt is failed (``worker_lost``) by
the worker that claims it next, without another model call.
"""

from __future__ import annotations

from datetime import datetime

from loguru import logger

from shared.clock import utcnow
from shared.db.uow import UnitOfWork
from shared.jobs import repository as jobs
from shared.queue.tasks import GENERATION_RUN, GenerationPayload
from workers.context import WorkerDeps
from workers.generation import LOST

RECOVER_LIMIT = 200


async def recover(deps: WorkerDeps, *, now: datetime | None = None) -> int:
    """Requeue running jobs whose lease expired by ``now``; return how many."""
    async with UnitOfWork(deps.db.sessions, deps.relay) as uow:
        lost = await jobs.lock_lost(uow.session, now=now or utcnow(), limit=RECOVER_LIMIT)
        for job in lost:
            await jobs.transition(
                uow.session,
                job.id,
                from_statuses=("running",),
                status="queued",
                leased_by=None,
                lease_expires_at=None,
                error_code=LOST,
                error_message=f"attempt {job.attempts} was lost: its worker stopped "
                f"({job.leased_by}); retrying",
            )
            # A fresh queue id: the dead worker's ARQ job may still hold the job's own id.
            uow.enqueue(
                GENERATION_RUN,
                f"{job.id}:{job.attempts}",
                GenerationPayload(
                    job_id=job.id, request_id=job.request_id, traceparent=job.traceparent
                ),
            )
        await uow.commit()
    for job in lost:
        logger.warning("job.recovered", job_id=job.id, attempt=job.attempts, worker=job.leased_by)
    return len(lost)
