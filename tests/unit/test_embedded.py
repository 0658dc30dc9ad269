"""The embedded servers behind ``ghostpen dev`` and the test-service resolution around them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest
import redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from ghostpen.embedded import EmbeddedPostgres, EmbeddedValkey
from shared.config import normalize_database_url
from tests.support.services import (
    CLAIM_KEY,
    claim_redis_db,
    create_test_database,
    postgres_admin_url,
    redis_base_url,
)

AF_UNIX_PATH_MAX = 107


async def _select_one(url: str) -> int:
    connection = await asyncpg.connect(url)
    try:
        value: int = await connection.fetchval("select 1")
        return value
    finally:
        await connection.close()


async def _select_one_as_the_app_does(url: str) -> int:
    engine = create_async_engine(normalize_database_url(url))
    try:
        async with engine.connect() as connection:
            value: int = (await connection.execute(text("select 1"))).scalar_one()
            return value
    finally:
        await engine.dispose()


def test_valkey_keeps_keys_across_a_restart(tmp_path: Path) -> None:
    valkey = EmbeddedValkey(tmp_path / "valkey")
    url = valkey.start()
    try:
        with redis.Redis.from_url(url) as client:
            assert client.ping()
            client.set("greeting", "hello")
        valkey.stop()
        valkey.stop()
        with redis.Redis.from_url(url) as client, pytest.raises(redis.ConnectionError):
            client.ping()

        assert valkey.start() == url
        with redis.Redis.from_url(url) as client:
            assert client.get("greeting") == b"hello"
    finally:
        valkey.stop()


def test_a_second_valkey_cannot_share_a_data_dir(tmp_path: Path) -> None:
    with (
        EmbeddedValkey(tmp_path / "valkey"),
        pytest.raises(RuntimeError, match="another valkey-server uses"),
    ):
        EmbeddedValkey(tmp_path / "valkey").start()


async def test_postgres_serves_databases_and_keeps_them_across_a_restart(tmp_path: Path) -> None:
    postgres = EmbeddedPostgres(tmp_path / "postgres")
    try:
        url = postgres.start()
        assert url.startswith("postgresql://postgres@/ghostpen?host=/")
        reports = postgres.create_database("reports")
        assert await _select_one(url) == 1
        assert await _select_one_as_the_app_does(url) == 1
        assert await _select_one(reports) == 1

        postgres.stop()
        postgres.stop()
        with pytest.raises(FileNotFoundError):
            await asyncpg.connect(url)

        assert postgres.start() == url
        assert await _select_one(reports) == 1
    finally:
        postgres.stop()


async def test_postgres_moves_a_socket_path_too_long_for_af_unix(tmp_path: Path) -> None:
    data_dir = tmp_path / ("d" * AF_UNIX_PATH_MAX)
    with EmbeddedPostgres(data_dir) as postgres:
        socket_dir = Path(postgres.url().partition("host=")[2].partition("&")[0])
        assert len(str(socket_dir / ".s.PGSQL.5432")) <= AF_UNIX_PATH_MAX
        assert await _select_one(postgres.url()) == 1
    # The library leaves its fallback socket directory behind, empty.
    await asyncio.to_thread(socket_dir.rmdir)


async def test_a_run_gets_its_own_database_dropped_afterwards() -> None:
    url, drop = create_test_database(postgres_admin_url())
    assert await _select_one(url) == 1
    leftover = await asyncpg.connect(url)
    try:
        drop()
    finally:
        # The server has cut this connection; terminate() frees it without writing to it.
        leftover.terminate()
    with pytest.raises(asyncpg.InvalidCatalogNameError):
        await asyncpg.connect(url)


def test_parallel_runs_get_different_empty_redis_databases() -> None:
    first_url, release_first = claim_redis_db(redis_base_url())
    second_url, release_second = claim_redis_db(redis_base_url())
    try:
        assert first_url != second_url
        with redis.Redis.from_url(first_url) as client:
            assert client.keys() == [CLAIM_KEY.encode()]
            client.set("job", "queued")
        release_first()
        with redis.Redis.from_url(first_url) as client:
            assert client.dbsize() == 0
    finally:
        release_first()
        release_second()
