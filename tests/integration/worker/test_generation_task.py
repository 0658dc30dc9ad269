"""The generation task called directly: idempotent re-runs and the outbox when Redis is down."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from arq.connections import ArqRedis
from arq.worker import Worker
from msgspec import msgpack
from sqlalchemy import func, select

from shared.billing.budget import Owner
from shared.config import Settings
from shared.db.engine import Database
from shared.db.uow import UnitOfWork
from shared.jobs import service as jobs
from shared.jobs.schemas import JobCreate
from shared.queue import outbox
from shared.queue.client import QUEUE_NAME, connect
from shared.queue.models import OutboxMessage
from shared.queue.relay import OutboxRelay
from shared.queue.tasks import GenerationPayload
from tests.factories import create_profile, run_job
from tests.fakes.openai_server import FakeOpenAI
from workers.tasks import generation_run


async def test_rerun_of_a_finished_job_does_not_call_the_model(
    api: httpx.AsyncClient,
    make_user: Any,
    worker: Worker,
    worker_ctx: dict[str, Any],
    fake_openai: FakeOpenAI,
) -> None:
    user = await make_user()
    done = await run_job(api, user.headers)
    calls = len(fake_openai.requests)

    status = await generation_run(worker_ctx, {"job_id": done["id"]})

    assert status == "skipped"
    assert len(fake_openai.requests) == calls
    again = (await api.get(f"/api/v1/jobs/{done['id']}", headers=user.headers)).json()
    assert again == done


async def test_job_is_accepted_while_redis_is_down_and_runs_once_it_is_back(
    api: httpx.AsyncClient,
    make_user: Any,
    settings: Settings,
    db: Database,
    redis: ArqRedis,
    worker: Worker,
) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers)
    dead_redis = connect("redis://127.0.0.1:1/0")
    dead_relay = OutboxRelay(db.sessions, dead_redis)
    try:
        async with UnitOfWork(db.sessions, dead_relay) as uow:
            job = await jobs.submit(
                uow,
                settings,
                Owner(user_id=user.user_id, monthly_budget_usd=None),
                JobCreate(profile_id=profile["id"], platform="x", topic="offline"),
                request_id=None,
                traceparent=None,
            )
            await uow.commit()
        await dead_relay.drain()  # the relay tried and failed: the message stays
    finally:
        await dead_relay.aclose()
        await dead_redis.aclose()
    async with db.sessions() as session:
        pending = await session.scalar(select(func.count()).select_from(OutboxMessage))
    assert pending == 1
    stored = await api.get(f"/api/v1/jobs/{job.id}", headers=user.headers)
    assert stored.json()["status"] == "queued"

    async with db.sessions() as session:
        assert await outbox.sweep(session, redis, older_than=timedelta(0)) == 1
    done = await api.get(f"/api/v1/jobs/{job.id}", params={"wait": 20}, headers=user.headers)
    assert done.json()["status"] == "succeeded"
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


async def test_relay_sends_and_forgets_outbox_rows(db: Database, relay: OutboxRelay) -> None:
    async with UnitOfWork(db.sessions, relay) as uow:
        uow.enqueue("generation.run", "job_probe", GenerationPayload(job_id="job_probe"))
        await uow.commit()
    await relay.drain()
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


async def test_payloads_are_msgpack_not_pickle(redis: ArqRedis) -> None:
    # Deferred, so the running test worker does not take it before we look.
    payload = {"job_id": "job_wire"}
    await redis.enqueue_job("generation.run", payload, _job_id="job_wire", _defer_by=600)
    raw = await redis.get("arq:job:job_wire")
    await redis.delete("arq:job:job_wire")
    await redis.zrem(QUEUE_NAME, "job_wire")
    assert raw is not None
    assert not raw.startswith(b"\x80")  # pickle protocol marker
    assert msgpack.decode(raw)["a"] == [payload]


async def test_a_job_whose_profile_was_deleted_fails_with_a_stable_code(
    api: httpx.AsyncClient,
    make_user: Any,
    settings: Settings,
    db: Database,
    worker_ctx: dict[str, Any],
) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers)
    unsent = OutboxRelay(db.sessions, connect("redis://127.0.0.1:1/0"))  # never reaches a worker
    try:
        async with UnitOfWork(db.sessions, unsent) as uow:
            job = await jobs.submit(
                uow,
                settings,
                Owner(user_id=user.user_id, monthly_budget_usd=None),
                JobCreate(profile_id=profile["id"], platform="x", topic="gone"),
                request_id=None,
                traceparent=None,
            )
            await uow.commit()
        await unsent.drain()
    finally:
        await unsent.aclose()
        await unsent.redis.aclose()
    deleted = await api.delete(f"/api/v1/profiles/{profile['id']}", headers=user.headers)
    assert deleted.status_code == 204

    assert await generation_run(worker_ctx, {"job_id": job.id}) == "failed"
    failed = (await api.get(f"/api/v1/jobs/{job.id}", headers=user.headers)).json()
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "profile_not_found"
