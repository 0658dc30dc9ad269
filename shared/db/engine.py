"""Engines and session factories built from settings.

Pool acquisition and connection attempts are bounded by ``DB_POOL_TIMEOUT`` so that, when
Postgres is unreachable, a request fails fast with 503 instead of hanging.

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
            "timeout": settings.db_pool_timeout,
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
