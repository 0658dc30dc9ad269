"""Batches over the real API with a real ARQ worker and the fake model over HTTP."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from arq.worker import Worker
from sqlalchemy import func, select

from shared.batches.models import Batch
from shared.db.engine import Database
from shared.jobs.models import Job
from shared.webhooks.models import WebhookEvent
from tests.factories import RUSSIAN_SAMPLES, create_profile
from tests.fakes.openai_server import FakeOpenAI

BATCHES = "/api/v1/batches"
JOBS = "/api/v1/jobs"


def items(profile_ids: list[str], count: int) -> list[dict[str, Any]]:
    return [
        {
            "custom_id": f"post-{index}",
            "profile_id": profile_ids[index % len(profile_ids)],
            "platform": "linkedin" if index % 2 else "x",
            "topic": f"lesson {index} from shipping early",
        }
        for index in range(count)
    ]


async def wait_for_batch(
    api: httpx.AsyncClient, headers: dict[str, str], batch_id: str, *, seconds: float = 45
) -> dict[str, Any]:
    """Long-poll until the batch is finished (or ``seconds`` pass); return its body."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        response = await api.get(f"{BATCHES}/{batch_id}", params={"wait": 10}, headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] != "in_progress" or asyncio.get_running_loop().time() > deadline:
            return body


async def poll_counts(
    api: httpx.AsyncClient, headers: dict[str, str], batch_id: str, until: Any
) -> dict[str, Any]:
    for _ in range(400):
        body: dict[str, Any] = (await api.get(f"{BATCHES}/{batch_id}", headers=headers)).json()
        if until(body["counts"]):
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"counts never matched: {body}")


async def results_of(
    api: httpx.AsyncClient, headers: dict[str, str], batch_id: str
) -> list[dict[str, Any]]:
    response = await api.get(f"{BATCHES}/{batch_id}/results", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert response.text.endswith("\n")
    return [json.loads(line) for line in response.text.splitlines()]


async def event_types(db: Database, subject_id: str) -> list[str]:
    async with db.sessions() as session:
        rows = await session.scalars(
            select(WebhookEvent.type).where(WebhookEvent.subject_id == subject_id)
        )
        return sorted(rows)


async def test_batch_runs_to_completion_with_exact_counts_and_results(
    api: httpx.AsyncClient, make_user: Any, worker: Worker
) -> None:
    user = await make_user()
    english = await create_profile(api, user.headers)
    russian = await create_profile(api, user.headers, samples=RUSSIAN_SAMPLES, name="Boris")
    submitted = await api.post(
        BATCHES,
        json={"items": items([english["id"], russian["id"]], 20), "metadata": {"run": "q4"}},
        headers=user.headers,
    )
    assert submitted.status_code == 202, submitted.text
    batch = submitted.json()
    assert submitted.headers["location"] == f"{BATCHES}/{batch['id']}"
    assert batch["status"] == "in_progress"
    assert batch["counts"] == {
        "total": 20,
        "queued": 20,
        "running": 0,
        "succeeded": 0,
        "failed": 0,
        "canceled": 0,
    }

    done = await wait_for_batch(api, user.headers, batch["id"])
    assert done["status"] == "completed", done
    assert done["counts"]["succeeded"] == 20
    assert done["counts"]["total"] == 20
    assert done["finished_at"] >= done["created_at"]
    assert done["metadata"] == {"run": "q4"}

    lines = await results_of(api, user.headers, batch["id"])
    assert sorted(line["custom_id"] for line in lines) == sorted(f"post-{i}" for i in range(20))
    assert all(line["status"] == "succeeded" and line["result"]["text"] for line in lines)
    assert all("error" not in line for line in lines)
    # Each line names the job it came from, and that job belongs to the batch.
    job = (await api.get(f"{JOBS}/{lines[0]['job_id']}", headers=user.headers)).json()
    assert (job["batch_id"], job["custom_id"]) == (batch["id"], lines[0]["custom_id"])
    assert job["metadata"] == {"run": "q4"}

    listed = (await api.get(BATCHES, headers=user.headers)).json()
    assert [(b["id"], b["counts"]["succeeded"]) for b in listed["data"]] == [(batch["id"], 20)]


async def test_duplicate_custom_id_is_refused(
    api: httpx.AsyncClient, make_user: Any, db: Database
) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers)
    batch_items = items([profile["id"]], 3)
    batch_items[2]["custom_id"] = batch_items[0]["custom_id"]
    response = await api.post(BATCHES, json={"items": batch_items}, headers=user.headers)
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "validation_error"
    assert [error["field"] for error in problem["errors"]] == ["items[2].custom_id"]
    assert (await api.get(BATCHES, headers=user.headers)).json()["data"] == []


async def test_unknown_profile_names_the_item_and_creates_nothing(
    api: httpx.AsyncClient, make_user: Any, db: Database
) -> None:
    user, other = await make_user(), await make_user()
    profile = await create_profile(api, user.headers)
    foreign = await create_profile(api, other.headers)
    batch_items = items([profile["id"]], 5)
    batch_items[3]["profile_id"] = foreign["id"]
    response = await api.post(BATCHES, json={"items": batch_items}, headers=user.headers)
    assert response.status_code == 404
    assert [error["field"] for error in response.json()["errors"]] == ["items[3].profile_id"]
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Batch)) == 0
        assert await session.scalar(select(func.count()).select_from(Job)) == 0


async def test_bad_batches_are_refused(api: httpx.AsyncClient, make_user: Any) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers)
    for body in (
        {"items": []},
        {"items": items([profile["id"]], 1001)},
        {"items": [{**items([profile["id"]], 1)[0], "custom_id": ""}]},
        {"items": [{**items([profile["id"]], 1)[0], "custom_id": "x" * 65}]},
        {"items": items([profile["id"]], 1), "webhook_url": "http://[::1"},
    ):
        response = await api.post(BATCHES, json=body, headers=user.headers)
        assert response.status_code == 422, (body, response.text)


async def test_one_failing_item_does_not_fail_the_others(
    api: httpx.AsyncClient, make_user: Any, worker: Worker, fake_openai: FakeOpenAI
) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers)
    fake_openai.inject({"status": 400, "code": "content_policy_violation"})
    submitted = await api.post(
        BATCHES, json={"items": items([profile["id"]], 5)}, headers=user.headers
    )
    batch = submitted.json()
    done = await wait_for_batch(api, user.headers, batch["id"])
    assert done["status"] == "completed"
    assert (done["counts"]["succeeded"], done["counts"]["failed"]) == (4, 1)
    lines = await results_of(api, user.headers, batch["id"])
    (failed,) = [line for line in lines if line["status"] == "failed"]
    assert failed["error"]["code"] == "model_content_policy"
    assert "result" not in failed


async def test_concurrent_completions_complete_the_batch_once(
    api: httpx.AsyncClient,
    make_user: Any,
    worker: Worker,
    fake_openai: FakeOpenAI,
    db: Database,
) -> None:
    assert worker.max_jobs >= 10
    user = await make_user()
    profile = await create_profile(api, user.headers)
    fake_openai.set_latency(0.2)  # items of a wave finish together
    submitted = await api.post(
        BATCHES,
        json={"items": items([profile["id"]], 30), "webhook_url": "http://127.0.0.1:9/hook"},
        headers=user.headers,
    )
    batch = submitted.json()
    done = await wait_for_batch(api, user.headers, batch["id"])
    assert done["status"] == "completed"
    assert done["counts"]["succeeded"] == 30
    async with db.sessions() as session:
        stored = await session.get_one(Batch, batch["id"])
        assert stored.pending == 0
    types = await event_types(db, batch["id"])
    assert types == ["batch.completed"]


async def test_cancel_keeps_finished_items_and_cancels_the_rest(
    api: httpx.AsyncClient,
    make_user: Any,
    worker: Worker,
    fake_openai: FakeOpenAI,
    db: Database,
) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers)
    # One model call answers at once, the other two are still running when we cancel.
    fake_openai.inject({}, {"delay": 3}, {"delay": 3})
    submitted = await api.post(
        BATCHES,
        json={"items": items([profile["id"]], 3), "webhook_url": "http://127.0.0.1:9/hook"},
        headers=user.headers,
    )
    batch = submitted.json()
    await poll_counts(api, user.headers, batch["id"], lambda counts: counts["succeeded"] == 1)

    canceled = await api.post(f"{BATCHES}/{batch['id']}/cancel", headers=user.headers)
    assert canceled.status_code == 200, canceled.text
    body = canceled.json()
    assert body["status"] == "canceled"
    assert body["finished_at"] is not None
    assert body["counts"] == {
        "total": 3,
        "queued": 0,
        "running": 0,
        "succeeded": 1,
        "failed": 0,
        "canceled": 2,
    }
    lines = await results_of(api, user.headers, batch["id"])
    assert sorted(line["status"] for line in lines) == ["canceled", "canceled", "succeeded"]
    assert all(
        line["error"]["code"] == "canceled" for line in lines if line["status"] == "canceled"
    )

    again = await api.post(f"{BATCHES}/{batch['id']}/cancel", headers=user.headers)
    assert again.status_code == 409
    assert again.json()["code"] == "conflict"
    # A finished long poll answers at once.
    polled = await api.get(f"{BATCHES}/{batch['id']}", params={"wait": 30}, headers=user.headers)
    assert polled.json()["status"] == "canceled"
    assert await event_types(db, batch["id"]) == ["batch.canceled"]


async def test_batches_are_private(api: httpx.AsyncClient, make_user: Any) -> None:
    owner, other = await make_user(), await make_user()
    profile = await create_profile(api, owner.headers)
    batch = (
        await api.post(BATCHES, json={"items": items([profile["id"]], 2)}, headers=owner.headers)
    ).json()
    for method, path in (("GET", ""), ("GET", "/results"), ("POST", "/cancel")):
        response = await api.request(
            method, f"{BATCHES}/{batch['id']}{path}", headers=other.headers
        )
        assert response.status_code == 404, (method, path)
        assert response.json()["code"] == "not_found"
    assert (await api.get(BATCHES, headers=other.headers)).json()["data"] == []
    assert (
        await api.get(f"{BATCHES}/batch_nope/results", headers=owner.headers)
    ).status_code == 404


async def test_batch_scopes(api: httpx.AsyncClient, make_user: Any) -> None:
    user = await make_user()
    created = await api.post(
        "/api/v1/api-keys", json={"name": "ro", "scopes": ["batches:read"]}, headers=user.headers
    )
    key = {"Authorization": f"Bearer {created.json()['key']}"}
    assert (await api.get(BATCHES, headers=key)).status_code == 200
    body = {"items": items(["prof_unknown"], 1)}
    response = await api.post(BATCHES, json=body, headers=key)
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


async def test_thousand_items_in_one_request(
    api: httpx.AsyncClient, make_user: Any, fake_openai: FakeOpenAI
) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers)
    fake_openai.set_latency(1)  # a running worker makes few model calls for these
    submitted = await api.post(
        BATCHES, json={"items": items([profile["id"]], 1000)}, headers=user.headers
    )
    assert submitted.status_code == 202, submitted.text
    batch = submitted.json()
    assert batch["counts"]["total"] == 1000

    seen: set[str] = set()
    cursor = None
    while True:
        params: dict[str, Any] = {"batch_id": batch["id"], "limit": 100}
        if cursor:
            params["cursor"] = cursor
        page = (await api.get(JOBS, params=params, headers=user.headers)).json()
        seen.update(job["id"] for job in page["data"])
        if not (cursor := page["next_cursor"]):
            break
    assert len(seen) == 1000
    # Cancel, so a worker that picks these up later finds nothing left to generate.
    canceled = await api.post(f"{BATCHES}/{batch['id']}/cancel", headers=user.headers)
    assert canceled.status_code == 200
    assert canceled.json()["counts"]["total"] == 1000
    assert len(await results_of(api, user.headers, batch["id"])) == 1000
