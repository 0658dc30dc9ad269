"""GET /usage over real HTTP: the caller's ledger, grouped, with the window rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from arq.worker import Worker

from tests.factories import create_profile, submit_job, wait_for_job
from tests.support.admin import problem

USAGE = "/api/v1/usage"


async def finished_job(api: httpx.AsyncClient, headers: dict[str, str], platform: str) -> Any:
    profile = await create_profile(api, headers)
    submitted = await submit_job(api, headers, profile["id"], platform=platform)
    assert submitted.status_code == 202, submitted.text
    done = await wait_for_job(api, headers, submitted.json()["id"])
    assert done["status"] == "succeeded", done
    return done["result"]


def usd_sum(amounts: list[str]) -> str:
    return f"{sum((Decimal(a) for a in amounts), Decimal(0)):.6f}"


async def test_usage_reports_the_callers_jobs_by_day_model_and_platform(
    api: httpx.AsyncClient, make_user: Any, worker: Worker
) -> None:
    user, other = await make_user(), await make_user()
    results = [
        await finished_job(api, user.headers, "linkedin"),
        await finished_job(api, user.headers, "x"),
    ]
    await finished_job(api, other.headers, "x")  # never in the caller's report
    cost = usd_sum([r["cost_usd"] for r in results])
    prompt = sum(r["usage"]["prompt_tokens"] for r in results)
    completion = sum(r["usage"]["completion_tokens"] for r in results)

    response = await api.get(USAGE, headers=user.headers)
    assert response.status_code == 200, response.text
    report = response.json()
    now = datetime.fromisoformat(report["to"])
    assert report["group_by"] == "day"
    assert now <= datetime.now(UTC)
    assert datetime.fromisoformat(report["from"]) == now.replace(
        day=1, hour=0, minute=0, second=0, microsecond=0
    )
    assert report["budget"] is None  # no budget set
    total = {
        "jobs": 2,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "cached_prompt_tokens": sum(r["usage"]["cached_prompt_tokens"] for r in results),
        "total_tokens": prompt + completion,
        "cost_usd": cost,
    }
    assert report["total"] == total
    assert report["data"] == [{"day": now.strftime("%Y-%m-%d"), **total}]

    by_platform = (
        await api.get(USAGE, params={"group_by": "platform"}, headers=user.headers)
    ).json()
    assert [(r["platform"], r["jobs"], r["cost_usd"]) for r in by_platform["data"]] == [
        ("linkedin", 1, results[0]["cost_usd"]),
        ("x", 1, results[1]["cost_usd"]),
    ]
    by_model = (await api.get(USAGE, params={"group_by": "model"}, headers=user.headers)).json()
    assert [(r["model"], r["jobs"]) for r in by_model["data"]] == [("gpt-4o-mini", 2)]
    assert by_model["total"] == total

    last_year = {
        "from": (now - timedelta(days=400)).isoformat(),
        "to": (now - timedelta(days=300)).isoformat(),
    }
    empty = (await api.get(USAGE, params=last_year, headers=user.headers)).json()
    assert empty["data"] == []
    assert empty["total"]["jobs"] == 0
    assert empty["total"]["cost_usd"] == "0.000000"


async def test_usage_window_and_grouping_are_validated(
    api: httpx.AsyncClient, make_user: Any
) -> None:
    user = await make_user()
    now = datetime.now(UTC)

    async def refused(params: dict[str, str], field: str) -> None:
        body = problem(
            await api.get(USAGE, params=params, headers=user.headers), 422, "validation_error"
        )
        assert field in [error["field"] for error in body["errors"]], body

    await refused({"from": now.isoformat(), "to": now.isoformat()}, "from")
    await refused({"from": (now - timedelta(days=367)).isoformat()}, "from")
    await refused({"from": "2025-01-01T00:00:00"}, "from")  # no offset
    await refused({"to": "yesterday"}, "to")
    await refused({"to": "0.5"}, "to")  # was read as a Unix time; found by fuzzing
    await refused({"from": "2025-02-30T00:00:00Z"}, "from")  # no such day
    await refused({"group_by": "user"}, "group_by")  # admins only
    ok = await api.get(
        USAGE,
        params={"from": "2025-01-01T00:00:00+02:00", "to": "2025-12-31T00:00:00Z"},
        headers=user.headers,
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["from"] == "2024-12-31T22:00:00Z"


async def test_usage_needs_the_usage_read_scope(api: httpx.AsyncClient, make_user: Any) -> None:
    user = await make_user()
    problem(await api.get(USAGE), 401, "unauthorized")

    async def key(scopes: list[str]) -> dict[str, str]:
        created = await api.post(
            "/api/v1/api-keys", json={"name": "k", "scopes": scopes}, headers=user.headers
        )
        assert created.status_code == 201, created.text
        return {"Authorization": f"Bearer {created.json()['key']}"}

    problem(await api.get(USAGE, headers=await key(["jobs:read"])), 403, "forbidden")
    assert (await api.get(USAGE, headers=await key(["usage:read"]))).status_code == 200
