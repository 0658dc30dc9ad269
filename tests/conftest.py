"""Shared fixtures: a real Postgres database and Redis db per test run, the fake model over
HTTP, the gateway served by uvicorn on a real port, and an in-process ARQ worker.

Each test run gets its own database (migrated once with Alembic) and its own Redis logical
database; tables are truncated after every test.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from arq.connections import ArqRedis
from arq.worker import Worker
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from gateway.app import create_app
from shared.config import Settings, load_settings
from shared.db.engine import Database
from shared.db.migrations import upgrade_to_head
from shared.db.registry import metadata
from shared.db.uow import UnitOfWork
from shared.observability.tracing import configure_tracing
from shared.queue.client import connect
from shared.queue.heartbeat import live_workers
from shared.queue.relay import OutboxRelay
from tests.fakes.openai_server import FakeOpenAI
from tests.support.services import (
    claim_redis_db,
    create_test_database,
    postgres_admin_url,
    redis_base_url,
)
from workers.main import create_worker

TEST_JWT_SECRET = "test-only-secret-0123456789abcdefghijklmnopqrstuvwxyz"
TEST_MODEL_KEYS = ("sk-test-primary-0000000000", "sk-test-secondary-000000000")
PASSWORD = "correct horse battery staple"
GENEROUS_RATE = "1000000/minute"
# The session's in-process ARQ worker, once a test has started it.
_running_workers: list[Worker] = []


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    url, drop = create_test_database(postgres_admin_url())
    upgrade_to_head(url)
    yield url
    drop()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url, release = claim_redis_db(redis_base_url())
    yield url
    release()


@pytest.fixture(scope="session", autouse=True)
def span_exporter() -> InMemorySpanExporter:
    """Every span of the run (gateway and in-process worker share this process's provider)."""
    exporter = InMemorySpanExporter()
    configure_tracing("ghostpen-tests").add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture(scope="session")
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_keys=TEST_MODEL_KEYS) as server:
        yield server


@pytest.fixture(autouse=True)
def _reset_fake_openai(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "fake_openai" in request.fixturenames:
        request.getfixturevalue("fake_openai").reset()


def base_env(database_url: str, redis_url: str, fake: FakeOpenAI) -> dict[str, str]:
    """The environment the black-box acceptance run uses, pointed at this run's services."""
    return {
        "GHOSTPEN_ENV": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "JWT_SECRET": TEST_JWT_SECRET,
        "OPENAI_API_KEYS": ",".join(TEST_MODEL_KEYS),
        "OPENAI_BASE_URL": fake.base_url,
        "OPENAI_MODEL": "gpt-4o-mini",
        "OPENAI_TIMEOUT": "5",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "info",
        "ALLOWED_ORIGINS": "https://app.example.com",
        "WORKER_POLL_DELAY": "0.02",
        "JOB_MAX_ATTEMPTS": "3",
        # Webhook receivers in tests listen on 127.0.0.1; retries are quick.
        "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
        "WEBHOOK_RETRY_SCHEDULE": "0,0.2,0.4,0.6",
        # Tests inject model outages back to back into one long-lived worker; the breaker's
        # own behaviour is tested directly (tests/unit/providers/test_breaker.py).
        "MODEL_BREAKER_THRESHOLD": "20",
        # Every test calls from 127.0.0.1 and the chaos run submits thousands of jobs as two
        # users; tests/integration/gateway/test_rate_limits.py serves apps with small limits.
        "RATE_LIMITS": f"anonymous={GENEROUS_RATE},user={GENEROUS_RATE},admin={GENEROUS_RATE}",
        "SUBMIT_RATE_LIMITS": f"user={GENEROUS_RATE},admin={GENEROUS_RATE}",
        # Failed logins and refreshes from 127.0.0.1 add up over a run; accounts keep the
        # default limit. tests/integration/auth/test_login_lockout.py serves small limits.
        "LOGIN_MAX_FAILURES_PER_IP": "1000000",
    }


@pytest.fixture(scope="session")
def env(database_url: str, redis_url: str, fake_openai: FakeOpenAI) -> dict[str, str]:
    return base_env(database_url, redis_url, fake_openai)


@pytest.fixture(scope="session")
def settings(env: dict[str, str]) -> Settings:
    return load_settings(env)


@pytest.fixture(scope="session")
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database.from_settings(settings, application_name="ghostpen-tests")
    yield database
    await database.dispose()


@pytest.fixture(scope="session")
async def redis(settings: Settings) -> AsyncIterator[ArqRedis]:
    client = connect(settings.redis_url)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
async def relay(db: Database, redis: ArqRedis) -> AsyncIterator[OutboxRelay]:
    outbox_relay = OutboxRelay(db.sessions, redis)
    yield outbox_relay
    await outbox_relay.aclose()


@pytest.fixture
def uow_factory(db: Database, relay: OutboxRelay) -> Any:
    return lambda: UnitOfWork(db.sessions, relay)


@pytest.fixture(autouse=True)
async def _clean_tables(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    yield
    if "db" not in request.fixturenames:
        return
    if _running_workers:
        # Started by this or an earlier test: it may still be finishing what a test queued.
        await _wait_until_idle(_running_workers[0])
    database: Database = request.getfixturevalue("db")
    tables = ", ".join(table.name for table in metadata.sorted_tables)
    # The session-wide worker (once any test started it) keeps running cron passes and jobs
    # a test left queued; TRUNCATE may then deadlock with it. Postgres aborts one side, and
    # truncating again is all it takes.
    for attempt in range(5):
        try:
            async with database.engine.begin() as connection:
                await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            return
        except DBAPIError as exc:
            if "deadlock" not in str(exc) or attempt == 4:
                raise
            await asyncio.sleep(0.1)


async def _wait_until_idle(arq_worker: Worker, limit: float = 10.0) -> None:
    """Let jobs a test left running finish, so truncation does not race the worker's writes."""
    deadline = asyncio.get_running_loop().time() + limit
    while any(not task.done() for task in arq_worker.tasks.values()):
        if asyncio.get_running_loop().time() > deadline:
            return
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[str]:
    """Serve the real app with uvicorn on an ephemeral port, in the test event loop."""
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=0, log_config=None, lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="session")
async def gateway_url(settings: Settings) -> AsyncIterator[str]:
    async with serve(settings) as url:
        yield url


@pytest.fixture
async def api(gateway_url: str, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway_url, timeout=70) as client:
        yield client


async def start_worker(settings: Settings, redis: ArqRedis) -> tuple[Worker, asyncio.Task[None]]:
    """Start a real ARQ worker in the test event loop; return once it has beaten."""
    arq_worker = create_worker(settings, handle_signals=False)
    task = asyncio.create_task(arq_worker.async_run())
    deadline = asyncio.get_running_loop().time() + 10
    while not await live_workers(redis):  # started: on_startup ran and it has beaten
        assert not task.done(), task
        assert asyncio.get_running_loop().time() < deadline, "the worker did not start"
        await asyncio.sleep(0.02)
    return arq_worker, task


async def stop_worker(arq_worker: Worker, task: asyncio.Task[None]) -> None:
    """Not arq's close(): with signal handling off it cancels the running jobs and then awaits
    them, so it raises CancelledError before on_shutdown. Stop polling, then shut down."""
    await _wait_until_idle(arq_worker)
    while not task.done():
        # A cancel that lands inside one of arq's shielded sections is absorbed; repeat it.
        assert arq_worker.main_task is not None
        arq_worker.main_task.cancel()
        await asyncio.wait({task}, timeout=0.2)
    with contextlib.suppress(asyncio.CancelledError):
        task.result()
    assert arq_worker.on_shutdown is not None
    await arq_worker.on_shutdown(arq_worker.ctx)
    await arq_worker.pool.aclose()


@pytest.fixture(scope="session")
async def worker(settings: Settings, db: Database, redis: ArqRedis) -> AsyncIterator[Worker]:
    """A real ARQ worker polling this run's Redis db, in the test event loop."""
    arq_worker, task = await start_worker(settings, redis)
    _running_workers.append(arq_worker)
    yield arq_worker
    _running_workers.remove(arq_worker)
    await stop_worker(arq_worker, task)


@dataclass
class TestUser:
    __test__ = False

    user_id: str
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def register_and_login(api: httpx.AsyncClient, email: str | None = None) -> TestUser:
    email = email or f"user-{uuid.uuid4().hex[:10]}@example.com"
    created = await api.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
    assert created.status_code == 201, created.text
    tokens = await api.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    return TestUser(
        user_id=created.json()["id"],
        email=email,
        password=PASSWORD,
        access_token=body["access_token"],
        refresh_token=body["refresh_token"],
    )


@pytest.fixture
def make_user(api: httpx.AsyncClient) -> Any:
    async def make(email: str | None = None) -> TestUser:
        return await register_and_login(api, email)

    return make
