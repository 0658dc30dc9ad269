"""The outbox relay: sends committed messages to ARQ in the background, in batches.

A unit of work hands its messages over after its commit and returns at once, so a request
never waits on Redis. The relay enqueues each message (ARQ ``_job_id`` dedupes), then deletes
the sent rows in one statement per batch. Anything it cannot send (Redis down, the process
killed first) stays in the outbox table, where the sweeper finds it: a message is never lost,
and a second send is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from arq.connections import ArqRedis
from loguru import logger
from sqlalchemy import delete
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.queue import outbox
from shared.queue.models import OutboxMessage


class OutboxRelay:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], redis: ArqRedis) -> None:
        self.redis = redis
        self._sessions = sessions
        self._pending: list[outbox.Message] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None

    def submit(self, messages: Sequence[outbox.Message]) -> None:
        """Queue committed ``messages`` for sending; never blocks, never raises."""
        self._pending.extend(messages)
        self._idle.clear()
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def drain(self) -> None:
        """Wait until everything submitted so far has been handled (sent or left for later)."""
        await self._idle.wait()

    async def aclose(self) -> None:
        """Send what is pending, then stop (shutdown)."""
        if self._pending:
            await self.drain()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            if batch:
                await self._send(batch)
            if not self._pending:
                self._idle.set()

    async def _send(self, batch: list[outbox.Message]) -> None:
        sent = await outbox.deliver(self.redis, batch)
        if not sent:
            return
        try:
            async with self._sessions() as session:
                connection = await session.connection(
                    execution_options={"isolation_level": "AUTOCOMMIT"}
                )
                await connection.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(sent)))
        except (SQLAlchemyError, OSError) as exc:
            # The rows stay; the sweeper sends them again, which ARQ or the task ignores.
            logger.warning("outbox.forget_failed", error=type(exc).__name__, sent=len(sent))
