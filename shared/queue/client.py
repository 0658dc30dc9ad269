"""The Redis connection the platform enqueues through (an ARQ ``ArqRedis``).

Built without ARQ's start-up ping-and-retry loop: a process must start, and report itself
unready, while Redis is down; the outbox keeps every message until Redis is back.
"""

from __future__ import annotations

from arq.connections import ArqRedis

from shared.queue import serializer

QUEUE_NAME = "ghostpen:queue"
WORKERS_KEY = "ghostpen:workers"
JOB_EVENTS_CHANNEL = "ghostpen:job-events"


def connect(redis_url: str, *, max_connections: int = 50) -> ArqRedis:
    """A client that owns its pool, so ``aclose()`` closes every connection it opened."""
    redis: ArqRedis = ArqRedis.from_url(
        redis_url,
        max_connections=max_connections,
        socket_connect_timeout=1.0,
        socket_timeout=5.0,
        health_check_interval=30,
    )
    redis.job_serializer = serializer.serialize
    redis.job_deserializer = serializer.deserialize
    redis.default_queue_name = QUEUE_NAME
    return redis
