"""Engines and session factories built from settings.

A connection attempt is bounded by ``DB_CONNECT_TIMEOUT`` (0.8 s), so that when Postgres is
unreachable or silent a request fails fast with 503 instead of hanging. Waiting for a pooled
connection while all are busy is load, not an outage: ``DB_POOL_TIMEOUT`` (5 s) lets a burst
queue rather than turn into 503s (a black-box burst of 400 requests got 302 of them).

Disconnects are handled optimistically by default: a connection found dead invalidates the
whole pool, so after a Postgres restart one request per process gets a 503 and the next ones
use fresh connections. ``DB_POOL_PRE_PING=true`` trades two round trips per checkout (the
asyncpg dialect pings inside a throwaway transaction) for never seeing that one 503.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from shared.config import Settings


def create_engine(settings: Settings, url: str, *, application_name: str) -> AsyncEngine:
    return create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        pool_pre_ping=settings.db_pool_pre_ping,
        pool_recycle=1800,
        # Errors carry the statement, not its values: those include password hashes, webhook
        # secrets and users' text, and an error's message ends up in a logged traceback.
        hide_parameters=True,
        connect_args={
            "timeout": settings.db_connect_timeout,
            "server_settings": {
                "application_name": application_name,
                "statement_timeout": str(settings.db_statement_timeout_ms),
                "idle_in_transaction_session_timeout": "60000",
            },
        },
    )


@dataclass(slots=True)
class Database:
    """The primary engine, and a read engine (the replica when configured)."""

    engine: AsyncEngine
    read_engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    read_sessions: async_sessionmaker[AsyncSession]

    @classmethod
    def from_settings(cls, settings: Settings, *, application_name: str) -> Database:
        engine = create_engine(settings, settings.database_url, application_name=application_name)
        read_engine = (
            create_engine(settings, settings.database_read_url, application_name=application_name)
            if settings.database_read_url
            else engine
        )
        return cls(
            engine=engine,
            read_engine=read_engine,
            sessions=async_sessionmaker(engine, expire_on_commit=False, autoflush=False),
            read_sessions=async_sessionmaker(read_engine, expire_on_commit=False, autoflush=False),
        )

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()
