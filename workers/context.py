"""What a worker process holds for its tasks, built once in ARQ's ``on_startup``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from arq.connections import ArqRedis

from shared.config import Settings
from shared.db.engine import Database
from shared.queue.relay import OutboxRelay
from workers.providers import Provider


@dataclass(slots=True)
class WorkerDeps:
    settings: Settings
    db: Database
    redis: ArqRedis
    provider: Provider
    relay: OutboxRelay
    worker_id: str


def deps_of(ctx: dict[str, Any]) -> WorkerDeps:
    deps: WorkerDeps = ctx["deps"]
    return deps
