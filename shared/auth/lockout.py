"""Brute-force protection for sign-in: failures counted per account and per client address in
Redis, and a growing lock once they pile up.

Every attempt first takes a place in each scope it counts against, atomically in one script:
refused while a lock runs, and refused too while the attempts in flight already fill the
failures still allowed (one at a time once a lock has ended). So a burst of concurrent
guesses gets no more password checks than the limit allows, where a check-then-count would
let all of them through before the first failure is counted. The place is given back when
the attempt is settled: a failure is counted in the same script, a success clears the
account's count. A place whose process died frees itself after ``ATTEMPT_TTL``. Counting
places, rather than allowing one verification at a time per account, keeps concurrent
sign-ins with the right password (a double click, two devices) working, and holds the
per-address limit to the same rule.

The lock and the places are checked before any password is verified, so a refused attempt
costs one Redis round trip, never an argon2 hash. An unknown email is counted and locked
exactly like a registered one, so the answers never tell which accounts exist. Losing Redis
must not lock everyone out: the checks then let attempts through (fail open) and log a warning.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import math
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

import msgspec
from loguru import logger
from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared.config import Settings
from shared.errors import RateLimited

KEY_PREFIX = "ghostpen:login:"
LOCKED = "too many failed sign-in attempts; retry later"
BUSY = "too many sign-in attempts at once; retry shortly"
# A Redis that hangs must not hold sign-ins for its 5 s socket timeout; but a gateway busy
# hashing passwords may answer its own Redis calls late, and letting those attempts through
# unchecked would let a burst of guesses past the lock (a loaded CI run took 0.5 s as hung).
REDIS_TIMEOUT = 2.0
# Far longer than any verification: only an attempt whose process died holds its place so long.
ATTEMPT_TTL = 30

LockScope = Literal["account", "ip"]
KeyKind = Literal["failures", "lock", "attempts"]
_KINDS: tuple[KeyKind, ...] = ("failures", "lock", "attempts")

# KEYS: per scope its failure counter, lock and attempts in flight (a sorted set of tickets
# scored by when they expire). ARGV: the ticket, its lifetime (ms), then each scope's
# threshold. Returns the longest lock's remaining ms, -1 when the attempts in flight fill
# the failures a scope still allows, or 0 once the ticket holds a place in every scope.
_RESERVE = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local locked = 0
for i = 1, #KEYS, 3 do
  locked = math.max(locked, redis.call('PTTL', KEYS[i + 1]))
end
if locked > 0 then
  return locked
end
for i = 1, #KEYS, 3 do
  redis.call('ZREMRANGEBYSCORE', KEYS[i + 2], '-inf', now)
  local failures = tonumber(redis.call('GET', KEYS[i]) or 0)
  local threshold = tonumber(ARGV[2 + (i + 2) / 3])
  if redis.call('ZCARD', KEYS[i + 2]) >= math.max(threshold - failures, 1) then
    return -1
  end
end
for i = 1, #KEYS, 3 do
  redis.call('ZADD', KEYS[i + 2], now + tonumber(ARGV[2]), ARGV[1])
  redis.call('PEXPIRE', KEYS[i + 2], ARGV[2])
end
return 0
"""

# KEYS: as for _RESERVE. ARGV: the window, the first lock, the ticket, then each scope's
# threshold. Gives the ticket's place back and counts the failure in the same step; from the
# threshold on, (re)starts the lock, doubled for every failure past it and capped at the
# window. The counter outlives the lock by the window, so the first failure after a lock
# ends locks again, for longer.
_RECORD_FAILURE = """
local window = tonumber(ARGV[1])
local first_lock = tonumber(ARGV[2])
local locks = {}
for i = 1, #KEYS, 3 do
  redis.call('ZREM', KEYS[i + 2], ARGV[3])
  local failures = redis.call('INCR', KEYS[i])
  local threshold = tonumber(ARGV[3 + (i + 2) / 3])
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


class Attempt:
    """One sign-in attempt counted against the address (and the account, when given)."""

    def __init__(
        self, redis: Redis, settings: Settings, *, email: str | None, ip: str | None
    ) -> None:
        self._redis = redis
        self._settings = settings
        self._scopes: list[tuple[LockScope, str, int]] = [
            ("ip", _address(ip), settings.login_max_failures_per_ip)
        ]
        if email is not None:
            self._scopes.append(
                ("account", _account(email), settings.login_max_failures_per_account)
            )
        self._keys = [_key(scope, name, kind) for scope, name, _ in self._scopes for kind in _KINDS]
        self._thresholds = [threshold for _, _, threshold in self._scopes]
        self._ticket = secrets.token_hex(8)
        self.settled = False

    async def reserve(self) -> None:
        """Take a place in every scope before the password is verified.

        Raises:
            RateLimited: a scope is locked (``retry_after``: when the longer lock ends) or
                its attempts in flight already fill the failures it still allows.
        """
        args: list[str | int] = [self._ticket, ATTEMPT_TTL * 1000, *self._thresholds]
        try:
            async with asyncio.timeout(REDIS_TIMEOUT):
                refused: int = await self._redis.register_script(_RESERVE)(self._keys, args)
        except (RedisError, OSError, TimeoutError) as exc:
            logger.warning("auth.lockout_unavailable", error=type(exc).__name__)
            return
        if refused > 0:
            raise RateLimited(LOCKED, retry_after=math.ceil(refused / 1000))
        if refused < 0:
            raise RateLimited(BUSY, retry_after=1)

    async def fail(self) -> list[Lock]:
        """Count the failure and give the place back; return the locks it started.

        None when Redis is unreachable.
        """
        self.settled = True
        args: list[str | int] = [
            self._settings.login_failure_window,
            self._settings.login_lock_seconds,
            self._ticket,
            *self._thresholds,
        ]
        try:
            async with asyncio.timeout(REDIS_TIMEOUT):
                started: list[int] = await self._redis.register_script(_RECORD_FAILURE)(
                    self._keys, args
                )
        except (RedisError, OSError, TimeoutError) as exc:
            logger.warning("auth.lockout_unavailable", error=type(exc).__name__)
            return []
        return [
            Lock(scope=scope, seconds=int(seconds))
            for (scope, _, _), seconds in zip(self._scopes, started, strict=True)
            if seconds
        ]

    async def succeed(self) -> None:
        """Give the place back and clear the account's failures.

        The address's count stays: signing in to an account of their own must not wipe the
        count of an attacker's guesses at other accounts.
        """
        await self._give_back(forget_account=True)

    async def release(self) -> None:
        """Give the place back without counting anything: the attempt ended in an error."""
        await self._give_back(forget_account=False)

    async def _give_back(self, *, forget_account: bool) -> None:
        self.settled = True
        try:
            async with (
                asyncio.timeout(REDIS_TIMEOUT),
                self._redis.pipeline(transaction=True) as pipe,
            ):
                for scope, name, _ in self._scopes:
                    pipe.zrem(_key(scope, name, "attempts"), self._ticket)
                    if forget_account and scope == "account":
                        pipe.delete(_key(scope, name, "failures"))
                await pipe.execute()
        except (RedisError, OSError, TimeoutError) as exc:
            logger.warning("auth.lockout_unavailable", error=type(exc).__name__)


@asynccontextmanager
async def attempt(
    redis: Redis, settings: Settings, *, email: str | None, ip: str | None
) -> AsyncIterator[Attempt]:
    """A reserved :class:`Attempt` for the block; one the block leaves unsettled is released.

    Raises:
        RateLimited: see :meth:`Attempt.reserve`.
    """
    current = Attempt(redis, settings, email=email, ip=ip)
    await current.reserve()
    try:
        yield current
    finally:
        if not current.settled:
            await current.release()


def _key(scope: LockScope, name: str, kind: KeyKind) -> str:
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
