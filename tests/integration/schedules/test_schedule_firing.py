"""Firing schedules: the worker task called directly with a test ctx, and a real worker."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from arq.connections import ArqRedis
from arq.worker import Worker
from sqlalchemy import select, update

from shared.config import Settings
from shared.db.engine import Database
from shared.jobs.models import Job
from shared.queue.relay import OutboxRelay
from shared.schedules.models import Schedule, ScheduleFiring
from tests.factories import create_profile, wait_for_job
from workers.context import WorkerDeps
from workers.providers import build_provider
from workers.tasks import schedules_fire

SCHEDULES = "/api/v1/schedules"


@pytest.fixture
async def fire_ctx(
    settings: Settings, db: Database, redis: ArqRedis
) -> AsyncIterator[dict[str, Any]]:
    provider = build_provider(
        settings.openai_api_keys, settings.openai_base_url, settings.openai_timeout
    )
    deps = WorkerDeps(
        settings=settings,
        db=db,
        redis=redis,
        provider=provider,
        relay=OutboxRelay(db.sessions, redis),
        worker_id="t",
    )
    yield {"deps": deps}
    await deps.relay.drain()
    await deps.relay.aclose()
    await provider.aclose()


async def new_schedule(
    api: httpx.AsyncClient, headers: dict[str, str], profile_id: str, **fields: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"profile_id": profile_id, "platform": "x"}
    body.update(fields)
    response = await api.post(SCHEDULES, json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def make_due(db: Database, schedule_ids: list[str], *, ago: timedelta) -> None:
    """Pretend the schedules' next firing came ``ago`` before now (as after a worker outage)."""
    async with db.sessions() as session:
        await session.execute(
            update(Schedule)
            .where(Schedule.id.in_(schedule_ids))
            .values(next_run_at=datetime.now(UTC) - ago)
        )
        await session.commit()


async def jobs_of(db: Database, schedule_id: str) -> list[Job]:
    async with db.sessions() as session:
        rows = await session.scalars(
            select(Job).where(Job.schedule_id == schedule_id).order_by(Job.id)
        )
        return list(rows)


async def firings_of(db: Database, schedule_id: str) -> list[ScheduleFiring]:
    async with db.sessions() as session:
        rows = await session.scalars(
            select(ScheduleFiring)
            .where(ScheduleFiring.schedule_id == schedule_id)
            .order_by(ScheduleFiring.scheduled_for)
        )
        return list(rows)


async def test_due_schedule_fires_one_job_per_firing_rotating_topics(
    api: httpx.AsyncClient, make_user: Any, db: Database, fire_ctx: dict[str, Any]
) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers)
    schedule = await new_schedule(
        api,
        user.headers,
        profile["id"],
        topics=["A", "B"],
        cron="0 9 * * *",
        metadata={"source": "cron"},
    )

    for _ in range(3):
        await make_due(db, [schedule["id"]], ago=timedelta(seconds=1))
        await schedules_fire(fire_ctx)
        await schedules_fire(fire_ctx)  # nothing is due any more

    listed = await api.get(
        "/api/v1/jobs", params={"schedule_id": schedule["id"]}, headers=user.headers
    )
    jobs = listed.json()["data"][::-1]  # oldest first
    assert [job["topic"] for job in jobs] == ["A", "B", "A"]
    assert all(job["schedule_id"] == schedule["id"] for job in jobs)
    assert all(job["metadata"] == {"source": "cron"} for job in jobs)
    after = (await api.get(f"{SCHEDULES}/{schedule['id']}", headers=user.headers)).json()
    assert after["fired_count"] == 3
    assert after["missed_count"] == 0
    assert datetime.fromisoformat(after["next_run_at"]) > datetime.now(UTC)
    firings = (await api.get(f"{SCHEDULES}/{schedule['id']}/firings", headers=user.headers)).json()[
        "data"
    ]
    assert [f["status"] for f in firings] == ["fired"] * 3
    assert [f["job_id"] for f in firings] == [job["id"] for job in jobs[::-1]]
    assert after["last_run_at"] == firings[0]["scheduled_for"]
    page = await api.get(
        f"{SCHEDULES}/{schedule['id']}/firings", params={"limit": 2}, headers=user.headers
    )
    rest = await api.get(
        f"{SCHEDULES}/{schedule['id']}/firings",
        params={"limit": 2, "cursor": page.json()["next_cursor"]},
        headers=user.headers,
    )
    assert [f["job_id"] for f in page.json()["data"] + rest.json()["data"]] == [
        f["job_id"] for f in firings
    ]


async def test_concurrent_firing_passes_create_exactly_one_job_per_firing(
    api: httpx.AsyncClient, make_user: Any, db: Database, fire_ctx: dict[str, Any]
) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers)
    ids = [
        (await new_schedule(api, user.headers, profile["id"], topic=f"t{i}", cron="0 9 * * *"))[
            "id"
        ]
        for i in range(4)
    ]
    rounds = 8

    for _ in range(rounds):
        await make_due(db, ids, ago=timedelta(seconds=1))
        # Two workers' passes at once, each with its own session and transaction.
        await asyncio.gather(*(schedules_fire(fire_ctx) for _ in range(3)))
        await schedules_fire(fire_ctx)

    for schedule_id in ids:
        jobs = await jobs_of(db, schedule_id)
        firings = await firings_of(db, schedule_id)
        assert len(jobs) == rounds
        assert [f.status for f in firings] == ["fired"] * rounds
        assert Counter(f.job_id for f in firings) == Counter(job.id for job in jobs)


async def test_late_schedule_runs_only_the_latest_firing_within_grace(
    api: httpx.AsyncClient,
    make_user: Any,
    db: Database,
    settings: Settings,
    fire_ctx: dict[str, Any],
) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers)
    schedule = await new_schedule(
        api, user.headers, profile["id"], topic="news", cron="*/10 * * * *"
    )
    await make_due(db, [schedule["id"]], ago=timedelta(hours=1))

    await schedules_fire(fire_ctx)

    grace = timedelta(seconds=settings.schedule_misfire_grace)
    firings = await firings_of(db, schedule["id"])
    fired = [f for f in firings if f.status == "fired"]
    missed = [f for f in firings if f.status == "missed"]
    jobs = await jobs_of(db, schedule["id"])
    assert len(firings) >= 6  # the hour's firings, every one accounted for
    assert len(fired) == len(jobs) <= 1
    if fired:  # the latest firing was due at most `grace` before the pass
        assert fired[0] == firings[-1]
        assert fired[0].created_at - fired[0].scheduled_for <= grace
        assert fired[0].job_id == jobs[0].id
    else:
        assert missed[-1].created_at - missed[-1].scheduled_for > grace
    after = (await api.get(f"{SCHEDULES}/{schedule['id']}", headers=user.headers)).json()
    assert after["missed_count"] == len(missed)
    assert after["fired_count"] == len(fired)
    assert datetime.fromisoformat(after["next_run_at"]) > datetime.now(UTC)


async def test_one_shot_fires_once_then_disables_itself(
    api: httpx.AsyncClient, make_user: Any, db: Database, fire_ctx: dict[str, Any]
) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers)
    run_at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    schedule = await new_schedule(api, user.headers, profile["id"], topic="launch", run_at=run_at)
    await make_due(db, [schedule["id"]], ago=timedelta(seconds=1))

    await schedules_fire(fire_ctx)
    await schedules_fire(fire_ctx)

    assert [job.topic for job in await jobs_of(db, schedule["id"])] == ["launch"]
    after = (await api.get(f"{SCHEDULES}/{schedule['id']}", headers=user.headers)).json()
    assert after["enabled"] is False
    assert after["next_run_at"] is None
    assert after["fired_count"] == 1
    assert after["last_run_at"] is not None


async def test_refused_firing_is_recorded_and_does_not_undo_the_others(
    api: httpx.AsyncClient, make_user: Any, db: Database, fire_ctx: dict[str, Any]
) -> None:
    user = await make_user()
    kept = await create_profile(api, user.headers, name="kept")
    gone = await create_profile(api, user.headers, name="gone")
    ok = await new_schedule(api, user.headers, kept["id"], topic="t", cron="0 9 * * *")
    orphan = await new_schedule(api, user.headers, gone["id"], topic="t", cron="0 9 * * *")
    assert (await api.delete(f"/api/v1/profiles/{gone['id']}", headers=user.headers)).is_success
    await make_due(db, [ok["id"], orphan["id"]], ago=timedelta(seconds=1))

    await schedules_fire(fire_ctx)

    assert len(await jobs_of(db, ok["id"])) == 1
    assert await jobs_of(db, orphan["id"]) == []
    (refused,) = await firings_of(db, orphan["id"])
    assert (refused.status, refused.detail, refused.job_id) == ("refused", "not_found", None)
    after = (await api.get(f"{SCHEDULES}/{orphan['id']}", headers=user.headers)).json()
    assert after["fired_count"] == 0
    assert datetime.fromisoformat(after["next_run_at"]) > datetime.now(UTC)


async def test_deleting_a_schedule_keeps_its_jobs(
    api: httpx.AsyncClient, make_user: Any, db: Database, fire_ctx: dict[str, Any]
) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers)
    schedule = await new_schedule(api, user.headers, profile["id"], topic="t", cron="0 9 * * *")
    await make_due(db, [schedule["id"]], ago=timedelta(seconds=1))
    await schedules_fire(fire_ctx)
    (job,) = await jobs_of(db, schedule["id"])

    deleted = await api.delete(f"{SCHEDULES}/{schedule['id']}", headers=user.headers)

    assert deleted.status_code == 204
    kept = await api.get(f"/api/v1/jobs/{job.id}", headers=user.headers)
    assert kept.status_code == 200
    assert kept.json()["schedule_id"] == schedule["id"]


async def test_one_shot_schedule_produces_a_succeeded_job_with_a_real_worker(
    api: httpx.AsyncClient, make_user: Any, worker: Worker
) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers)
    run_at = datetime.now(UTC) + timedelta(seconds=2)
    schedule = await new_schedule(
        api, user.headers, profile["id"], topic="launch", run_at=run_at.isoformat()
    )

    jobs: list[dict[str, Any]] = []
    deadline = asyncio.get_running_loop().time() + 30
    while not jobs:
        assert asyncio.get_running_loop().time() < deadline, "the schedule did not fire"
        await asyncio.sleep(0.2)
        listed = await api.get(
            "/api/v1/jobs", params={"schedule_id": schedule["id"]}, headers=user.headers
        )
        jobs = listed.json()["data"]

    done = await wait_for_job(api, user.headers, jobs[0]["id"], seconds=30)
    assert done["status"] == "succeeded", done
    assert done["topic"] == "launch"
    after = (await api.get(f"{SCHEDULES}/{schedule['id']}", headers=user.headers)).json()
    assert (after["enabled"], after["next_run_at"], after["fired_count"]) == (False, None, 1)
    assert datetime.fromisoformat(after["last_run_at"]) == run_at
