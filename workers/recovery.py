"""Jobs whose worker died, or whose queue message was lost: back to the queue.

A running job holds a lease its worker renews (``workers.generation``). A worker that was
killed, lost its node or was cut off stops renewing; this sweep finds the expired leases,
puts the jobs back to ``queued`` and sends them again through the outbox. ARQ would re-run a
crashed job too, but only after the job timeout (five minutes by default); its late
re-delivery then finds the job claimed or finished and skips it.

The recovered attempt counts: a job lost on its last attempt is failed (``worker_lost``) by
the worker that claims it next, without another model call.

A queued job's message can be lost too, when Redis loses data after the outbox handed it over.
:func:`resend_stranded` finds jobs queued and untouched for ``STRANDED_AFTER`` whose message
is in Redis under none of the ids it can have, and sends them again. A duplicate is harmless:
only one delivery can claim a queued job.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from arq.constants import job_key_prefix
from loguru import logger

from shared.clock import utcnow
from shared.db.uow import UnitOfWork
from shared.jobs import repository as jobs
from shared.jobs.models import Job
from shared.queue.tasks import GENERATION_RUN, GenerationPayload
from workers.context import WorkerDeps
from workers.generation import LOST

RECOVER_LIMIT = 200
# Longer than a deferred retry's usual wait, so a healthy queue is rarely even checked.
STRANDED_AFTER = timedelta(seconds=60)


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
            _send(uow, job)
        await uow.commit()
    for job in lost:
        logger.warning("job.recovered", job_id=job.id, attempt=job.attempts, worker=job.leased_by)
    return len(lost)


async def resend_stranded(deps: WorkerDeps, *, now: datetime | None = None) -> int:
    """Send again queued jobs whose queue message is gone; return how many."""
    async with UnitOfWork(deps.db.sessions, deps.relay) as uow:
        waiting = await jobs.lock_queued_before(
            uow.session, before=(now or utcnow()) - STRANDED_AFTER, limit=RECOVER_LIMIT
        )
        if not waiting:
            return 0
        async with deps.redis.pipeline(transaction=False) as pipe:
            for job in waiting:
                pipe.exists(*(job_key_prefix + queue_id for queue_id in _queue_ids(job)))
            present = await pipe.execute()
        stranded = [job for job, found in zip(waiting, present, strict=True) if not found]
        for job in stranded:
            _send(uow, job)
        # Checked now: leave them all alone for another STRANDED_AFTER.
        await jobs.touch(uow.session, [job.id for job in waiting])
        await uow.commit()
    if stranded:
        logger.warning("job.resent", count=len(stranded))
    return len(stranded)


def _queue_ids(job: Job) -> tuple[str, ...]:
    """Every queue id a job's message can have: its own, or one per recovered attempt."""
    return (job.id, *(f"{job.id}:{attempt}" for attempt in range(job.attempts + 1)))


def _send(uow: UnitOfWork, job: Job) -> None:
    uow.enqueue(
        GENERATION_RUN,
        f"{job.id}:{job.attempts}",
        GenerationPayload(job_id=job.id, request_id=job.request_id, traceparent=job.traceparent),
    )
