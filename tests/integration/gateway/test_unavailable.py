"""When Postgres is unreachable the gateway answers 503 quickly instead of hanging."""

from __future__ import annotations

import time

import httpx
import msgspec

from shared.config import Settings
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
