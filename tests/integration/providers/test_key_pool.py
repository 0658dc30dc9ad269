"""The key pool over HTTP against the fake server, and its state in `GET /admin/queue`."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from arq.connections import ArqRedis

from shared.config import Settings
from tests.fakes.openai_server import FakeOpenAI
from tests.support.admin import make_admin
from workers.providers import (
    ChatMessage,
    GenerationRequest,
    OpenAIProvider,
    ProviderError,
    worker_provider,
)
from workers.providers.keypool import RELOAD_CHECK_SECONDS

GOOD = ("sk-pool-good-one", "sk-pool-good-two")
BAD = "sk-pool-revoked"
REQUEST = GenerationRequest(
    model="gpt-4o-mini",
    messages=(ChatMessage(role="user", content="Write a post about <topic>key pools</topic>."),),
    max_tokens=100,
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_keys=GOOD) as fake:
        yield fake


@pytest.fixture
def fake(server: FakeOpenAI) -> FakeOpenAI:
    server.reset()
    return server


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def open_provider(fake: FakeOpenAI, clock: Clock) -> AsyncIterator[Any]:
    """Build providers on the fake server with the test's clock; closes them afterwards."""
    made: list[OpenAIProvider] = []

    def make(keys: list[str], keys_file: Path | None = None) -> OpenAIProvider:
        provider = OpenAIProvider(
            keys,
            fake.base_url,
            timeout=2,
            keys_file=str(keys_file) if keys_file else None,
            clock=clock,
        )
        made.append(provider)
        return provider

    yield make
    for provider in made:
        await provider.aclose()


def sent(fake: FakeOpenAI) -> list[tuple[str | None, int | None]]:
    return [(request.api_key, request.status) for request in fake.requests]


async def test_a_bad_first_key_costs_the_call_nothing(fake: FakeOpenAI, open_provider: Any) -> None:
    provider = open_provider([BAD, *GOOD])

    first = await provider.generate(REQUEST)
    await provider.generate(REQUEST)
    await provider.generate(REQUEST)

    assert "key pools" in first.text.lower()
    assert sent(fake) == [(BAD, 401), (GOOD[0], 200), (GOOD[1], 200), (GOOD[0], 200)]
    assert provider.pool.counts() == (2, 0, 1)


async def test_a_rate_limited_key_is_left_alone_while_the_other_serves(
    fake: FakeOpenAI, open_provider: Any, clock: Clock
) -> None:
    provider = open_provider(list(GOOD))
    fake.inject({"status": 429, "retry_after": 30})

    with pytest.raises(ProviderError) as caught:
        await provider.generate(REQUEST)
    await provider.generate(REQUEST)
    await provider.generate(REQUEST)
    clock.now += 30
    await provider.generate(REQUEST)

    # Another key was free, so the job retries soon rather than after the 30 s.
    assert (caught.value.code, caught.value.retryable) == ("model_rate_limited", True)
    assert caught.value.retry_after is None
    assert sent(fake) == [(GOOD[0], 429), (GOOD[1], 200), (GOOD[1], 200), (GOOD[0], 200)]


async def test_all_keys_rate_limited_defers_until_the_first_is_free(
    fake: FakeOpenAI, open_provider: Any, clock: Clock
) -> None:
    provider = open_provider(list(GOOD))
    fake.inject({"status": 429, "retry_after": 20}, {"status": 429, "retry_after": 8})
    for _ in range(2):
        with pytest.raises(ProviderError):
            await provider.generate(REQUEST)
    clock.now += 3

    with pytest.raises(ProviderError) as caught:
        await provider.generate(REQUEST)

    assert (caught.value.code, caught.value.retryable) == ("model_rate_limited", True)
    assert caught.value.retry_after == pytest.approx(5)
    assert len(fake.requests) == 2  # the third call did not reach the API


async def test_a_rotated_keys_file_is_picked_up_without_a_restart(
    fake: FakeOpenAI, open_provider: Any, clock: Clock, tmp_path: Path
) -> None:
    keys_file = tmp_path / "openai_keys"
    keys_file.write_text(f"{BAD}\n")
    provider = open_provider([BAD], keys_file)
    with pytest.raises(ProviderError) as caught:
        await provider.generate(REQUEST)
    assert (caught.value.code, caught.value.retryable) == ("model_auth_failed", False)

    mtime = keys_file.stat().st_mtime_ns + 10**9
    keys_file.write_text(f"{BAD}\n{GOOD[1]}\n")
    os.utime(keys_file, ns=(mtime, mtime))
    clock.now += RELOAD_CHECK_SECONDS
    await provider.generate(REQUEST)

    assert sent(fake) == [(BAD, 401), (GOOD[1], 200)]
    assert provider.pool.counts() == (1, 0, 1)


async def test_admin_queue_shows_each_workers_key_pool(
    api: httpx.AsyncClient,
    make_user: Any,
    uow_factory: Any,
    settings: Settings,
    redis: ArqRedis,
    fake_openai: FakeOpenAI,
) -> None:
    admin = await make_admin(make_user, uow_factory)
    keys = (BAD, *settings.openai_api_keys)
    provider = worker_provider(
        msgspec.structs.replace(settings, openai_api_keys=keys), redis, "pool-test:1"
    )
    try:
        await provider.generate(REQUEST)  # the first key is refused, the second answers
        queue = await poll_queue(api, admin.headers, lambda pool: pool["quarantined"] == 1)
    finally:
        await provider.aclose()

    [pool] = [pool for pool in queue["key_pool"] if pool["worker_id"] == "pool-test:1"]
    assert (pool["healthy"], pool["cooling"], pool["quarantined"]) == (len(keys) - 1, 0, 1)
    assert pool["circuit"] == "closed"
    assert not any(key in str(queue) for key in keys)
    after = (await api.get("/api/v1/admin/queue", headers=admin.headers)).json()
    assert "pool-test:1" not in [pool["worker_id"] for pool in after["key_pool"]]


async def poll_queue(api: httpx.AsyncClient, headers: dict[str, str], done: Any) -> Any:
    """`GET /admin/queue` until this test's worker reports a pool that satisfies `done`."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        queue = (await api.get("/api/v1/admin/queue", headers=headers)).json()
        mine = [pool for pool in queue["key_pool"] if pool["worker_id"] == "pool-test:1"]
        if mine and done(mine[0]):
            return queue
        assert asyncio.get_running_loop().time() < deadline, queue
        await asyncio.sleep(0.05)
