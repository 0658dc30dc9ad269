"""SIGTERM to a gateway process answers its pending long polls at once and exits cleanly.

A real ``ghostpen gateway`` process on a fresh database and Redis; no worker runs, so a job and
a batch stay ``queued`` and their long polls would otherwise hold for the full ``wait=60``.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.factories import ENGLISH_SAMPLES
from tests.fakes.openai_server import FakeOpenAI
from tests.support.processes import Fleet, Platform, run_platform, sign_up

pytestmark = pytest.mark.e2e
# Not a timing test: the polls must answer long before their 60 s wait would, and before
# uvicorn's 25 s graceful-shutdown limit would cut them.
ANSWER_WITHIN = 15.0
EXIT_WITHIN = 20.0


@pytest.fixture
def platform(fake_openai: FakeOpenAI, tmp_path: Path) -> Iterator[Platform]:
    """A migrated database and a Redis db; the test starts (and signals) its own gateway."""
    with run_platform(fake_openai, tmp_path, gateways=0, workers=0) as running:
        yield running


@pytest.fixture
def gateway(platform: Platform, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    fleet = Fleet(platform.env, tmp_path)
    process = fleet.spawn_gateway()
    try:
        fleet.wait_ready(fleet.gateway_urls[0], path="/health/ready?workers=false")
        yield process, fleet.gateway_urls[0]
    finally:
        if process.poll() is None:
            fleet.kill(process)


def _long_poll(base_url: str, path: str, headers: dict[str, str]) -> tuple[float, httpx.Response]:
    started = time.monotonic()
    response = httpx.get(
        f"{base_url}/api/v1{path}", params={"wait": 60}, headers=headers, timeout=90
    )
    return time.monotonic() - started, response


def test_sigterm_answers_pending_long_polls_and_exits_cleanly(
    gateway: tuple[subprocess.Popen[bytes], str], tmp_path: Path
) -> None:
    process, base_url = gateway
    with httpx.Client(base_url=f"{base_url}/api/v1", timeout=30) as api:
        headers = sign_up(api, "drain@example.com")
        profile = api.post(
            "/profiles", json={"name": "Ada", "samples": ENGLISH_SAMPLES}, headers=headers
        ).json()
        job = api.post(
            "/jobs",
            json={"profile_id": profile["id"], "platform": "x", "topic": "drain test"},
            headers=headers,
        )
        assert job.status_code == 202, job.text
        item = {"custom_id": "a", "profile_id": profile["id"], "platform": "x", "topic": "t"}
        batch = api.post("/batches", json={"items": [item]}, headers=headers)
        assert batch.status_code == 202, batch.text

    with ThreadPoolExecutor(max_workers=2) as pool:
        polls: list[Future[tuple[float, httpx.Response]]] = [
            pool.submit(_long_poll, base_url, f"/jobs/{job.json()['id']}", headers),
            pool.submit(_long_poll, base_url, f"/batches/{batch.json()['id']}", headers),
        ]
        time.sleep(1.0)  # both polls are surely waiting by now
        assert not any(poll.done() for poll in polls)
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        (job_seconds, job_poll), (batch_seconds, batch_poll) = (
            poll.result(timeout=ANSWER_WITHIN) for poll in polls
        )
        exit_code = process.wait(timeout=EXIT_WITHIN)
        exited_after = time.monotonic() - signalled

    log = (tmp_path / "gateway-0.log").read_text()
    assert job_poll.status_code == 200, job_poll.text
    assert job_poll.json()["status"] == "queued"
    assert batch_poll.status_code == 200, batch_poll.text
    assert batch_poll.json()["status"] == "in_progress"
    assert max(job_seconds, batch_seconds) < ANSWER_WITHIN
    assert exit_code == 0, log
    assert exited_after < EXIT_WITHIN
    assert '"gateway.draining"' in log
