"""A worker SIGKILLed in the middle of a job: another worker finishes it, billed once.

Real processes (one gateway, two workers), the fake model over HTTP with a slow answer so the
kill lands during the model call, and a short lease so recovery is quick.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from tests.factories import ENGLISH_SAMPLES
from tests.fakes.openai_server import FakeOpenAI
from tests.support.processes import Platform, run_platform, sign_up

pytestmark = pytest.mark.e2e
LEASE_SECONDS = 3


@pytest.fixture(scope="module")
def platform(
    fake_openai: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    with run_platform(
        fake_openai,
        tmp_path_factory.mktemp("crash-logs"),
        workers=2,
        extra_env={"JOB_LEASE_SECONDS": str(LEASE_SECONDS)},
    ) as running:
        yield running


def _query(platform: Platform, sql: str, *args: Any) -> list[asyncpg.Record]:
    async def fetch() -> list[asyncpg.Record]:
        url = platform.env["DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")
        connection = await asyncpg.connect(url)
        try:
            return list(await connection.fetch(sql, *args))
        finally:
            await connection.close()

    return asyncio.run(fetch())


def test_a_killed_workers_job_is_finished_by_another_worker(
    platform: Platform, fake_openai: FakeOpenAI
) -> None:
    with httpx.Client(base_url=f"{platform.base_url}/api/v1", timeout=60) as api:
        headers = sign_up(api, "crash@example.com")
        profile = api.post(
            "/profiles", json={"name": "Ada", "samples": ENGLISH_SAMPLES}, headers=headers
        ).json()
        fake_openai.set_latency(30)  # the first attempt hangs in the model call
        job_id = api.post(
            "/jobs",
            json={"profile_id": profile["id"], "platform": "x", "topic": "crash test"},
            headers=headers,
        ).json()["id"]

        deadline = time.monotonic() + 20
        holder = None
        while holder is None and time.monotonic() < deadline:
            rows = _query(platform, "SELECT leased_by FROM jobs WHERE id = $1", job_id)
            holder = rows[0]["leased_by"] if rows else None
            time.sleep(0.1)
        assert holder, "no worker claimed the job"
        os.kill(int(holder.rsplit(":", 1)[1]), signal.SIGKILL)
        fake_openai.set_latency(0)
        # ARQ alone would re-run the job only after JOB_TIMEOUT (300 s) + 10 s; the lease
        # brings it back within about LEASE_SECONDS + 5 s, well inside this long poll.
        done = api.get(f"/jobs/{job_id}", params={"wait": 30}, headers=headers).json()

    assert done["status"] == "succeeded", done
    assert done["attempts"] == 2
    (finisher,) = _query(platform, "SELECT leased_by FROM jobs WHERE id = $1", job_id)
    assert finisher["leased_by"] != holder
    ledger = _query(platform, "SELECT count(*) AS n FROM usage_ledger WHERE job_id = $1", job_id)
    assert ledger[0]["n"] == 1
