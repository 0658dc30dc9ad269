"""JOB_DEADLINE bounds a job's life: waits for an outage or for cooling keys use no attempts,
so without a deadline a job could stay queued for as long as the model API is down."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update

from shared.clock import utcnow
from shared.config import Settings
from shared.db.engine import Database
from shared.jobs.models import Job
from tests.factories import create_profile, submit_through
from tests.fakes.openai_server import FakeOpenAI
from workers.context import deps_of
from workers.providers import build_provider
from workers.tasks import generation_run


async def _job_submitted_ago(
    api: httpx.AsyncClient,
    make_user: Any,
    settings: Settings,
    db: Database,
    ctx: dict[str, Any],
    age: timedelta,
) -> tuple[str, dict[str, str]]:
    user = await make_user()
    profile = await create_profile(api, user.headers)
    job_id = await submit_through(deps_of(ctx).relay, db, settings, user.user_id, profile["id"])
    async with db.sessions() as session, session.begin():
        await session.execute(update(Job).where(Job.id == job_id).values(created_at=utcnow() - age))
    return job_id, user.headers


async def test_a_job_past_its_deadline_fails_without_a_model_call(
    api: httpx.AsyncClient,
    make_user: Any,
    settings: Settings,
    db: Database,
    unsent_ctx: dict[str, Any],
    fake_openai: FakeOpenAI,
) -> None:
    age = timedelta(seconds=settings.job_deadline + 1)
    job_id, headers = await _job_submitted_ago(api, make_user, settings, db, unsent_ctx, age)

    assert await generation_run(unsent_ctx, {"job_id": job_id}) == "failed"

    failed = (await api.get(f"/api/v1/jobs/{job_id}", headers=headers)).json()
    assert failed["error"]["code"] == "deadline_exceeded"
    assert fake_openai.requests == []


async def test_a_retry_that_would_come_after_the_deadline_fails_at_once(
    api: httpx.AsyncClient,
    make_user: Any,
    settings: Settings,
    db: Database,
    unsent_ctx: dict[str, Any],
    fake_openai: FakeOpenAI,
) -> None:
    age = timedelta(seconds=settings.job_deadline - 30)  # 30 s left
    job_id, headers = await _job_submitted_ago(api, make_user, settings, db, unsent_ctx, age)
    deps = deps_of(unsent_ctx)
    # One key: when it is rate limited, the retry waits for the server's Retry-After.
    deps.provider = build_provider(
        settings.openai_api_keys[:1], settings.openai_base_url, settings.openai_timeout
    )
    fake_openai.inject({"status": 429, "retry_after": 60})
    try:
        assert await generation_run(unsent_ctx, {"job_id": job_id}) == "failed"
    finally:
        await deps.provider.aclose()

    failed = (await api.get(f"/api/v1/jobs/{job_id}", headers=headers)).json()
    assert failed["error"]["code"] == "model_rate_limited"
    assert "deadline" in failed["error"]["message"]
    assert len(fake_openai.requests) == 1
