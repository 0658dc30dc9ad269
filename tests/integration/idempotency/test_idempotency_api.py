"""Idempotency-Key on creating endpoints, over the real API and Postgres."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from arq.worker import Worker
from sqlalchemy import func, select, text

from shared.batches.models import Batch
from shared.db.engine import Database
from shared.idempotency.models import IdempotencyRecord
from shared.jobs.models import Job
from shared.schedules.models import Schedule
from tests.factories import create_profile, submit_job
from workers.maintenance import idempotency_purge

JOBS = "/api/v1/jobs"
BATCHES = "/api/v1/batches"


def keyed(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


async def count(db: Database, model: Any) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_retry_replays_the_first_response(
    api: httpx.AsyncClient, make_user: Any, db: Database
) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers)
    headers = keyed(user.headers, "order-42 retry-safe")
    first = await submit_job(api, headers, profile["id"], metadata={"order": 42})
    assert first.status_code == 202, first.text
    assert "idempotent-replayed" not in first.headers
    # The job moves on meanwhile; the replay is still the original answer.
    await api.post(f"{JOBS}/{first.json()['id']}/cancel", headers=user.headers)

    again = await submit_job(api, headers, profile["id"], metadata={"order": 42})
    assert again.status_code == 202
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert again.json()["status"] == "queued"
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["content-type"] == "application/json"
    assert await count(db, Job) == 1


async def test_same_key_with_another_body_is_a_conflict(
    api: httpx.AsyncClient, make_user: Any, db: Database
) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers)
    headers = keyed(user.headers, "k1")
    assert (await submit_job(api, headers, profile["id"])).status_code == 202
    other = await submit_job(api, headers, profile["id"], topic="a different topic")
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_conflict"
    # The same key on another endpoint is another request too.
    batch = {
        "items": [{"custom_id": "a", "profile_id": profile["id"], "platform": "x", "topic": "t"}]
    }
    on_batches = await api.post(BATCHES, json=batch, headers=headers)
    assert on_batches.status_code == 409
    assert on_batches.json()["code"] == "idempotency_conflict"
    assert (await count(db, Job), await count(db, Batch)) == (1, 0)


async def test_concurrent_requests_with_one_key_create_one_job(
    api: httpx.AsyncClient, make_user: Any, db: Database
) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers)
    headers = keyed(user.headers, "burst")
    responses = await asyncio.gather(*(submit_job(api, headers, profile["id"]) for _ in range(10)))
    assert [response.status_code for response in responses] == [202] * 10
    assert len({response.json()["id"] for response in responses}) == 1
    replayed = [r for r in responses if r.headers.get("idempotent-replayed") == "true"]
    assert len(replayed) == 9
    assert await count(db, Job) == 1


async def test_failed_request_does_not_use_up_the_key(
    api: httpx.AsyncClient, make_user: Any, db: Database
) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers)
    headers = keyed(user.headers, "fix-and-retry")
    missing = await submit_job(api, headers, "prof_does_not_exist")
    assert missing.status_code == 404
    fixed = await submit_job(api, headers, profile["id"])
    assert fixed.status_code == 202
    assert "idempotent-replayed" not in fixed.headers
    assert await count(db, Job) == 1


async def test_expired_key_acts_again(api: httpx.AsyncClient, make_user: Any, db: Database) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers)
    headers = keyed(user.headers, "daily-digest")
    first = (await submit_job(api, headers, profile["id"])).json()
    async with db.sessions() as session:
        await session.execute(
            text("UPDATE idempotency_keys SET expires_at = now() - interval '1 second'")
        )
        await session.commit()
    again = await submit_job(api, headers, profile["id"])
    assert again.status_code == 202
    assert "idempotent-replayed" not in again.headers
    assert again.json()["id"] != first["id"]
    assert await count(db, Job) == 2


async def test_keys_belong_to_their_user(api: httpx.AsyncClient, make_user: Any) -> None:
    first, second = await make_user(), await make_user()
    ids = []
    for user in (first, second):
        profile = await create_profile(api, user.headers)
        response = await submit_job(api, keyed(user.headers, "shared-key"), profile["id"])
        assert response.status_code == 202
        assert "idempotent-replayed" not in response.headers
        ids.append(response.json()["id"])
    assert ids[0] != ids[1]


async def test_batch_submission_is_idempotent(
    api: httpx.AsyncClient, make_user: Any, db: Database
) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers)
    batch = {
        "items": [
            {"custom_id": f"c{i}", "profile_id": profile["id"], "platform": "x", "topic": "t"}
            for i in range(3)
        ]
    }
    headers = keyed(user.headers, "batch-1")
    first = await api.post(BATCHES, json=batch, headers=headers)
    again = await api.post(BATCHES, json=batch, headers=headers)
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert (await count(db, Batch), await count(db, Job)) == (1, 3)


async def test_invalid_keys_are_refused(api: httpx.AsyncClient, make_user: Any) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers)
    for key in ("k" * 256, "ключ"):
        headers: dict[str, Any] = {**user.headers, "Idempotency-Key": key.encode()}
        response = await submit_job(api, headers, profile["id"])
        assert response.status_code == 422, key
        assert response.json()["code"] == "validation_error"


async def test_purge_deletes_only_expired_keys(
    api: httpx.AsyncClient, make_user: Any, db: Database, worker: Worker
) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers)
    for key in ("old", "fresh"):
        response = await submit_job(api, keyed(user.headers, key), profile["id"], topic=key)
        assert response.status_code == 202
    async with db.sessions() as session:
        await session.execute(
            text(
                "UPDATE idempotency_keys SET expires_at = now() - interval '1 hour'"
                " WHERE key = 'old'"
            )
        )
        await session.commit()
    assert await idempotency_purge(worker.ctx) == 1
    async with db.sessions() as session:
        assert list(await session.scalars(select(IdempotencyRecord.key))) == ["fresh"]


async def test_concurrent_schedule_creations_with_one_key_create_one_schedule(
    api: httpx.AsyncClient, make_user: Any, db: Database
) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers)
    body = {
        "profile_id": profile["id"],
        "platform": "linkedin",
        "topics": ["monday notes", "friday wins"],
        "cron": "0 9 * * 1",
        "timezone": "Europe/Berlin",
    }
    headers = keyed(user.headers, "weekly-posts")
    responses = await asyncio.gather(
        *(api.post("/api/v1/schedules", json=body, headers=headers) for _ in range(5))
    )
    assert [response.status_code for response in responses] == [201] * 5
    assert len({response.json()["id"] for response in responses}) == 1
    assert await count(db, Schedule) == 1
    changed = await api.post(
        "/api/v1/schedules", json={**body, "cron": "0 10 * * 1"}, headers=headers
    )
    assert changed.status_code == 409
    assert changed.json()["code"] == "idempotency_conflict"
