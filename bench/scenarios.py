"""What the benchmark does through the API: a user and profile, submit→done runs, queue drains."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import asyncpg
import httpx
from redis.asyncio import Redis

from bench.loadgen import percentile
from shared.queue.client import QUEUE_NAME
from tests.conftest import PASSWORD

TERMINAL = frozenset({"succeeded", "failed", "canceled"})
SAMPLES = [
    "Shipped the new onboarding flow today. Three weeks, two rewrites, one lesson: talk to users "
    "before you draw a single box.",
    "Hot take: most meetings are status updates that should have been a short written note. "
    "Write it down, share it, and get back to building.",
    "We cut our deploy time from 40 minutes to 6. No magic: smaller images, cached layers, and "
    "tests that run in parallel. Boring wins.",
    "Hiring update: we're looking for a backend engineer who likes Postgres more than buzzwords. "
    "Remote-friendly, small team, real ownership.",
]


@dataclass
class Account:
    """The benchmark's user: its bearer header and the profile jobs are submitted against."""

    authorization: str
    profile_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": self.authorization}

    def job_body(self) -> dict[str, str]:
        return {
            "profile_id": self.profile_id,
            "platform": "linkedin",
            "topic": "Why small teams ship faster than big ones",
        }


async def create_account(base_url: str) -> Account:
    """Register, sign in and create a style profile."""
    email = f"bench-{uuid.uuid4().hex[:10]}@example.com"
    credentials = {"email": email, "password": PASSWORD}
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        created = await client.post("/api/v1/auth/register", json=credentials)
        _expect(created, 201)
        login = await client.post("/api/v1/auth/login", json=credentials)
        _expect(login, 200)
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        samples = [{"platform": "linkedin", "text": text} for text in SAMPLES]
        profile = await client.post(
            "/api/v1/profiles",
            json={"name": "Bench author", "samples": samples, "language": "en"},
            headers=headers,
        )
        _expect(profile, 201)
        return Account(authorization=headers["Authorization"], profile_id=profile.json()["id"])


def _expect(response: httpx.Response, status: int) -> None:
    if response.status_code != status:
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path}: expected {status}, "
            f"got {response.status_code}: {response.text[:500]}"
        )


@dataclass
class EndToEnd:
    """Submit→terminal timings in ms over ``jobs`` jobs with ``in_flight`` at a time."""

    jobs: int
    in_flight: int
    statuses: dict[str, int]
    seconds: float
    overhead_p50_ms: float  # submit answered → terminal status observed (long poll)
    overhead_p90_ms: float
    overhead_p99_ms: float
    overhead_max_ms: float
    submit_p50_ms: float  # the POST itself
    submit_p99_ms: float
    total_p50_ms: float  # submit sent → terminal status observed
    total_p99_ms: float
    server_p50_ms: float  # the job row's finished_at - created_at
    server_p99_ms: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def end_to_end(
    base_url: str, account: Account, *, jobs: int, in_flight: int, warmup: int = 10
) -> EndToEnd:
    """Each client submits a job, long-polls ``?wait=30`` until it is terminal, and repeats."""
    overheads: list[float] = []
    submits: list[float] = []
    totals: list[float] = []
    server: list[float] = []
    statuses: Counter[str] = Counter()
    limits = httpx.Limits(max_connections=in_flight * 2, max_keepalive_connections=in_flight * 2)
    async with httpx.AsyncClient(base_url=base_url, timeout=70, limits=limits) as client:

        async def one(record: bool) -> None:
            sent = time.perf_counter()
            response = await client.post(
                "/api/v1/jobs", json=account.job_body(), headers=account.headers
            )
            accepted = time.perf_counter()
            _expect(response, 202)
            job_id = response.json()["id"]
            while True:
                polled = await client.get(
                    f"/api/v1/jobs/{job_id}", params={"wait": 30}, headers=account.headers
                )
                _expect(polled, 200)
                job = polled.json()
                if job["status"] in TERMINAL:
                    break
            done = time.perf_counter()
            if not record:
                return
            statuses[job["status"]] += 1
            submits.append(accepted - sent)
            overheads.append(done - accepted)
            totals.append(done - sent)
            if job.get("finished_at"):
                finished = datetime.fromisoformat(job["finished_at"])
                server.append(
                    (finished - datetime.fromisoformat(job["created_at"])).total_seconds()
                )

        for _ in range(warmup):
            await one(record=False)
        remaining = iter(range(jobs))

        async def client_loop() -> None:
            for _ in remaining:
                await one(record=True)

        started = time.perf_counter()
        await asyncio.gather(*(client_loop() for _ in range(in_flight)))
        elapsed = time.perf_counter() - started

    def ms(values: list[float], q: float) -> float:
        return percentile(values, q) * 1000

    return EndToEnd(
        jobs=jobs,
        in_flight=in_flight,
        statuses=dict(statuses),
        seconds=elapsed,
        overhead_p50_ms=ms(overheads, 50),
        overhead_p90_ms=ms(overheads, 90),
        overhead_p99_ms=ms(overheads, 99),
        overhead_max_ms=ms(overheads, 100),
        submit_p50_ms=ms(submits, 50),
        submit_p99_ms=ms(submits, 99),
        total_p50_ms=ms(totals, 50),
        total_p99_ms=ms(totals, 99),
        server_p50_ms=ms(server, 50),
        server_p99_ms=ms(server, 99),
    )


@dataclass
class Drain:
    """What the worker made of the jobs a load phase left queued.

    The worker drains for at most ``window`` seconds (that gives its rate); whatever is still
    queued then is canceled, as the cancel endpoint would, so the worker skips it cheaply
    and the next phase starts on an empty queue without a long wait.
    """

    backlog: int  # queued or running when the load stopped
    finished: int  # of those, finished by the worker within the window
    seconds: float  # the window actually used
    rate: float  # jobs finished per second while draining
    canceled: int  # still queued after the window, canceled
    drained: bool  # nothing queued or running at the end

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def active_jobs(database_url: str) -> int:
    connection = await asyncpg.connect(database_url)
    try:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')"
        )
        return count
    finally:
        await connection.close()


async def _wait(database_url: str, limit: float) -> int:
    """Poll until no job is queued or running, or ``limit`` seconds pass; return what is left."""
    deadline = time.perf_counter() + limit
    remaining = await active_jobs(database_url)
    while remaining and time.perf_counter() < deadline:
        await asyncio.sleep(0.25)
        remaining = await active_jobs(database_url)
    return remaining


async def cancel_queued(database_url: str) -> int:
    """Cancel every queued job, the way ``POST /jobs/{id}/cancel`` does; return how many."""
    connection = await asyncpg.connect(database_url)
    try:
        status: str = await connection.execute(
            "UPDATE jobs SET status = 'canceled', error_code = 'canceled',"
            " error_message = 'canceled by the benchmark', finished_at = now(),"
            " updated_at = now() WHERE status = 'queued'"
        )
        return int(status.rsplit(" ", 1)[-1])
    finally:
        await connection.close()


async def forget_queue(redis_url: str) -> None:
    """Drop the canceled jobs' queue entries too, or the worker spends the next phase
    skipping thousands of them (each a cheap but real task run)."""
    client = Redis.from_url(redis_url)
    try:
        await client.delete(QUEUE_NAME)
    finally:
        await client.aclose()


async def drain(database_url: str, redis_url: str, *, window: float, limit: float) -> Drain:
    """Let the worker drain for ``window`` s, cancel the rest, wait (``limit`` s) for quiet."""
    started = time.perf_counter()
    backlog = await active_jobs(database_url)
    remaining = await _wait(database_url, window) if backlog else 0
    elapsed = time.perf_counter() - started
    finished = backlog - remaining
    canceled = 0
    if remaining:
        canceled = await cancel_queued(database_url)
        await forget_queue(redis_url)
        remaining = await _wait(database_url, limit)
    return Drain(
        backlog=backlog,
        finished=finished,
        seconds=elapsed,
        rate=finished / elapsed if elapsed > 0 and finished else 0.0,
        canceled=canceled,
        drained=remaining == 0,
    )


async def job_counts(database_url: str) -> dict[str, int]:
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch("SELECT status, count(*) AS n FROM jobs GROUP BY status")
        return {row["status"]: row["n"] for row in rows}
    finally:
        await connection.close()


async def server_settings(database_url: str) -> dict[str, str]:
    """The local Postgres's durability settings and version, for the caveats."""
    connection = await asyncpg.connect(database_url)
    try:
        names = ("server_version", "fsync", "synchronous_commit", "full_page_writes", "wal_level")
        return {name: str(await connection.fetchval(f"SHOW {name}")) for name in names}
    finally:
        await connection.close()
