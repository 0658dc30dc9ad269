"""The unit of work: one session, one transaction, and the messages it must send.

Entry points (gateway requests, worker tasks) own it; services only add and flush. Messages
go into the outbox inside the transaction and reach Redis only after the commit succeeded,
so a worker never sees a job its database row does not back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from types import TracebackType

import msgspec
from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.queue import outbox
from shared.queue.relay import OutboxRelay


class UnitOfWork:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], relay: OutboxRelay) -> None:
        self.session = sessions()
        self.relay = relay
        self._sessions = sessions
        self._pending: list[outbox.Message] = []
        self._after_commit: list[Callable[[], Awaitable[None]]] = []

    def after_commit(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run ``callback`` once the transaction has committed (notifications, not state)."""
        self._after_commit.append(callback)

    @asynccontextmanager
    async def abandon(self) -> AsyncIterator[AsyncSession]:
        """Roll this unit of work back, then write in a transaction committed when the block ends.

        For what a request about to fail must leave behind (a failed login, the revocation of a
        stolen refresh token's session), which its rollback would otherwise take along. Rolling
        back first returns this transaction's connection and locks, so the request never holds
        two pooled connections and the block never waits on a lock of its own request.
        """
        await self.rollback()
        async with self._sessions() as session, session.begin():
            yield session

    def enqueue(self, task: str, queue_job_id: str, payload: msgspec.Struct) -> None:
        """Send ``task`` once this unit of work commits (never if it rolls back)."""
        self._pending.append(outbox.message(task, queue_job_id, payload))

    async def commit(self) -> None:
        pending, self._pending = self._pending, []
        if pending:
            await outbox.write(self.session, pending)
        await self.session.commit()
        callbacks, self._after_commit = self._after_commit, []
        if pending:
            self.relay.submit(pending)
        for callback in callbacks:
            await callback()

    @property
    def redis(self) -> ArqRedis:
        return self.relay.redis

    async def rollback(self) -> None:
        self._pending.clear()
        self._after_commit.clear()
        await self.session.rollback()

    async def close(self) -> None:
        """Roll back anything pending and return the connection to the pool."""
        self._pending.clear()
        self._after_commit.clear()
        await self.session.close()

    async def __aenter__(self) -> UnitOfWork:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is not None:
                await self.rollback()
        finally:
            await self.close()
