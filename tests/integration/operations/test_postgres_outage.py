"""Postgres restarts under a running gateway and worker: quick 503s while it is down, and both
recover by themselves when it is back (no restart of either)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import msgspec

from ghostpen.embedded import EmbeddedPostgres
from shared.config import Settings, normalize_database_url
from shared.db.migrations import upgrade_to_head
from shared.queue.client import connect
from tests.conftest import PASSWORD, serve, start_worker, stop_worker
from tests.factories import ENGLISH_SAMPLES
from tests.support.services import claim_redis_db, redis_base_url


async def _until_ready(client: httpx.AsyncClient, *, seconds: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while (await client.get("/health/ready", params={"workers": "false"})).status_code != 200:
        assert asyncio.get_running_loop().time() < deadline, "the gateway did not recover"
        await asyncio.sleep(0.2)


async def test_gateway_and_worker_recover_after_a_postgres_restart(
    settings: Settings, tmp_path: Path
) -> None:
    postgres = EmbeddedPostgres(tmp_path / "postgres")
    url = await asyncio.to_thread(postgres.start)
    await asyncio.to_thread(upgrade_to_head, url)
    # Its own Redis db too: the session's worker must not take this database's jobs.
    redis_url, release = await asyncio.to_thread(claim_redis_db, redis_base_url())
    own = msgspec.structs.replace(
        settings, database_url=normalize_database_url(url), redis_url=redis_url
    )
    redis = connect(redis_url)
    arq_worker, task = await start_worker(own, redis)
    try:
        async with serve(own) as base_url, httpx.AsyncClient(base_url=base_url, timeout=60) as api:
            email = "outage@example.com"
            await api.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
            login = await api.post(
                "/api/v1/auth/login", json={"email": email, "password": PASSWORD}
            )
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            profile = await api.post(
                "/api/v1/profiles",
                json={"name": "Ada", "samples": ENGLISH_SAMPLES},
                headers=headers,
            )
            job = {"profile_id": profile.json()["id"], "platform": "x", "topic": "outage"}

            await asyncio.to_thread(postgres.stop)
            refused = await api.post("/api/v1/jobs", json=job, headers=headers)
            assert refused.status_code == 503, refused.text
            assert refused.json()["code"] == "service_unavailable"
            assert int(refused.headers["retry-after"]) > 0
            ready = await api.get("/health/ready", params={"workers": "false"})
            assert ready.status_code == 503

            await asyncio.to_thread(postgres.start)
            await _until_ready(api)
            accepted = await api.post("/api/v1/jobs", json=job, headers=headers)
            assert accepted.status_code == 202, accepted.text
            job_id = accepted.json()["id"]
            done = await api.get(f"/api/v1/jobs/{job_id}", params={"wait": 30}, headers=headers)
            assert done.json()["status"] == "succeeded", done.text
    finally:
        await stop_worker(arq_worker, task)
        await redis.aclose()
        await asyncio.to_thread(release)
        await asyncio.to_thread(postgres.stop)
