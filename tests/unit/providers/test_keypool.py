"""The key pool with an injected clock: rotation, cool-down, quarantine, exhaustion, reload."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from loguru import logger

from shared.config import load_settings
from shared.observability.metrics import REGISTRY
from workers.providers import ProviderError
from workers.providers.keypool import RELOAD_CHECK_SECONDS, KeyPool, fingerprint

REFUSED = ProviderError("model_auth_failed", "HTTP 401", retryable=False, status=401)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Clients:
    """Stands in for the SDK clients: a client is its key's name, closing is recorded."""

    def __init__(self) -> None:
        self.closed: list[str] = []

    def connect(self, key: str) -> str:
        return f"client-{key}"

    async def disconnect(self, client: str) -> None:
        self.closed.append(client)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def clients() -> Clients:
    return Clients()


def make_pool(
    keys: list[str], clock: Clock, clients: Clients, keys_file: Path | None = None
) -> KeyPool[str]:
    return KeyPool(
        keys,
        connect=clients.connect,
        disconnect=clients.disconnect,
        keys_file=str(keys_file) if keys_file else None,
        clock=clock,
    )


async def use(pool: KeyPool[str]) -> str:
    """One call's key: acquire and release at once."""
    slot = await pool.acquire()
    await pool.release(slot)
    return slot.key


async def uses(pool: KeyPool[str], count: int) -> list[str]:
    return [await use(pool) for _ in range(count)]


async def test_rotates_over_unique_keys_least_recently_used_first(
    clock: Clock, clients: Clients
) -> None:
    pool = make_pool(["a", "b", "a", "", "c"], clock, clients)

    assert await uses(pool, 6) == ["a", "b", "c", "a", "b", "c"]
    assert repr(pool) == "KeyPool(<3 keys>)"


def test_needs_a_key(clock: Clock, clients: Clients) -> None:
    with pytest.raises(ValueError, match="at least one"):
        make_pool(["", ""], clock, clients)


async def test_a_rate_limited_key_cools_down_for_retry_after(
    clock: Clock, clients: Clients
) -> None:
    pool = make_pool(["a", "b"], clock, clients)
    slot = await pool.acquire()
    pool.cool_down(slot, 3.0)
    await pool.release(slot)

    assert await uses(pool, 3) == ["b", "b", "b"]
    assert pool.counts() == (1, 1, 0)
    clock.now += 3.0
    assert await uses(pool, 2) == ["a", "b"]
    assert pool.counts() == (2, 0, 0)


async def test_cool_down_without_retry_after_uses_the_default(
    clock: Clock, clients: Clients
) -> None:
    pool = make_pool(["a", "b"], clock, clients)
    pool.cool_down(await pool.acquire(), None)

    clock.now += 9.9
    assert await uses(pool, 2) == ["b", "b"]
    clock.now += 0.1
    assert "a" in await uses(pool, 2)


async def test_a_refused_key_is_quarantined_for_good(clock: Clock, clients: Clients) -> None:
    pool = make_pool(["a", "b"], clock, clients)
    pool.quarantine(await pool.acquire(), REFUSED)

    clock.now += 3600
    assert await uses(pool, 3) == ["b", "b", "b"]
    assert pool.counts() == (1, 0, 1)
    assert REGISTRY.get_sample_value("ghostpen_model_keys", {"state": "quarantined"}) == 1


async def test_all_keys_cooling_is_retryable_after_the_soonest_cooldown(
    clock: Clock, clients: Clients
) -> None:
    pool = make_pool(["a", "b", "c"], clock, clients)
    pool.cool_down(await pool.acquire(), 5.0)
    pool.cool_down(await pool.acquire(), 2.0)
    pool.quarantine(await pool.acquire(), REFUSED)
    clock.now += 0.5

    with pytest.raises(ProviderError) as caught:
        await pool.acquire()

    error = caught.value
    assert (error.code, error.retryable) == ("model_rate_limited", True)
    assert error.retry_after == pytest.approx(1.5)


async def test_all_keys_quarantined_is_permanent(clock: Clock, clients: Clients) -> None:
    pool = make_pool(["a", "b"], clock, clients)
    pool.quarantine(await pool.acquire(), REFUSED)
    pool.quarantine(await pool.acquire(), REFUSED)

    with pytest.raises(ProviderError) as caught:
        await pool.acquire()

    assert (caught.value.code, caught.value.retryable) == ("model_auth_failed", False)
    assert pool.counts() == (0, 0, 2)


async def test_logs_name_keys_by_fingerprint_only(clock: Clock, clients: Clients) -> None:
    records: list[str] = []
    sink = logger.add(
        lambda message: records.append(str(message.record)),
        level="INFO",
        filter="workers.providers.keypool",  # not the lines of other tasks in this loop
    )
    try:
        pool = make_pool(["sk-secret-one", "sk-secret-two"], clock, clients)
        pool.cool_down(await pool.acquire(), 1.0)
        pool.quarantine(await pool.acquire(), REFUSED)
    finally:
        logger.remove(sink)

    assert all("sk-secret" not in record for record in records)
    # Other tasks in this event loop (the session's worker) log from this module too.
    ours = [
        record
        for record in records
        if fingerprint("sk-secret-one") in record or fingerprint("sk-secret-two") in record
    ]
    assert len(ours) == 2
    assert fingerprint("sk-secret-one") in ours[0]


@pytest.fixture
def keys_file(tmp_path: Path) -> Path:
    path = tmp_path / "openai_keys"
    path.write_text("a\nb\n")
    return path


def rewrite(path: Path, text: str) -> None:
    """Write and move the mtime forward, as a deploy that replaces the file would."""
    before = path.stat().st_mtime_ns
    path.write_text(text)
    os.utime(path, ns=(before + 10**9, before + 10**9))


async def test_reloads_the_keys_file_when_it_changes(
    clock: Clock, clients: Clients, keys_file: Path
) -> None:
    pool = make_pool(["a", "b"], clock, clients, keys_file)
    assert await uses(pool, 2) == ["a", "b"]

    rewrite(keys_file, "b, c\n")
    assert await use(pool) == "a"  # checked at most every few seconds
    clock.now += RELOAD_CHECK_SECONDS

    assert await uses(pool, 3) == ["c", "b", "c"]
    assert pool.fingerprints == [fingerprint("b"), fingerprint("c")]
    assert clients.closed == ["client-a"]


async def test_a_removed_key_in_use_is_closed_after_its_call(
    clock: Clock, clients: Clients, keys_file: Path
) -> None:
    pool = make_pool(["a", "b"], clock, clients, keys_file)
    busy = await pool.acquire()
    rewrite(keys_file, "b")
    clock.now += RELOAD_CHECK_SECONDS

    assert await use(pool) == "b"
    assert clients.closed == []
    await pool.release(busy)
    assert clients.closed == ["client-a"]


async def test_a_quarantined_key_stays_quarantined_across_reloads(
    clock: Clock, clients: Clients, keys_file: Path
) -> None:
    pool = make_pool(["a", "b"], clock, clients, keys_file)
    pool.quarantine(await pool.acquire(), REFUSED)

    rewrite(keys_file, "b\nc\na")
    clock.now += RELOAD_CHECK_SECONDS
    assert await uses(pool, 2) == ["b", "c"]
    rewrite(keys_file, "c")
    clock.now += RELOAD_CHECK_SECONDS
    await pool.refresh()
    rewrite(keys_file, "a\nc")
    clock.now += RELOAD_CHECK_SECONDS

    assert await uses(pool, 2) == ["c", "c"]
    assert pool.counts() == (1, 0, 1)


def spoil(path: Path, damage: str) -> None:
    if damage == "empty":
        rewrite(path, "  \n")
    else:
        path.unlink()


@pytest.mark.parametrize("damage", ["empty", "missing"])
async def test_an_empty_or_unreadable_file_keeps_the_keys(
    clock: Clock, clients: Clients, keys_file: Path, damage: str
) -> None:
    pool = make_pool(["a", "b"], clock, clients, keys_file)
    spoil(keys_file, damage)
    clock.now += RELOAD_CHECK_SECONDS

    assert await uses(pool, 2) == ["a", "b"]
    assert clients.closed == []


def test_settings_keep_the_keys_file_path(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("sk-one\nsk-two, sk-three\n")

    settings = load_settings(
        {
            "DATABASE_URL": "postgresql://u:p@localhost/db",
            "REDIS_URL": "redis://localhost:6379/0",
            "OPENAI_API_KEYS_FILE": str(keys),
            "MODEL_BREAKER_COOLOFF": "30s",
        }
    )

    assert settings.openai_api_keys == ("sk-one", "sk-two", "sk-three")
    assert settings.openai_api_keys_file == str(keys)
    assert (settings.model_key_cooldown, settings.model_breaker_threshold) == (10.0, 5)
    assert (settings.model_breaker_cooloff, settings.model_breaker_max_cooloff) == (30, 300)


async def test_jobs_wait_for_the_soonest_cooldown_only_when_every_key_cools(
    clock: Clock, clients: Clients
) -> None:
    """Found by the chaos suite: a job that started while every key cooled used an attempt."""
    pool = make_pool(["a", "b", "c"], clock, clients)
    assert pool.wait_seconds() is None
    pool.quarantine(await pool.acquire(), REFUSED)  # "a"
    pool.cool_down(await pool.acquire(), 3.0)  # "b"
    assert pool.wait_seconds() is None  # "c" is free
    pool.cool_down(await pool.acquire(), 1.5)  # "c"
    assert pool.wait_seconds() == 1.5
    clock.now += 1.5
    assert pool.wait_seconds() is None
    pool.quarantine(await pool.acquire(), REFUSED)  # "c"
    assert pool.wait_seconds() == 1.5  # "b" still cools
    clock.now += 1.5
    pool.quarantine(await pool.acquire(), REFUSED)  # "b"
    assert pool.wait_seconds() is None  # nothing to wait for: calls fail with the reason
