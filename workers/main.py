"""The ARQ worker, configured in one place: tasks, their limits, cron jobs and lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from typing import Any

from arq import cron
from arq.worker import Worker, func
from loguru import logger
from redis.exceptions import RedisError

from shared.config import Settings
from shared.db.engine import Database
from shared.queue import heartbeat, serializer
from shared.queue.client import QUEUE_NAME, connect
from shared.queue.relay import OutboxRelay
from shared.queue.tasks import (
    AUDIT_PRUNE,
    GENERATION_RUN,
    IDEMPOTENCY_PURGE,
    JOBS_RECOVER,
    OUTBOX_SWEEP,
    SCHEDULES_FIRE,
    WEBHOOK_DELIVER,
    WEBHOOKS_SWEEP,
)
from workers.context import WorkerDeps, deps_of
from workers.maintenance import audit_prune, idempotency_purge
from workers.providers import worker_provider
from workers.tasks import (
    generation_run,
    jobs_recover,
    outbox_sweep,
    schedules_fire,
    webhook_deliver,
    webhooks_sweep,
)

# ARQ may re-deliver a job after a crash; give it room beyond our own attempt cap, which
# the task enforces itself so the job row always ends terminal.
EXTRA_DELIVERIES = 3
# Generation's attempts are capped in Postgres (JOB_MAX_ATTEMPTS); ARQ's own count also grows
# with every deferral while the model's circuit is open, which must never drop a job.
GENERATION_DELIVERIES = 10_000
REDIS_RETRY_CAP = 5.0
SWEEP_SECONDS = set(range(0, 60, 10))
# With the lease, a dead worker's job is back in the queue within JOB_LEASE_SECONDS + 5 s.
RECOVER_SECONDS = set(range(0, 60, 5))
WEBHOOK_SWEEP_SECONDS = {0, 30}
# A delivery attempt is bounded by WEBHOOK_TIMEOUT; the rest covers two short transactions.
WEBHOOK_TASK_SLACK = 20
# Schedules fire at most two seconds after they are due.
FIRE_SECONDS = set(range(0, 60, 2))


def _on_startup(settings: Settings) -> Any:
    async def on_startup(ctx: dict[str, Any]) -> None:
        worker_id = f"{socket.gethostname()}:{os.getpid()}"
        provider = worker_provider(settings, ctx["redis"], worker_id)
        db = Database.from_settings(settings, application_name="ghostpen-worker")
        ctx["deps"] = WorkerDeps(
            settings=settings,
            db=db,
            redis=ctx["redis"],
            provider=provider,
            relay=OutboxRelay(db.sessions, ctx["redis"]),
            worker_id=worker_id,
        )
        ctx["heartbeat"] = asyncio.create_task(_heartbeat(ctx["redis"], worker_id))
        logger.info("worker.started", worker_id=worker_id, backend=provider.name)

    return on_startup


async def _heartbeat(redis: Any, worker_id: str) -> None:
    while True:
        with contextlib.suppress(Exception):
            await heartbeat.beat(redis, worker_id)
        await asyncio.sleep(heartbeat.HEARTBEAT_INTERVAL)


async def _on_shutdown(ctx: dict[str, Any]) -> None:
    task: asyncio.Task[None] | None = ctx.get("heartbeat")
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if "deps" in ctx:
        deps = deps_of(ctx)
        with contextlib.suppress(Exception):
            await heartbeat.leave(deps.redis, deps.worker_id)
        await deps.relay.aclose()
        await deps.provider.aclose()
        await deps.db.dispose()
    logger.info("worker.stopped")


class ResilientWorker(Worker):
    """An ARQ worker that rides out a Redis outage instead of exiting.

    ARQ lets a Redis error at start-up or in its poll loop end the process. Here the worker
    waits (backing off to ``REDIS_RETRY_CAP`` seconds) and carries on when Redis is back; jobs
    in flight keep running against Postgres meanwhile, and any whose bookkeeping was lost come
    back through the outbox sweep and the job leases.
    """

    _redis_down_since: float | None = None

    async def main(self) -> None:
        # A worker started during a Redis outage (a replacement, a rollout) would exit at once
        # on ARQ's first Redis call: found by the chaos suite.
        while not await self._redis_answers():
            pass
        await super().main()

    async def _poll_iteration(self) -> None:
        _honour_cancellation()
        try:
            await super()._poll_iteration()
        except (RedisError, OSError) as exc:
            _honour_cancellation()
            await self._wait_for_redis(exc)
            return
        self._redis_is_back()

    async def _redis_answers(self) -> bool:
        try:
            await self.pool.ping()
        except (RedisError, OSError) as exc:
            _honour_cancellation()
            await self._wait_for_redis(exc)
            return False
        self._redis_is_back()
        return True

    def _redis_is_back(self) -> None:
        if self._redis_down_since is not None:
            down = time.monotonic() - self._redis_down_since
            logger.info("worker.redis_back", seconds_down=round(down, 1))
            self._redis_down_since = None

    async def _wait_for_redis(self, exc: BaseException) -> None:
        now = time.monotonic()
        if self._redis_down_since is None:
            self._redis_down_since = now
            logger.warning("worker.redis_lost", error=type(exc).__name__)
        down = now - self._redis_down_since
        await asyncio.sleep(min(REDIS_RETRY_CAP, 0.5 + down / 4))


def _honour_cancellation() -> None:
    """Stop the poll loop if its task was asked to stop.

    ARQ stops a worker by cancelling its main task once, after the drain. A cancel that lands
    in a Redis call can come out as a timeout (``TimeoutError`` is an ``OSError``), which the
    loop above takes for an outage: the worker then polled on forever and had to be SIGKILLed
    (found by the chaos suite). A task being cancelled says so in ``cancelling()``.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def create_worker(
    settings: Settings,
    *,
    concurrency: int | None = None,
    burst: bool = False,
    handle_signals: bool = True,
) -> Worker:
    """Build the worker; ``burst`` drains the queue and exits (tests, one-off runs)."""
    return ResilientWorker(
        functions=[
            func(
                generation_run,
                name=GENERATION_RUN,
                timeout=settings.job_timeout,
                max_tries=GENERATION_DELIVERIES,
                keep_result=0,
            ),
            func(
                webhook_deliver,
                name=WEBHOOK_DELIVER,
                timeout=settings.webhook_timeout + WEBHOOK_TASK_SLACK,
                max_tries=len(settings.webhook_retry_schedule) + EXTRA_DELIVERIES,
                keep_result=0,
            ),
        ],
        cron_jobs=[
            cron(outbox_sweep, name=OUTBOX_SWEEP, second=SWEEP_SECONDS, unique=True, timeout=30),
            cron(
                webhooks_sweep,
                name=WEBHOOKS_SWEEP,
                second=WEBHOOK_SWEEP_SECONDS,
                unique=True,
                timeout=30,
            ),
            cron(jobs_recover, name=JOBS_RECOVER, second=RECOVER_SECONDS, unique=True, timeout=30),
            cron(schedules_fire, name=SCHEDULES_FIRE, second=FIRE_SECONDS, unique=True, timeout=30),
            # Hourly; expired keys only cost disk space meanwhile.
            cron(
                idempotency_purge,
                name=IDEMPOTENCY_PURGE,
                minute=17,
                second=0,
                unique=True,
                timeout=300,
            ),
            # Hourly, so each pass is a small slice; a pass cut off by its timeout leaves its
            # committed batches done and the next pass carries on.
            cron(audit_prune, name=AUDIT_PRUNE, minute=47, second=0, unique=True, timeout=300),
        ],
        redis_pool=connect(settings.redis_url),
        queue_name=QUEUE_NAME,
        job_serializer=serializer.serialize,
        job_deserializer=serializer.deserialize,
        on_startup=_on_startup(settings),
        on_shutdown=_on_shutdown,
        max_jobs=concurrency or settings.worker_concurrency,
        poll_delay=settings.worker_poll_delay,
        keep_result=0,
        burst=burst,
        handle_signals=handle_signals,
        # SIGTERM: stop taking jobs, let running ones finish for up to the drain timeout.
        job_completion_wait=settings.worker_drain_timeout,
        health_check_interval=30,
    )
