"""Liveness, readiness (with its failure modes) and Prometheus metrics."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from arq.connections import ArqRedis
from arq.worker import Worker
from sqlalchemy import text

from shared.db.engine import Database
from shared.queue.client import WORKERS_KEY
from tests.factories import create_profile, run_job, submit_job


async def test_live(api: httpx.AsyncClient) -> None:
    response = await api.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_with_a_live_worker(api: httpx.AsyncClient, worker: Worker) -> None:
    response = await api.get("/health/ready")
    assert response.status_code == 200, response.text
    checks = response.json()["checks"]
    assert checks["database"]["ok"]
    assert checks["redis"]["ok"]
    assert checks["workers"]["ok"]


async def test_ready_is_503_without_workers(
    api: httpx.AsyncClient, redis: ArqRedis, worker: Worker
) -> None:
    saved = await redis.zrange(WORKERS_KEY, 0, -1, withscores=True)
    await redis.delete(WORKERS_KEY)
    try:
        response = await api.get("/health/ready")
        assert response.status_code == 503
        assert response.headers["retry-after"]
        assert response.json()["checks"]["workers"]["ok"] is False
        gateway_only = await api.get("/health/ready", params={"workers": "false"})
        assert gateway_only.status_code == 200
        assert "workers" not in gateway_only.json()["checks"]
    finally:
        if saved:
            await redis.zadd(WORKERS_KEY, dict(saved))


async def test_ready_is_503_when_schema_is_behind(
    api: httpx.AsyncClient, db: Database, worker: Worker
) -> None:
    async with db.engine.begin() as connection:
        head = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        await connection.execute(text("UPDATE alembic_version SET version_num = 'old'"))
    try:
        response = await api.get("/health/ready")
        assert response.status_code == 503
        assert "ghostpen migrate" in response.json()["checks"]["database"]["detail"]
    finally:
        async with db.engine.begin() as connection:
            await connection.execute(
                text("UPDATE alembic_version SET version_num = :head"), {"head": head}
            )


async def test_metrics_exposes_http_and_job_state(api: httpx.AsyncClient, make_user: Any) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers)
    await submit_job(api, user.headers, profile["id"])
    response = await api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    body = response.text
    assert 'ghostpen_http_requests_total{method="POST",route="/api/v1/jobs",status="202"}' in body
    assert "ghostpen_http_request_duration_seconds_bucket" in body
    assert 'ghostpen_jobs{status="queued"}' in body
    assert "ghostpen_queue_depth" in body
    assert "ghostpen_live_workers" in body


async def test_metrics_count_finished_jobs_and_model_usage_cluster_wide(
    api: httpx.AsyncClient, make_user: Any, worker: Worker
) -> None:
    user = await make_user()
    await run_job(api, user.headers)
    finished = 'ghostpen_jobs_finished_total{platform="linkedin",status="succeeded"}'
    for _ in range(50):  # the worker adds to the counters right after the job is terminal
        body = (await api.get("/metrics")).text
        if finished in body:
            break
        await asyncio.sleep(0.05)
    assert finished in body
    assert 'ghostpen_model_tokens_total{kind="prompt",model="gpt-4o-mini"}' in body
    assert 'ghostpen_model_cost_usd_total{model="gpt-4o-mini"}' in body
    assert 'ghostpen_job_duration_seconds_count{status="succeeded"}' in body
