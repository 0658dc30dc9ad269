"""Test data: small sample sets written for the tests, and API helpers that create things."""

from __future__ import annotations

from typing import Any

import httpx

from shared.billing.budget import Owner
from shared.config import Settings
from shared.db.engine import Database
from shared.db.uow import UnitOfWork
from shared.jobs import service as jobs
from shared.jobs.schemas import JobCreate
from shared.queue.relay import OutboxRelay

ENGLISH_SAMPLES = [
    {
        "platform": "linkedin",
        "text": "Shipping beats perfect. We launched the beta today and the first users "
        "already found three bugs.\n\nThat is the point. Feedback early, fixes fast.\n\n"
        "What did your last launch teach you? #startups #product",
    },
    {
        "platform": "linkedin",
        "text": "Three lessons from our first 100 customers:\n\n- Talk to them every week.\n"
        "- Write the changelog for humans.\n- Say no to most feature requests.\n\n"
        "Shipping beats perfect, again. #product",
    },
    {
        "platform": "x",
        "text": "Shipping beats perfect. Today we cut the release scope in half and "
        "shipped on time. 🚀",
    },
]

RUSSIAN_SAMPLES = [
    {
        "platform": "telegram",
        "text": "Друзья, сегодня расскажу, как мы запускали продукт без бюджета. "
        "Было страшно, но интересно.\n\nГлавное — не бояться ошибок. "
        "А вы когда-нибудь запускали что-то с нуля? 🔥",
    },
    {
        "platform": "telegram",
        "text": "Друзья, короткая история про найм. Мы взяли джуна, и через полгода он "
        "стал лучшим в команде.\n\nГлавное — не бояться ошибок и давать людям шанс. 💡",
    },
]


async def create_profile(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    *,
    samples: list[dict[str, str]] | None = None,
    name: str = "Ada",
) -> dict[str, Any]:
    response = await api.post(
        "/api/v1/profiles",
        json={"name": name, "samples": samples or ENGLISH_SAMPLES},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def submit_job(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    profile_id: str,
    **fields: Any,
) -> httpx.Response:
    body = {"profile_id": profile_id, "platform": "linkedin", "topic": "why we hire juniors"}
    body.update(fields)
    return await api.post("/api/v1/jobs", json=body, headers=headers)


async def wait_for_job(
    api: httpx.AsyncClient, headers: dict[str, str], job_id: str, *, seconds: int = 20
) -> dict[str, Any]:
    """Long-poll a job until it is terminal (or ``seconds`` pass); return its body."""
    response = await api.get(f"/api/v1/jobs/{job_id}", params={"wait": seconds}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def run_job(api: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    """Create a profile, submit a job for it and wait until it has succeeded."""
    profile = await create_profile(api, headers)
    submitted = await submit_job(api, headers, profile["id"])
    assert submitted.status_code == 202, submitted.text
    done = await wait_for_job(api, headers, submitted.json()["id"])
    assert done["status"] == "succeeded", done
    return done


async def submit_through(
    relay: OutboxRelay,
    db: Database,
    settings: Settings,
    user_id: str,
    profile_id: str,
    topic: str = "a job for the worker tests",
) -> str:
    """Submit a job the way the gateway does, its message going through ``relay`` (one that
    never reaches Redis leaves the job to the test alone); return its id."""
    async with UnitOfWork(db.sessions, relay) as uow:
        job = await jobs.submit(
            uow,
            settings,
            Owner(user_id=user_id, monthly_budget_usd=None),
            JobCreate(profile_id=profile_id, platform="x", topic=topic),
            request_id=None,
            traceparent=None,
        )
        await uow.commit()
    return job.id
