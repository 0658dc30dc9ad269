"""Password hashing with argon2id (OWASP minimum parameters).

One hash costs about 50 ms of CPU and 19 MiB of memory, so the async wrappers run it in a
worker thread, and a limiter bounds how many run at once: a burst of logins queues instead of
exhausting memory or the thread pool that the rest of the gateway shares.
"""

from __future__ import annotations

import os
import secrets
from functools import cache

import anyio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP Password Storage Cheat Sheet, argon2id minimum: m=19 MiB, t=2, p=1.
TIME_COST = 2
MEMORY_COST = 19_456
PARALLELISM = 1

_hasher = PasswordHasher(time_cost=TIME_COST, memory_cost=MEMORY_COST, parallelism=PARALLELISM)
_limiter = anyio.CapacityLimiter(max(2, os.cpu_count() or 2))


def hash_password(password: str) -> str:
    """Return an argon2id hash (salt and parameters encoded in the string)."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches; a mismatch or an unreadable hash is ``False``, never raises.

    argon2 compares in constant time, so a wrong password costs as long as a right one.
    """
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError, ValueError):
        # ValueError also covers a hash with non-ASCII bytes (UnicodeEncodeError).
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with other parameters (or is unreadable) and should be redone."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except (InvalidHashError, ValueError):
        return True


async def hash_password_async(password: str) -> str:
    """:func:`hash_password` in a worker thread, so the event loop keeps serving."""
    return await anyio.to_thread.run_sync(hash_password, password, limiter=_limiter)


async def verify_password_async(password_hash: str, password: str) -> bool:
    """:func:`verify_password` in a worker thread, so the event loop keeps serving."""
    return await anyio.to_thread.run_sync(
        verify_password, password_hash, password, limiter=_limiter
    )


@cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


async def verify_dummy_async(password: str) -> None:
    """Spend the time of one verification when there is no user to verify against.

    Without it, "unknown email" answers ~50 ms faster than "wrong password" and the response
    time reveals which addresses have accounts.
    """
    dummy = await anyio.to_thread.run_sync(_dummy_hash, limiter=_limiter)
    await verify_password_async(dummy, password)
