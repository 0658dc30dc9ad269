"""Process-wide resources of a gateway, created in its lifespan on the serving event loop."""

from __future__ import annotations

from dataclasses import dataclass

from arq.connections import ArqRedis

from gateway.rate_limits import RateLimiter
from shared.config import Settings
from shared.db.engine import Database
from shared.jobs.events import JobEventHub
from shared.queue.relay import OutboxRelay


@dataclass(slots=True)
class GatewayState:
    settings: Settings
    db: Database
    redis: ArqRedis
    job_events: JobEventHub
    relay: OutboxRelay
    rate_limiter: RateLimiter
