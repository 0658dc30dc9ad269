"""When Postgres is unreachable the gateway answers 503 quickly instead of hanging."""

from __future__ import annotations

import asyncio
import time

import httpx
import msgspec

from shared.config import Settings
from shared.db.engine import Database
from tests.conftest import serve


async def test_database_down_is_a_quick_503(settings: Settings) -> None:
    broken = msgspec.structs.replace(
        settings,
        database_url="postgresql+asyncpg://postgres@127.0.0.1:1/nowhere",
        database_read_url=None,
    )
    async with serve(broken) as url, httpx.AsyncClient(base_url=url) as client:
        started = time.monotonic()
        response = await client.post(
            "/api/v1/auth/login", json={"email": "a@example.com", "password": "x" * 12}
        )
        assert time.monotonic() - started < 3
        assert response.status_code == 503
        assert response.headers["retry-after"]
        assert response.json()["code"] == "service_unavailable"
        assert "127.0.0.1" not in response.text
        ready = await client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"]["ok"] is False


async def test_a_silent_database_host_is_a_503_not_a_hang(settings: Settings) -> None:
    """A Postgres host that accepts the connection but never answers (a hung server, a network
    path gone half-open): the handshake is bounded by DB_CONNECT_TIMEOUT."""

    async def say_nothing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the gateway gives up and closes
        writer.close()

    silent = await asyncio.start_server(say_nothing, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    broken = msgspec.structs.replace(
        settings,
        database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{port}/silent",
        database_read_url=None,
    )
    async with (
        silent,
        serve(broken) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        response = await client.post(
            "/api/v1/auth/login", json={"email": "a@example.com", "password": "x" * 12}
        )
    assert response.status_code == 503
    assert response.headers["retry-after"]
    assert response.json()["code"] == "service_unavailable"


async def test_read_endpoints_use_the_replica_engine_when_configured(
    settings: Settings, db: Database
) -> None:
    replica = msgspec.structs.replace(settings, database_read_url=settings.database_url)
    async with serve(replica) as url, httpx.AsyncClient(base_url=url) as client:
        email, password = "replica@example.com", "correct horse battery"
        await client.post("/api/v1/auth/register", json={"email": email, "password": password})
        login = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        listed = await client.get("/api/v1/profiles", headers=headers)
        assert listed.status_code == 200
        assert listed.json() == {"data": [], "next_cursor": None}
