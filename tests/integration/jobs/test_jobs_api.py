"""Jobs over the real API with a real ARQ worker and the fake model over HTTP."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from arq.worker import Worker
from sqlalchemy import func, select

from shared.billing.models import UsageEntry
from shared.db.engine import Database
from tests.factories import create_profile, submit_job, wait_for_job
from tests.fakes.openai_server import FakeOpenAI

JOBS = "/api/v1/jobs"


async def ledger_rows(db: Database, job_id: str) -> int:
    async with db.sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(UsageEntry).where(UsageEntry.job_id == job_id)
        )
    return int(count or 0)


async def test_job_runs_end_to_end(
    api: httpx.AsyncClient,
    make_user: Any,
    worker: Worker,
    fake_openai: FakeOpenAI,
    db: Database,
) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers)
    submitted = await submit_job(api, user.headers, profile["id"], metadata={"campaign": "q4"})
    assert submitted.status_code == 202
    job = submitted.json()
    assert job["status"] == "queued"
    assert submitted.headers["location"] == f"/api/v1/jobs/{job['id']}"

    done = await wait_for_job(api, user.headers, job["id"])
    assert done["status"] == "succeeded", done
    assert done["attempts"] == 1
    assert done["metadata"] == {"campaign": "q4"}
    result = done["result"]
    assert result["text"]
    assert len(result["text"]) <= 3000
    assert result["model"] == "gpt-4o-mini"
    assert result["backend"] == "openai"
    assert 0 <= result["style_score"]["overall"] <= 1
    usage = result["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    assert float(result["cost_usd"]) > 0
    assert len(result["cost_usd"].split(".")[1]) == 6
    assert done["finished_at"] >= done["started_at"] >= done["created_at"]
    assert await ledger_rows(db, job["id"]) == 1
    calls = [r for r in fake_openai.requests if "why we hire juniors" in str(r.messages)]
    assert len(calls) == 1


async def test_long_poll_wakes_on_completion_not_timeout(
    api: httpx.AsyncClient, make_user: Any, worker: Worker, fake_openai: FakeOpenAI
) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers)
    fake_openai.set_latency(0.5)
    job = (await submit_job(api, user.headers, profile["id"])).json()
    started = time.monotonic()
    done = await api.get(f"{JOBS}/{job['id']}", params={"wait": 30}, headers=user.headers)
    elapsed = time.monotonic() - started
    assert done.json()["status"] == "succeeded"
    assert elapsed < 10


async def test_long_poll_returns_unfinished_job_at_timeout(
    api: httpx.AsyncClient, make_user: Any, worker: Worker, fake_openai: FakeOpenAI
) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers)
    fake_openai.set_latency(3)
    job = (await submit_job(api, user.headers, profile["id"])).json()
    started = time.monotonic()
    response = await api.get(f"{JOBS}/{job['id']}", params={"wait": 1}, headers=user.headers)
    assert time.monotonic() - started >= 0.9
    assert response.json()["status"] in {"queued", "running"}
    await wait_for_job(api, user.headers, job["id"])


async def test_retryable_error_retries_with_retry_after(
    api: httpx.AsyncClient, make_user: Any, worker: Worker, fake_openai: FakeOpenAI, db: Database
) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers)
    fake_openai.inject({"status": 429, "retry_after": 0.3}, {"status": 500})
    job = (await submit_job(api, user.headers, profile["id"])).json()
    done = await wait_for_job(api, user.headers, job["id"])
    assert done["status"] == "succeeded", done
    assert done["attempts"] == 3
    assert done["error"] is None
    assert await ledger_rows(db, job["id"]) == 1


async def test_permanent_error_fails_fast_with_stable_code(
    api: httpx.AsyncClient, make_user: Any, worker: Worker, fake_openai: FakeOpenAI, db: Database
) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers)
    fake_openai.inject({"status": 400, "code": "content_policy_violation"})
    job = (await submit_job(api, user.headers, profile["id"])).json()
    done = await wait_for_job(api, user.headers, job["id"])
    assert done["status"] == "failed"
    assert done["attempts"] == 1
    assert done["error"]["code"] == "model_content_policy"
    assert done["result"] is None
    assert await ledger_rows(db, job["id"]) == 1


async def test_attempts_are_capped(
    api: httpx.AsyncClient, make_user: Any, worker: Worker, fake_openai: FakeOpenAI
) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers)
    fake_openai.inject({"status": 503}, {"status": 503}, {"status": 503})
    job = (await submit_job(api, user.headers, profile["id"])).json()
    done = await wait_for_job(api, user.headers, job["id"])
    assert done["status"] == "failed"
    assert done["attempts"] == 3
    assert done["error"]["code"] == "model_unavailable"


async def test_cancel_beats_a_late_result(
    api: httpx.AsyncClient, make_user: Any, worker: Worker, fake_openai: FakeOpenAI, db: Database
) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers)
    fake_openai.set_latency(1.5)
    job = (await submit_job(api, user.headers, profile["id"])).json()
    for _ in range(100):
        if (await api.get(f"{JOBS}/{job['id']}", headers=user.headers)).json()[
            "status"
        ] == "running":
            break
        await asyncio.sleep(0.05)
    canceled = await api.post(f"{JOBS}/{job['id']}/cancel", headers=user.headers)
    assert canceled.status_code == 200
    assert canceled.json()["status"] == "canceled"
    for _ in range(100):
        if await ledger_rows(db, job["id"]):
            break
        await asyncio.sleep(0.1)
    final = (await api.get(f"{JOBS}/{job['id']}", headers=user.headers)).json()
    assert final["status"] == "canceled"
    assert final["result"] is None
    assert await ledger_rows(db, job["id"]) == 1
    again = await api.post(f"{JOBS}/{job['id']}/cancel", headers=user.headers)
    assert again.status_code == 409
    assert again.json()["code"] == "conflict"


async def test_jobs_are_private(api: httpx.AsyncClient, make_user: Any) -> None:
    owner, other = await make_user(), await make_user()
    profile = await create_profile(api, owner.headers)
    job = (await submit_job(api, owner.headers, profile["id"])).json()
    for method, path in (("GET", ""), ("POST", "/cancel")):
        response = await api.request(method, f"{JOBS}/{job['id']}{path}", headers=other.headers)
        assert response.status_code == 404
    assert (await api.get(JOBS, headers=other.headers)).json()["data"] == []
    # Another user's profile cannot be used either.
    assert (await submit_job(api, other.headers, profile["id"])).status_code == 404


async def test_list_filters_and_paginates(
    api: httpx.AsyncClient, make_user: Any, fake_openai: FakeOpenAI
) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers)
    fake_openai.set_latency(2)  # keep every job unfinished while we cancel one
    ids = [(await submit_job(api, user.headers, profile["id"])).json()["id"] for _ in range(5)]
    assert (await api.post(f"{JOBS}/{ids[0]}/cancel", headers=user.headers)).status_code == 200
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await api.get(JOBS, params=params, headers=user.headers)).json()
        seen += [job["id"] for job in page["data"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen == list(reversed(ids))
    canceled = await api.get(JOBS, params={"status": "canceled"}, headers=user.headers)
    assert [job["id"] for job in canceled.json()["data"]] == [ids[0]]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"status": "done"}, "status"), ({"limit": 0}, "limit"), ({"cursor": "!!!"}, "cursor")],
)
async def test_list_rejects_bad_parameters(
    api: httpx.AsyncClient, make_user: Any, params: dict[str, Any], field: str
) -> None:
    user = await make_user()
    response = await api.get(JOBS, params=params, headers=user.headers)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert any(error["field"] == field for error in response.json()["errors"])


async def test_submit_validation(api: httpx.AsyncClient, make_user: Any) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers)
    cases = [
        {"platform": "myspace"},
        {"topic": ""},
        {"options": {"temperature": 5}},
        {"options": {"model": "no-such-model"}},
        {"webhook_url": "ftp://example.com/hook"},
        {"status": "succeeded"},
        # Metadata numbers are bounded (±10^15); 1e308 was stored as a 309-digit number.
        {"metadata": {"n": 1e308}},
        {"metadata": {"n": 10**16}},
        {"metadata": {"n": -(10**16)}},
    ]
    for fields in cases:
        response = await submit_job(api, user.headers, profile["id"], **fields)
        assert response.status_code == 422, (fields, response.text)
        assert response.json()["code"] == "validation_error"
    assert (await submit_job(api, user.headers, "prof_missing")).status_code == 404
    bounded = await submit_job(api, user.headers, profile["id"], metadata={"n": 10**15, "x": 0.5})
    assert bounded.json()["metadata"] == {"n": 10**15, "x": 0.5}
