"""Leases on running jobs: a dead worker's job comes back, a live worker's job is left alone."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import msgspec
from arq.connections import ArqRedis
from arq.constants import in_progress_key_prefix, job_key_prefix
from sqlalchemy import select, update

from shared.clock import utcnow
from shared.config import Settings
from shared.db.engine import Database
from shared.jobs import repository
from shared.jobs.models import Job
from shared.queue.models import OutboxMessage
from shared.queue.relay import OutboxRelay
from tests.factories import create_profile, submit_through
from tests.fakes.openai_server import FakeOpenAI
from workers import recovery
from workers.context import deps_of
from workers.tasks import generation_run


async def _job(
    api: httpx.AsyncClient, make_user: Any, settings: Settings, db: Database, relay: OutboxRelay
) -> str:
    user = await make_user()
    profile = await create_profile(api, user.headers)
    return await submit_through(relay, db, settings, user.user_id, profile["id"], "leases")


# The sweep is called as if this much later, so the lease has run out for it but not for the
# session's real worker, whose own sweep must not race the test for the job.
LATER = timedelta(minutes=11)


async def _held_by_a_dead_worker(db: Database, job_id: str, *, attempts: int = 1) -> None:
    """What a SIGKILLed worker leaves behind: running under a lease nobody renews."""
    async with db.sessions() as session, session.begin():
        await session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(
                status="running",
                attempts=attempts,
                leased_by="dead-host:1",
                lease_expires_at=utcnow() + timedelta(minutes=10),
            )
        )


async def _read(db: Database, job_id: str) -> Job:
    async with db.sessions() as session:
        job = await session.get(Job, job_id)
        assert job is not None
        return job


async def test_a_dead_workers_job_is_requeued_and_runs_again(
    api: httpx.AsyncClient,
    make_user: Any,
    settings: Settings,
    db: Database,
    unsent_ctx: dict[str, Any],
) -> None:
    job_id = await _job(api, make_user, settings, db, deps_of(unsent_ctx).relay)
    await _held_by_a_dead_worker(db, job_id)
    deps = deps_of(unsent_ctx)

    assert await recovery.recover(deps, now=utcnow() + LATER) == 1
    requeued = await _read(db, job_id)
    assert (requeued.status, requeued.error_code) == ("queued", "worker_lost")
    async with db.sessions() as session:
        queue_ids = set(await session.scalars(select(OutboxMessage.queue_job_id)))
    # Sent under a fresh queue id: the dead worker's ARQ job may still hold the job's own.
    assert f"{job_id}:1" in queue_ids
    assert await recovery.recover(deps, now=utcnow() + LATER) == 0  # nothing lost twice

    assert await generation_run(unsent_ctx, {"job_id": job_id}) == "succeeded"
    done = await _read(db, job_id)
    assert (done.status, done.attempts, done.leased_by) == ("succeeded", 2, "t")


async def test_a_job_held_by_a_live_worker_is_not_claimed_again(
    api: httpx.AsyncClient,
    make_user: Any,
    settings: Settings,
    db: Database,
    unsent_ctx: dict[str, Any],
    fake_openai: FakeOpenAI,
) -> None:
    job_id = await _job(api, make_user, settings, db, deps_of(unsent_ctx).relay)
    async with db.sessions() as session, session.begin():
        other = await repository.claim(
            session, job_id, worker_id="other-host:7", lease=timedelta(minutes=1)
        )
    assert other is not None
    calls = len(fake_openai.requests)

    # A stale re-delivery (ARQ re-running a job after a timeout) finds nothing to claim.
    assert await generation_run(unsent_ctx, {"job_id": job_id}) == "skipped"
    assert await recovery.recover(deps_of(unsent_ctx)) == 0
    assert len(fake_openai.requests) == calls
    held = await _read(db, job_id)
    assert (held.status, held.attempts, held.leased_by) == ("running", 1, "other-host:7")


async def test_a_job_lost_on_its_last_attempt_fails_without_another_model_call(
    api: httpx.AsyncClient,
    make_user: Any,
    settings: Settings,
    db: Database,
    unsent_ctx: dict[str, Any],
    fake_openai: FakeOpenAI,
) -> None:
    job_id = await _job(api, make_user, settings, db, deps_of(unsent_ctx).relay)
    await _held_by_a_dead_worker(db, job_id, attempts=settings.job_max_attempts)
    calls = len(fake_openai.requests)
    deps = deps_of(unsent_ctx)

    assert await recovery.recover(deps, now=utcnow() + LATER) == 1
    assert await generation_run(unsent_ctx, {"job_id": job_id}) == "failed"
    failed = await _read(db, job_id)
    assert (failed.status, failed.error_code) == ("failed", "worker_lost")
    assert len(fake_openai.requests) == calls


async def test_a_long_attempt_keeps_its_lease(
    api: httpx.AsyncClient,
    make_user: Any,
    settings: Settings,
    db: Database,
    unsent_ctx: dict[str, Any],
    fake_openai: FakeOpenAI,
) -> None:
    job_id = await _job(api, make_user, settings, db, deps_of(unsent_ctx).relay)
    deps = deps_of(unsent_ctx)
    deps.settings = msgspec.structs.replace(settings, job_lease_seconds=1)
    fake_openai.set_latency(2.5)  # the model takes longer than two leases

    attempt = asyncio.create_task(generation_run(unsent_ctx, {"job_id": job_id}))
    recovered = 0
    while not attempt.done():
        recovered += await recovery.recover(deps)
        await asyncio.sleep(0.2)

    assert attempt.result() == "succeeded"
    assert recovered == 0
    done = await _read(db, job_id)
    assert (done.status, done.attempts) == ("succeeded", 1)


async def test_a_queued_job_whose_message_a_dead_worker_holds_is_released(
    api: httpx.AsyncClient,
    make_user: Any,
    settings: Settings,
    db: Database,
    unsent_ctx: dict[str, Any],
    redis: ArqRedis,
) -> None:
    """Found by the chaos suite: a worker killed while handing a job back for a retry leaves the
    job queued and its message marked in progress until ARQ's longest timeout (310 s)."""
    deps = deps_of(unsent_ctx)
    held = await _job(api, make_user, settings, db, deps.relay)
    await redis.set(f"{job_key_prefix}{held}", b"queued")
    await redis.set(f"{in_progress_key_prefix}{held}", b"1")
    try:
        assert await recovery.resend_stranded(deps, now=utcnow() + LATER) == 1
        assert not await redis.exists(f"{in_progress_key_prefix}{held}")
        assert await redis.exists(f"{job_key_prefix}{held}")  # ARQ runs this one again
        async with db.sessions() as session:
            queue_ids = list(await session.scalars(select(OutboxMessage.queue_job_id)))
        assert not any(queue_id.startswith(f"{held}:") for queue_id in queue_ids)
    finally:
        await redis.delete(f"{job_key_prefix}{held}", f"{in_progress_key_prefix}{held}")


async def test_a_queued_job_whose_message_was_lost_is_sent_again(
    api: httpx.AsyncClient,
    make_user: Any,
    settings: Settings,
    db: Database,
    unsent_ctx: dict[str, Any],
    redis: ArqRedis,
) -> None:
    deps = deps_of(unsent_ctx)
    lost = await _job(api, make_user, settings, db, deps.relay)  # its message never left
    waiting = await _job(api, make_user, settings, db, deps.relay)
    await redis.set(f"{job_key_prefix}{waiting}", b"queued")  # its message is in Redis
    try:
        assert await recovery.resend_stranded(deps, now=utcnow() + LATER) == 1
        async with db.sessions() as session:
            queue_ids = list(await session.scalars(select(OutboxMessage.queue_job_id)))
        assert queue_ids.count(f"{lost}:0") == 1
        assert not any(queue_id.startswith(f"{waiting}:") for queue_id in queue_ids)
        # Checked just now: neither is looked at again before another lease has passed.
        half_a_lease = timedelta(seconds=settings.job_lease_seconds / 2)
        assert await recovery.resend_stranded(deps, now=utcnow() + half_a_lease) == 0
    finally:
        await redis.delete(f"{job_key_prefix}{waiting}")
