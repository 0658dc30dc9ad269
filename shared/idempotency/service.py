"""Idempotency keys: the first request with a key acts, its retries replay its response.

Everything happens in the request's own transaction: the key is claimed before acting and
the response stored before the commit, so a key is either free (the request failed and
rolled back) or holds a complete response. Two requests racing with one key serialise on
its primary key, so only one of them acts.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import msgspec
from loguru import logger
from sqlalchemy.ext.asyncio import AsyncSession

from shared.clock import utcnow
from shared.errors import IdempotencyConflict
from shared.idempotency import repository

PURGE_CHUNK = 1_000


class StoredResponse(msgspec.Struct, frozen=True):
    status_code: int
    body: bytes
    location: str | None = None


def fingerprint(method: str, path: str, data: Any) -> str:
    """SHA-256 over the method, route path and canonical JSON of the decoded body."""
    body = msgspec.json.encode(msgspec.to_builtins(data), order="sorted")
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


async def begin(
    session: AsyncSession, user_id: str, key: str, request_hash: str, *, ttl_seconds: int
) -> StoredResponse | None:
    """Claim ``key`` (None: go ahead and act) or return the response to replay.

    Raises IdempotencyConflict when the key was used for a different request.
    """
    now = utcnow()
    expires_at = now + timedelta(seconds=ttl_seconds)
    if await repository.claim(session, user_id, key, request_hash, now=now, expires_at=expires_at):
        return None
    # The row the claim ran into is committed, so it holds a complete response.
    record = await repository.get(session, user_id, key)
    if record is None:
        # Purged between the two statements (it expired just now): the key is free again.
        return await begin(session, user_id, key, request_hash, ttl_seconds=ttl_seconds)
    if record.request_hash != request_hash:
        raise IdempotencyConflict("this Idempotency-Key was used for a different request")
    logger.info("idempotency.replayed", status=record.status_code)
    return StoredResponse(
        status_code=record.status_code, body=record.body, location=record.location
    )


async def complete(session: AsyncSession, user_id: str, key: str, response: StoredResponse) -> None:
    """Store the response of the request that claimed ``key`` (before its commit)."""
    await repository.complete(
        session,
        user_id,
        key,
        status_code=response.status_code,
        body=response.body,
        location=response.location,
    )


async def purge_expired(session: AsyncSession) -> int:
    """Delete one chunk of expired keys; return how many went (commit per chunk)."""
    return await repository.purge_expired(session, utcnow(), PURGE_CHUNK)
