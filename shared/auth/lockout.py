"""Brute-force protection for sign-in: failures counted per account and per client address in
Redis, and a growing lock once they pile up.

Locks are checked before any password is verified, so a locked account or address costs one
Redis round trip, never an argon2 hash. An unknown email is counted and locked exactly like a
registered one, so the answers never tell which accounts exist. Losing Redis must not lock
everyone out: the checks then let attempts through (fail open) and log a warning.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import math
from typing import Literal

import msgspec
from loguru import logger
from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared.config import Settings
from shared.errors import RateLimited

KEY_PREFIX = "ghostpen:login:"
LOCKED = "too many failed sign-in attempts; retry later"
# A Redis that hangs must not hold sign-ins for its 5 s socket timeout.
REDIS_TIMEOUT = 0.5

LockScope = Literal["account", "ip"]

# KEYS: a failure counter and its lock key per scope. ARGV: the window, the first lock, then
# each scope's threshold. Counts the failure; from the threshold on, (re)starts the lock,
# doubled for every failure past it and capped at the window. The counter outlives the lock
# by the window, so the first failure after a lock ends locks again, for longer.
_RECORD_FAILURE = """
local window = tonumber(ARGV[1])
local first_lock = tonumber(ARGV[2])
local locks = {}
for i = 1, #KEYS, 2 do
  local failures = redis.call('INCR', KEYS[i])
  local threshold = tonumber(ARGV[2 + (i + 1) / 2])
  local lock = 0
  if failures >= threshold then
    lock = math.min(first_lock * 2 ^ (failures - threshold), window)
    redis.call('SET', KEYS[i + 1], '1', 'EX', lock)
  end
  redis.call('EXPIRE', KEYS[i], window + lock)
  locks[#locks + 1] = lock
end
return locks
"""


class Lock(msgspec.Struct, frozen=True):
    """A lock a failure started: on the account or on the client's address."""

    scope: LockScope
    seconds: int


async def ensure_unlocked(redis: Redis, *, email: str | None, ip: str | None) -> None:
    """Refuse the attempt while the address (or the account, when given) is locked.

    Raises:
        RateLimited: locked; ``retry_after`` is when the longer lock ends.
    """
    keys = [_key("ip", _address(ip), "lock")]
    if email is not None:
        keys.append(_key("account", _account(email), "lock"))
    try:
        async with asyncio.timeout(REDIS_TIMEOUT), redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.pttl(key)
            remaining: list[int] = await pipe.execute()
    except (RedisError, OSError, TimeoutError) as exc:
        logger.warning("auth.lockout_unavailable", error=type(exc).__name__)
        return
    longest = max(remaining)  # milliseconds; negative when there is no lock
    if longest > 0:
        raise RateLimited(LOCKED, retry_after=math.ceil(longest / 1000))


async def record_failure(
    redis: Redis, settings: Settings, *, email: str | None, ip: str | None
) -> list[Lock]:
    """Count a failed attempt against the address (and the account, when given).

    Returns the locks this failure started; none when Redis is unreachable.
    """
    scopes: list[tuple[LockScope, str, int]] = [
        ("ip", _address(ip), settings.login_max_failures_per_ip)
    ]
    if email is not None:
        scopes.append(("account", _account(email), settings.login_max_failures_per_account))
    keys = [_key(scope, name, kind) for scope, name, _ in scopes for kind in ("failures", "lock")]
    args = [
        settings.login_failure_window,
        settings.login_lock_seconds,
        *(threshold for _, _, threshold in scopes),
    ]
    try:
        async with asyncio.timeout(REDIS_TIMEOUT):
            started: list[int] = await redis.register_script(_RECORD_FAILURE)(keys, args)
    except (RedisError, OSError, TimeoutError) as exc:
        logger.warning("auth.lockout_unavailable", error=type(exc).__name__)
        return []
    return [
        Lock(scope=scope, seconds=int(seconds))
        for (scope, _, _), seconds in zip(scopes, started, strict=True)
        if seconds
    ]


async def forget_account(redis: Redis, email: str) -> None:
    """Clear an account's failures after a successful sign-in.

    The address's count stays: signing in to an account of their own must not wipe the
    count of an attacker's guesses at other accounts.
    """
    try:
        async with asyncio.timeout(REDIS_TIMEOUT):
            await redis.delete(_key("account", _account(email), "failures"))
    except (RedisError, OSError, TimeoutError) as exc:
        logger.warning("auth.lockout_unavailable", error=type(exc).__name__)


def _key(scope: LockScope, name: str, kind: Literal["failures", "lock"]) -> str:
    return f"{KEY_PREFIX}{scope}:{name}:{kind}"


def _account(email: str) -> str:
    """The normalised address, hashed: no email addresses in Redis key names."""
    return hashlib.sha256(email.encode()).hexdigest()


def _address(ip: str | None) -> str:
    """An IPv6 client is counted by its /64, which one host usually holds whole."""
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return ip or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return str(address)
