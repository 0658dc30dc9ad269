"""The model API keys of one worker process: which one to use next, and which to leave alone.

- Calls are spread over the healthy keys, least recently used first.
- A 429 cools its key down for the server's `retry-after-ms`/`Retry-After` (`default_cooldown`
  without one); the other keys keep serving.
- A 401 or 403 quarantines its key for the life of the process, and the caller retries the same
  call at once with another key, so a bad key costs a job nothing. Only when no key is usable
  does `acquire` fail: all quarantined is permanent (`model_auth_failed`), otherwise it is
  retryable (`model_rate_limited`) after the soonest cool-down ends.
- With `OPENAI_API_KEYS_FILE`, the file is re-read when it changes (a `stat` at most every
  `RELOAD_CHECK_SECONDS`, on the next `acquire` or `refresh`): new keys get clients, removed
  keys are dropped and their clients closed once no call uses them, and a key that was
  quarantined stays quarantined even if it is removed and added back. An empty or unreadable
  file keeps the current keys.

Keys never appear in logs or in the published state: a key is named by the first 8 hex digits
of its sha256.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar

import msgspec
from loguru import logger
from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared.admin.schemas import KEY_POOL_PREFIX, CircuitState, KeyPoolOut
from shared.clock import utcnow
from shared.config import parse_key_list
from shared.observability.metrics import MODEL_KEYS
from workers.providers.base import ProviderError

C = TypeVar("C")

DEFAULT_COOLDOWN = 10.0
RELOAD_CHECK_SECONDS = 2.0
# The published state is rewritten on every change and at least this often; it expires after
# three missed rewrites, so a dead worker disappears from /admin/queue.
PUBLISH_INTERVAL = 10.0
PUBLISH_TTL = 30


def fingerprint(key: str) -> str:
    """A name for a key that is safe to log."""
    return hashlib.sha256(key.encode()).hexdigest()[:8]


@dataclass(eq=False, slots=True)
class PooledKey(Generic[C]):
    """One key, its client and its state; `acquire` hands it out, `release` takes it back."""

    key: str = field(repr=False)
    fingerprint: str
    client: C = field(repr=False)
    quarantined: bool = False
    cooling_until: float = 0.0
    last_turn: int = 0
    in_flight: int = 0
    removed: bool = False


class KeyCounts(NamedTuple):
    healthy: int
    cooling: int
    quarantined: int


class KeyPool(Generic[C]):
    """Hands out the healthy keys of this process and hears how each call went."""

    def __init__(
        self,
        keys: Sequence[str],
        *,
        connect: Callable[[str], C],
        disconnect: Callable[[C], Awaitable[None]],
        keys_file: str | None = None,
        default_cooldown: float = DEFAULT_COOLDOWN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        unique = tuple(dict.fromkeys(key for key in keys if key))
        if not unique:
            raise ValueError("KeyPool needs at least one non-empty API key")
        self.on_change: Callable[[], None] | None = None
        self._connect = connect
        self._disconnect = disconnect
        self._keys_file = keys_file
        self._default_cooldown = default_cooldown
        self._clock = clock
        self._rejected: set[str] = set()
        self._turn = 0
        self._next_check = 0.0
        self._file_seen: tuple[int, int, int] | None = None
        self._file_problem: str | None = None
        self._reported: KeyCounts | None = None
        self._keys = [self._add(key) for key in unique]
        self.observe()

    def __repr__(self) -> str:
        return f"KeyPool(<{len(self._keys)} keys>)"

    @property
    def fingerprints(self) -> list[str]:
        return [slot.fingerprint for slot in self._keys]

    async def acquire(self) -> PooledKey[C]:
        """The least recently used healthy key. Raises ProviderError when none is usable."""
        await self.refresh()
        now = self._clock()
        usable = [slot for slot in self._keys if _usable(slot, now)]
        if not usable:
            raise self._exhausted(now)
        chosen = min(usable, key=lambda slot: slot.last_turn)
        self._turn += 1
        chosen.last_turn = self._turn
        chosen.in_flight += 1
        return chosen

    async def release(self, slot: PooledKey[C]) -> None:
        """Give a key back after its call; closes the client of a key removed meanwhile."""
        slot.in_flight -= 1
        if slot.removed and slot.in_flight == 0:
            await self._disconnect(slot.client)

    def cool_down(self, slot: PooledKey[C], retry_after: float | None) -> None:
        """The key was rate limited: leave it alone for the server's Retry-After."""
        seconds = self._default_cooldown if retry_after is None else retry_after
        slot.cooling_until = max(slot.cooling_until, self._clock() + seconds)
        logger.warning("model_key.cooling", fingerprint=slot.fingerprint, seconds=round(seconds, 3))
        self.observe()

    def quarantine(self, slot: PooledKey[C], error: ProviderError) -> None:
        """The key was refused (401/403): never use it again in this process."""
        slot.quarantined = True
        self._rejected.add(slot.fingerprint)
        logger.error(
            "model_key.quarantined",
            fingerprint=slot.fingerprint,
            code=error.code,
            status=error.status,
        )
        self.observe()

    def wait_seconds(self) -> float | None:
        """Seconds until a key is free when every usable key is cooling down; None when one is
        free now, or when none ever will be (all refused: the call fails with the reason)."""
        now = self._clock()
        cooling = [slot.cooling_until for slot in self._keys if not slot.quarantined]
        if not cooling or min(cooling) <= now:
            return None
        return min(cooling) - now

    def has_usable(self) -> bool:
        now = self._clock()
        return any(_usable(slot, now) for slot in self._keys)

    def counts(self) -> KeyCounts:
        now = self._clock()
        quarantined = sum(slot.quarantined for slot in self._keys)
        cooling = sum(not slot.quarantined and slot.cooling_until > now for slot in self._keys)
        return KeyCounts(len(self._keys) - quarantined - cooling, cooling, quarantined)

    async def refresh(self) -> None:
        """Re-read the keys file if it changed (checked at most every few seconds)."""
        if self._keys_file is not None and self._clock() >= self._next_check:
            self._next_check = self._clock() + RELOAD_CHECK_SECONDS
            keys = self._read_changed_file(self._keys_file)
            if keys is not None:
                await self._replace(keys)
        self.observe()

    def observe(self) -> None:
        """Refresh the gauge and tell the listener when the counts changed (also by time)."""
        counts = self.counts()
        if counts == self._reported:
            return
        self._reported = counts
        for state, count in counts._asdict().items():
            MODEL_KEYS.labels(state).set(count)
        if self.on_change is not None:
            self.on_change()

    async def aclose(self) -> None:
        await asyncio.gather(*(self._disconnect(slot.client) for slot in self._keys))

    def _add(self, key: str) -> PooledKey[C]:
        name = fingerprint(key)
        return PooledKey(
            key=key, fingerprint=name, client=self._connect(key), quarantined=name in self._rejected
        )

    def _exhausted(self, now: float) -> ProviderError:
        cooling = [slot.cooling_until for slot in self._keys if not slot.quarantined]
        if not cooling:
            return ProviderError(
                "model_auth_failed",
                "every model API key was refused (401/403); check OPENAI_API_KEYS",
                retryable=False,
            )
        return ProviderError(
            "model_rate_limited",
            "every model API key is cooling down after a rate limit",
            retryable=True,
            retry_after=max(min(cooling) - now, 0.0),
        )

    def _read_changed_file(self, path: str) -> tuple[str, ...] | None:
        """The file's keys if it changed since the last look; None if not, or if unusable."""
        # A tiny file: a stat (and rarely a read) does not hold the event loop up noticeably.
        try:
            stat = os.stat(path)
            seen = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
            if seen == self._file_seen:
                return None
            keys = tuple(dict.fromkeys(parse_key_list(Path(path).read_text(encoding="utf-8"))))
        except OSError as exc:
            self._warn(f"unreadable ({exc.strerror})")
            return None
        self._file_seen = seen
        if not keys:
            self._warn("empty")
            return None
        self._file_problem = None
        return keys

    def _warn(self, problem: str) -> None:
        # Once per problem, not every few seconds while it lasts.
        if problem != self._file_problem:
            self._file_problem = problem
            logger.warning("model_keys.reload_skipped", reason=problem, kept=len(self._keys))

    async def _replace(self, keys: Sequence[str]) -> None:
        current = {slot.key: slot for slot in self._keys}
        if list(current) == list(keys):
            return
        kept = [current.pop(key, None) for key in keys]
        fresh = [slot or self._add(key) for slot, key in zip(kept, keys, strict=True)]
        for slot in current.values():
            slot.removed = True
        self._keys = fresh
        logger.info(
            "model_keys.reloaded",
            keys=len(fresh),
            added=sum(slot is None for slot in kept),
            removed=len(current),
        )
        await asyncio.gather(
            *(self._disconnect(slot.client) for slot in current.values() if not slot.in_flight)
        )


class PoolPublisher:
    """Publishes this worker's key pool and breaker state to Redis for `GET /admin/queue`."""

    def __init__(
        self,
        redis: Redis,
        worker_id: str,
        pool: KeyPool[Any],
        circuit: Callable[[], CircuitState],
        *,
        interval: float = PUBLISH_INTERVAL,
    ) -> None:
        self._redis = redis
        self._worker_id = worker_id
        self._pool = pool
        self._circuit = circuit
        self._interval = interval
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def redis_key(self) -> str:
        return f"{KEY_POOL_PREFIX}{self._worker_id}"

    def changed(self) -> None:
        """Publish soon; called by the pool and the breaker, so it never waits for Redis."""
        self._changed.set()

    def start(self) -> None:
        """Start publishing in the background; call from inside the running event loop."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def publish(self) -> None:
        """Write the current state once (the background task's step)."""
        await self._pool.refresh()
        counts = self._pool.counts()
        state = KeyPoolOut(
            worker_id=self._worker_id,
            healthy=counts.healthy,
            cooling=counts.cooling,
            quarantined=counts.quarantined,
            circuit=self._circuit(),
            updated_at=utcnow(),
        )
        await self._redis.set(self.redis_key, msgspec.json.encode(state), ex=PUBLISH_TTL)

    async def aclose(self) -> None:
        """Stop publishing and withdraw the state, so the worker leaves /admin/queue at once."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(RedisError, OSError):
            await self._redis.delete(self.redis_key)

    async def _run(self) -> None:
        while True:
            self._changed.clear()
            try:
                await self.publish()
            except (RedisError, OSError) as exc:
                logger.warning("model_keys.publish_failed", error=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), self._interval)


def _usable(slot: PooledKey[Any], now: float) -> bool:
    return not slot.quarantined and slot.cooling_until <= now
