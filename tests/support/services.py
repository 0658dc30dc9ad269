"""The Postgres and Redis a test run uses: an override, the local services, or embedded ones.

Local services on 127.0.0.1 are preferred because they are already warm; a bare machine (or
``GHOSTPEN_TEST_EMBEDDED=1``) gets embedded servers, started once per process and stopped at exit.
Each run then takes its own database and its own Redis logical database, so runs in parallel
(several checkouts, several xdist workers) never see each other's data.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import os
import secrets
import shutil
import socket
import tempfile
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import redis
from loguru import logger

from ghostpen.embedded import HOST, EmbeddedPostgres, EmbeddedValkey

LOCAL_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379"
CLAIM_KEY = "ghostpen:test-claim"
CLAIM_SECONDS = 3600
REDIS_DATABASES = range(1, 16)


def postgres_admin_url() -> str:
    """URL of the ``postgres`` database on the server this run uses."""
    if url := os.environ.get("GHOSTPEN_TEST_DATABASE_URL"):
        return url
    if not _force_embedded() and _accepts_tcp(5432):
        return LOCAL_POSTGRES_URL
    return _embedded_postgres()


def redis_base_url() -> str:
    """``redis://host:port`` (no database) of the server this run uses."""
    if url := os.environ.get("GHOSTPEN_TEST_REDIS_URL"):
        return urlsplit(url)._replace(path="").geturl()
    if not _force_embedded() and _accepts_tcp(6379):
        return LOCAL_REDIS_URL
    return _embedded_valkey()


def _force_embedded() -> bool:
    return os.environ.get("GHOSTPEN_TEST_EMBEDDED") == "1"


def _accepts_tcp(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


@functools.cache
def _embedded_postgres() -> str:
    # mkdtemp under /tmp keeps the socket path short enough to stay inside the data dir.
    root = Path(tempfile.mkdtemp(prefix="gp-pg-"))
    server = EmbeddedPostgres(root / "data")
    atexit.register(_stop_at_exit, server, root)
    server.start()
    return server.url("postgres")


@functools.cache
def _embedded_valkey() -> str:
    root = Path(tempfile.mkdtemp(prefix="gp-valkey-"))
    server = EmbeddedValkey(root, appendonly=False)
    atexit.register(_stop_at_exit, server, root)
    server.start()
    return f"redis://{HOST}:{server.port}"


def _stop_at_exit(server: EmbeddedPostgres | EmbeddedValkey, root: Path) -> None:
    """Stop ``server`` and delete its files, quietly: pytest has closed loguru's stream by now."""
    logger.disable("ghostpen.embedded")
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


def create_test_database(admin_url: str) -> tuple[str, Callable[[], None]]:
    """Create a database only this run uses; return its URL and a callback that drops it."""
    name = f"ghostpen_test_{os.getpid()}_{secrets.token_hex(4)}"
    admin = _with_database(admin_url, urlsplit(admin_url).path.strip("/") or "postgres")
    _run(_execute(admin, f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        # FORCE terminates the connections a test left open (pools, a crashed worker) first.
        _run(_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return _with_database(admin_url, name), drop


def _with_database(url: str, database: str) -> str:
    """``url`` naming ``database``, in the plain ``postgresql://`` form asyncpg and libpq read.

    String surgery rather than urlunsplit, which drops the ``//`` of an empty host
    (``postgresql://postgres@/db?host=/socket/dir``).
    """
    parts = urlsplit(url)
    query = f"?{parts.query}" if parts.query else ""
    return f"postgresql://{parts.netloc}/{database}{query}"


async def _execute(url: str, sql: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def _run(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run ``coroutine`` to completion from sync code, even inside a running event loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coroutine).result()


def claim_redis_db(base_url: str) -> tuple[str, Callable[[], None]]:
    """Claim an empty logical database 1..15 no other run holds; return its URL and a release.

    The claim is a key inside that database, so tests must clean up by deleting keys, not with
    FLUSHDB, or the database looks free to the next run. Database 0 is left to development.
    """
    token = f"{os.getpid()}:{uuid.uuid4().hex}"
    for db in REDIS_DATABASES:
        url = f"{base_url}/{db}"
        with redis.Redis.from_url(url) as client:
            if not client.set(CLAIM_KEY, token, nx=True, ex=CLAIM_SECONDS):
                continue
            # Flush and re-claim in one transaction, so the database is never unclaimed between.
            with client.pipeline(transaction=True) as pipe:
                pipe.flushdb().set(CLAIM_KEY, token, ex=CLAIM_SECONDS).execute()
        return url, functools.partial(_release, url, token)
    raise RuntimeError(
        f"every Redis database {REDIS_DATABASES.start}..{REDIS_DATABASES.stop - 1} at {base_url}"
        f" is claimed by another test run (key {CLAIM_KEY!r}, expires {CLAIM_SECONDS} s after"
        " the claim); wait, or delete stale claims"
    )


def _release(url: str, token: str) -> None:
    """Empty the database, the claim included, unless another run has taken it over since."""
    with redis.Redis.from_url(url) as client:
        if client.get(CLAIM_KEY) == token.encode():
            client.flushdb()
