"""Jobs whose worker died, or whose queue message was lost: back to the queue.

A running job holds a lease its worker renews (``workers.generation``). A worker that was
killed, lost its node or was cut off stops renewing; this sweep finds the expired leases,
puts the jobs back to ``queued`` and sends them again through the outbox. ARQ would re-run a
crashed job too, but only after the job timeout (five minutes by default); its late
re-delivery then finds the job claimed or finished and skips it.

The recovered attempt counts: a job lost on its last attempt is failed (``worker_lost``) by
the worker that claims it next, without another model call.

A queued job's message can be lost too, when Redis loses data after the outbox handed it over,
or be stuck in progress, when its worker was killed while handing the job back for a retry
(ARQ releases it only after its longest job timeout). :func:`resend_stranded` looks at jobs
queued and untouched for a lease (``JOB_LEASE_SECONDS``), so these come back as quickly as a
dead worker's running jobs do: one whose message is in Redis under none of the ids
it can have is sent again; one whose every message is marked in progress has those marks
removed, so ARQ runs the message again at once. Either way a duplicate is harmless: only one
delivery can claim a queued job.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from loguru import logger

from shared.clock import utcnow
from shared.db.uow import UnitOfWork
from shared.jobs import repository as jobs
from shared.jobs.models import Job
from shared.queue.messages import message_states, release
from shared.queue.tasks import GENERATION_RUN, GenerationPayload
from workers.context import WorkerDeps
from workers.generation import LOST

RECOVER_LIMIT = 200


async def recover(deps: WorkerDeps, *, now: datetime | None = None) -> int:
    """Requeue running jobs whose lease expired by ``now``; return how many."""
    async with UnitOfWork(deps.db.sessions, deps.relay) as uow:
        lost = await jobs.lock_lost(uow.session, now=now or utcnow(), limit=RECOVER_LIMIT)
        # Read before the update below refreshes the rows.
        holders = [(job.id, job.attempts, job.leased_by) for job in lost]
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
    for job_id, attempt, holder in holders:
        logger.warning("job.recovered", job_id=job_id, attempt=attempt, worker=holder)
    return len(lost)


async def resend_stranded(deps: WorkerDeps, *, now: datetime | None = None) -> int:
    """Send again queued jobs whose queue message is gone, release those whose message a dead
    worker holds; return how many jobs were stranded either way."""
    async with UnitOfWork(deps.db.sessions, deps.relay) as uow:
        stranded_after = timedelta(seconds=deps.settings.job_lease_seconds)
        waiting = await jobs.lock_queued_before(
            uow.session, before=(now or utcnow()) - stranded_after, limit=RECOVER_LIMIT
        )
        if not waiting:
            return 0
        queue_ids = [_queue_ids(job) for job in waiting]
        states = iter(await message_states(deps.redis, [q for ids in queue_ids for q in ids]))
        lost: list[Job] = []
        released: list[Job] = []
        held: list[str] = []
        for job, ids in zip(waiting, queue_ids, strict=True):
            # zip() stops at the shorter: this job's ids, leaving the next job's states.
            present = {q: state for q, state in zip(ids, states, strict=False) if state != "lost"}
            if not present:
                lost.append(job)
            elif all(state == "held" for state in present.values()):
                released.append(job)
                held.extend(present)
        for job in lost:
            _send(uow, job)
        # Checked now: leave them all alone for another lease.
        await jobs.touch(uow.session, [job.id for job in waiting])
        await uow.commit()
    if held:
        await release(deps.redis, held)
        logger.warning("job.released", messages=len(held))
    if lost:
        logger.warning("job.resent", count=len(lost))
    return len(lost) + len(released)


def _queue_ids(job: Job) -> tuple[str, ...]:
    """Every queue id a job's message can have: its own, or one per recovered attempt."""
    return (job.id, *(f"{job.id}:{attempt}" for attempt in range(job.attempts + 1)))


def _send(uow: UnitOfWork, job: Job) -> None:
    uow.enqueue(
        GENERATION_RUN,
        f"{job.id}:{job.attempts}",
        GenerationPayload(job_id=job.id, request_id=job.request_id, traceparent=job.traceparent),
    )
