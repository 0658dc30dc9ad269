"""Worker contexts for calling task functions directly, as ARQ would."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from arq.connections import ArqRedis

from shared.config import Settings
from shared.db.engine import Database
from shared.queue.client import connect
from shared.queue.relay import OutboxRelay
from workers.context import WorkerDeps
from workers.providers import Provider, build_provider

MakeContext = Callable[[OutboxRelay], dict[str, Any]]


@pytest.fixture
async def make_worker_ctx(
    settings: Settings, db: Database, redis: ArqRedis
) -> AsyncIterator[MakeContext]:
    """Build a ctx whose enqueues go through ``relay``."""
    providers: list[Provider] = []

    def make(relay: OutboxRelay) -> dict[str, Any]:
        provider = build_provider(
            settings.openai_api_keys, settings.openai_base_url, settings.openai_timeout
        )
        providers.append(provider)
        deps = WorkerDeps(
            settings=settings, db=db, redis=redis, provider=provider, relay=relay, worker_id="t"
        )
        return {"deps": deps, "job_try": 1}

    yield make
    for provider in providers:
        await provider.aclose()


@pytest.fixture
async def worker_ctx(
    make_worker_ctx: MakeContext, db: Database, redis: ArqRedis
) -> AsyncIterator[dict[str, Any]]:
    relay = OutboxRelay(db.sessions, redis)
    yield make_worker_ctx(relay)
    await relay.aclose()


@pytest.fixture
async def unsent_ctx(make_worker_ctx: MakeContext, db: Database) -> AsyncIterator[dict[str, Any]]:
    """A ctx whose messages never reach Redis: only the test drives the jobs it touches."""
    dead = connect("redis://127.0.0.1:1/0")
    relay = OutboxRelay(db.sessions, dead)
    yield make_worker_ctx(relay)
    await relay.aclose()
    await dead.aclose()
