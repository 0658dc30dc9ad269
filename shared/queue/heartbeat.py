"""Worker liveness in Redis: each worker refreshes its score in one sorted set.

A sorted set keyed by worker id and scored by the last beat lets readiness and the admin view
count live workers with one ZCOUNT, and a dead worker simply ages out.
"""

from __future__ import annotations

import time

from redis.asyncio import Redis

from shared.queue.client import WORKERS_KEY

HEARTBEAT_INTERVAL = 5.0
LIVE_WITHIN = 20.0


async def beat(redis: Redis, worker_id: str) -> None:
    now = time.time()
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zadd(WORKERS_KEY, {worker_id: now})
        pipe.zremrangebyscore(WORKERS_KEY, "-inf", now - 10 * LIVE_WITHIN)
        await pipe.execute()


async def leave(redis: Redis, worker_id: str) -> None:
    await redis.zrem(WORKERS_KEY, worker_id)


async def live_workers(redis: Redis) -> int:
    count: int = await redis.zcount(WORKERS_KEY, time.time() - LIVE_WITHIN, "+inf")
    return count


async def live_worker_ids(redis: Redis) -> list[str]:
    """The ids of the workers with a fresh heartbeat, sorted."""
    ids = await redis.zrangebyscore(WORKERS_KEY, time.time() - LIVE_WITHIN, "+inf")
    return sorted(i.decode() if isinstance(i, bytes) else str(i) for i in ids)
