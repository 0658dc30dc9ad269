"""A worker rides out a Redis restart: it keeps its process and picks up work afterwards."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import msgspec

from ghostpen.embedded import EmbeddedValkey
from shared.billing.budget import Owner
from shared.config import Settings
from shared.db.engine import Database
from shared.db.uow import UnitOfWork
from shared.jobs import service as jobs
from shared.jobs.schemas import JobCreate
from shared.queue.client import connect
from shared.queue.heartbeat import live_workers
from shared.queue.relay import OutboxRelay
from tests.conftest import start_worker, stop_worker
from tests.factories import create_profile, wait_for_job
from workers.main import create_worker


async def test_worker_survives_a_redis_restart_and_runs_jobs_after_it(
    api: httpx.AsyncClient, make_user: Any, settings: Settings, db: Database, tmp_path: Path
) -> None:
    valkey = EmbeddedValkey(tmp_path / "valkey", appendonly=False)
    url = await asyncio.to_thread(valkey.start)
    own = msgspec.structs.replace(settings, redis_url=url)
    redis = connect(url)
    arq_worker, task = await start_worker(own, redis)
    try:
        await asyncio.to_thread(valkey.stop)
        await asyncio.sleep(2)  # several failed polls
        assert not task.done(), "the worker exited when Redis went away"
        await asyncio.to_thread(valkey.start)  # same port, empty: its data is gone

        user = await make_user()
        profile = await create_profile(api, user.headers)
        relay = OutboxRelay(db.sessions, redis)
        async with UnitOfWork(db.sessions, relay) as uow:
            job = await jobs.submit(
                uow,
                own,
                Owner(user_id=user.user_id, monthly_budget_usd=None),
                JobCreate(profile_id=profile["id"], platform="x", topic="after the outage"),
                request_id=None,
                traceparent=None,
            )
            await uow.commit()
        await relay.aclose()
        # This worker announces completions on its own Redis, which the gateway does not
        # listen to, so poll in short long-polls rather than wait for the event.
        for _ in range(30):
            done = await wait_for_job(api, user.headers, job.id, seconds=1)
            if done["status"] == "succeeded":
                break
        assert done["status"] == "succeeded", done
    finally:
        await stop_worker(arq_worker, task)
        await redis.aclose()
        await asyncio.to_thread(valkey.stop)


async def test_a_worker_started_while_redis_is_down_waits_for_it(
    settings: Settings, tmp_path: Path
) -> None:
    """Found by the chaos suite: a replacement worker started during a Redis outage exited
    with status 1 on ARQ's first Redis call."""
    valkey = EmbeddedValkey(tmp_path / "valkey", appendonly=False)
    url = await asyncio.to_thread(valkey.start)
    await asyncio.to_thread(valkey.stop)  # its port is chosen; nothing answers on it
    own = msgspec.structs.replace(settings, redis_url=url)
    redis = connect(url)
    arq_worker = create_worker(own, handle_signals=False)
    task = asyncio.create_task(arq_worker.async_run())
    try:
        await asyncio.sleep(2)  # several failed attempts
        assert not task.done(), "the worker gave up while Redis was down"
        await asyncio.to_thread(valkey.start)
        for _ in range(100):  # started: on_startup ran and it has beaten
            if await live_workers(redis):
                break
            assert not task.done(), task
            await asyncio.sleep(0.1)
        assert await live_workers(redis), "the worker did not start once Redis was back"
        await stop_worker(arq_worker, task)
    finally:
        task.cancel()
        await redis.aclose()
        await asyncio.to_thread(valkey.stop)
