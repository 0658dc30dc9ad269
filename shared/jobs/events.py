"""Completion events over Redis pub/sub, so long polls never hot-poll Postgres.

Whoever commits a job's (or a batch's) terminal state publishes its id. Each gateway process
keeps ONE subscription and wakes the requests waiting on that id. Losing an event costs
latency only: waiters always re-read Postgres when they wake or time out, and every waiter is
woken when the subscription is re-established after a Redis outage.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

from loguru import logger
from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared.queue.client import JOB_EVENTS_CHANNEL

T = TypeVar("T")


async def publish_finished(redis: Redis, *ids: str) -> None:
    """Announce that jobs or batches finished; best effort: a missed event only delays a long
    poll until its timeout."""
    try:
        async with redis.pipeline(transaction=False) as pipe:
            for finished_id in ids:
                pipe.publish(JOB_EVENTS_CHANNEL, finished_id)
            await pipe.execute()
    except (RedisError, OSError) as exc:
        logger.warning("job.event_publish_failed", count=len(ids), error=type(exc).__name__)


class JobEventHub:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._waiters: defaultdict[str, set[asyncio.Event]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self._draining = False

    @property
    def draining(self) -> bool:
        return self._draining

    def drain(self) -> None:
        """Answer every long poll now and let none wait from here on: the process is stopping,
        and a poll cut by the server's shutdown would reach its client as a dropped
        connection instead of the subject's current state."""
        self._draining = True
        self._wake_all()

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="job-event-hub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @contextlib.contextmanager
    def waiter(self, job_id: str) -> Iterator[asyncio.Event]:
        """Register before reading the job (or batch), so an event between read and wait is not
        lost."""
        event = asyncio.Event()
        self._waiters[job_id].add(event)
        try:
            yield event
        finally:
            waiters = self._waiters.get(job_id)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._waiters[job_id]

    async def wait_for(
        self,
        subject_id: str,
        read: Callable[[], Awaitable[T]],
        finished: Callable[[T], bool],
        seconds: float,
    ) -> T:
        """Long poll: ``read`` the subject; unless ``finished``, wait for its event (or
        ``seconds``) and read it again. ``read`` should hold a connection only while reading.
        While draining it only reads: the answer is the subject's current state."""
        with self.waiter(subject_id) as event:
            current = await read()
            if finished(current) or self._draining:
                return current
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), seconds)
        return await read()

    def _wake(self, job_id: str) -> None:
        for event in self._waiters.get(job_id, ()):
            event.set()

    def _wake_all(self) -> None:
        for waiters in self._waiters.values():
            for event in waiters:
                event.set()

    async def _listen(self) -> None:
        delay = 0.5
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(JOB_EVENTS_CHANNEL)
                    self._wake_all()
                    delay = 0.5
                    while True:
                        # A bounded wait keeps the read under the client's socket timeout.
                        message = await pubsub.get_message(
                            ignore_subscribe_messages=True, timeout=1.0
                        )
                        if message is not None and message.get("type") == "message":
                            data = message["data"]
                            self._wake(data.decode() if isinstance(data, bytes) else str(data))
            except (RedisError, OSError) as exc:
                logger.warning("job.event_hub_reconnect", error=type(exc).__name__, delay=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
