"""Operations endpoints outside /api/v1: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from litestar import Controller, MediaType, Request, Response, get
from litestar.datastructures import State
from litestar.params import FromQuery
from loguru import logger
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from gateway.dependencies import gateway_state
from gateway.state import GatewayState
from shared.db.migrations import current_revision, head_revision
from shared.jobs.repository import count_active_by_status
from shared.observability import job_stats
from shared.observability.metrics import (
    JOB_STATS,
    JOBS_BY_STATUS,
    LIVE_WORKERS,
    QUEUE_DEPTH,
    render_latest,
)
from shared.queue.client import QUEUE_NAME
from shared.queue.heartbeat import live_workers

CHECK_TIMEOUT = 2.0


class Check(msgspec.Struct):
    ok: bool
    detail: str


class Readiness(msgspec.Struct):
    status: str
    checks: dict[str, Check]


async def _database(gateway: GatewayState) -> Check:
    async with gateway.db.sessions() as session:
        revision = await current_revision(session)
    head = head_revision()
    if revision != head:
        return Check(
            ok=False, detail=f"schema at {revision}, code expects {head}: run ghostpen migrate"
        )
    return Check(ok=True, detail=f"reachable, schema at head {head}")


async def _redis(gateway: GatewayState) -> Check:
    await gateway.redis.ping()
    return Check(ok=True, detail="reachable")


async def _workers(gateway: GatewayState) -> Check:
    count = await live_workers(gateway.redis)
    return Check(ok=count > 0, detail=f"{count} live worker(s)")


async def _run(name: str, probe: Any, gateway: GatewayState) -> tuple[str, Check]:
    try:
        return name, await asyncio.wait_for(probe(gateway), CHECK_TIMEOUT)
    except (SQLAlchemyError, RedisError, OSError, TimeoutError) as exc:
        return name, Check(ok=False, detail=f"unreachable ({type(exc).__name__})")


class OperationsController(Controller):
    tags = ["operations"]
    include_in_schema = False

    @get("/health/live", summary="The process is up")
    async def live(self) -> dict[str, str]:
        return {"status": "ok"}

    @get("/health/ready", summary="Postgres, Redis, schema at head and a live worker")
    async def ready(self, state: State, workers: FromQuery[bool] = True) -> Response[Readiness]:
        """``?workers=false`` leaves the worker check out: a Kubernetes readiness probe should
        not take every gateway out of service because the workers are down, since accepted
        jobs wait safely in the outbox and the queue."""
        gateway = gateway_state(state)
        probes = [("database", _database), ("redis", _redis)]
        if workers:
            probes.append(("workers", _workers))
        results = await asyncio.gather(*(_run(name, probe, gateway) for name, probe in probes))
        checks = dict(results)
        ok = all(check.ok for check in checks.values())
        body = Readiness(status="ok" if ok else "unavailable", checks=checks)
        return Response(
            body, status_code=200 if ok else 503, headers={} if ok else {"Retry-After": "5"}
        )

    @get("/api/v1/openapi.json", summary="The OpenAPI 3.1 document")
    async def openapi(self, request: Request[Any, Any, Any]) -> dict[str, Any]:
        return request.app.openapi_schema.to_schema()

    @get("/metrics", media_type=MediaType.TEXT, summary="Prometheus metrics")
    async def metrics(self, state: State) -> Response[bytes]:
        gateway = gateway_state(state)
        try:
            async with gateway.db.read_sessions() as session:
                for status, count in (await count_active_by_status(session)).items():
                    JOBS_BY_STATUS.labels(status).set(count)
            QUEUE_DEPTH.set(await gateway.redis.zcard(QUEUE_NAME))
            JOB_STATS.snapshot = await job_stats.load(gateway.redis)
            LIVE_WORKERS.set(await live_workers(gateway.redis))
        except (SQLAlchemyError, RedisError, OSError) as exc:
            logger.warning("metrics.state_unavailable", error=type(exc).__name__)
        body, content_type = render_latest()
        return Response(body, media_type=content_type)
