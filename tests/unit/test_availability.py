"""Outages are told apart from bugs: the gateway answers 503, workers run the task again."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from arq import Retry
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

from shared.availability import is_unavailable
from workers.tasks import retried_through_outages

STALE = InterfaceError("SELECT 1", None, Exception("connection is closed"))
STALE.connection_invalidated = True


@pytest.mark.parametrize(
    "exc",
    [
        STALE,
        OperationalError("SELECT 1", None, Exception("refused")),
        RedisConnectionError("down"),
        ConnectionRefusedError(),
        # Postgres restarting or recovering after a crash: found by the chaos suite as 500s.
        DBAPIError("SELECT 1", None, asyncpg.CannotConnectNowError("starting up")),
        DBAPIError("SELECT 1", None, asyncpg.AdminShutdownError("terminating connection")),
        asyncpg.TooManyConnectionsError("too many clients"),
    ],
)
async def test_outages_are_retried_later(exc: BaseException) -> None:
    assert is_unavailable(exc)

    @retried_through_outages
    async def task(ctx: dict[str, Any], payload: dict[str, Any]) -> str:
        raise exc

    with pytest.raises(Retry):
        await task({}, {})


async def test_bugs_are_not_retried() -> None:
    assert not is_unavailable(ValueError("bug"))
    duplicate = asyncpg.UniqueViolationError("duplicate key")
    assert not is_unavailable(IntegrityError("INSERT", None, duplicate))

    @retried_through_outages
    async def task(ctx: dict[str, Any], payload: dict[str, Any]) -> str:
        raise ValueError("bug")

    with pytest.raises(ValueError, match="bug"):
        await task({}, {})
