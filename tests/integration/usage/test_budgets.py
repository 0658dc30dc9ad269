"""Monthly budgets end to end: reservation at submission, settlement from the ledger."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx
from arq.worker import Worker
from sqlalchemy import func, select, text

from shared.billing.budget import estimate
from shared.billing.models import UsageEntry
from shared.config import Settings
from shared.db.engine import Database
from shared.jobs.models import TERMINAL_STATUSES, Job
from tests.factories import create_profile, submit_job, wait_for_job
from tests.fakes.openai_server import FakeOpenAI
from tests.support.admin import make_admin, problem, set_budget


async def budgeted_user(
    api: httpx.AsyncClient, make_user: Any, uow_factory: Any, budget: str
) -> tuple[Any, str]:
    """A user with a monthly budget set by an admin, and a profile to submit jobs for."""
    admin = await make_admin(make_user, uow_factory)
    user = await make_user()
    assert (await set_budget(api, admin.headers, user.user_id, budget))["monthly_budget_usd"]
    profile = await create_profile(api, user.headers)
    return user, profile["id"]


async def standing(api: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await api.get("/api/v1/usage", headers=headers)
    assert response.status_code == 200, response.text
    budget: dict[str, Any] = response.json()["budget"]
    return budget


async def test_zero_budget_refuses_every_job(
    api: httpx.AsyncClient, make_user: Any, uow_factory: Any
) -> None:
    user, profile_id = await budgeted_user(api, make_user, uow_factory, "0")
    refused = await submit_job(api, user.headers, profile_id)
    body = problem(refused, 402, "budget_exceeded")
    assert "0.000000" in body["detail"]
    assert (await api.get("/api/v1/jobs", headers=user.headers)).json()["data"] == []
    budget = await standing(api, user.headers)
    assert budget["monthly_budget_usd"] == "0.000000"
    assert budget["remaining_usd"] == "0.000000"


async def test_concurrent_submissions_cannot_overshoot_the_budget(
    api: httpx.AsyncClient, make_user: Any, uow_factory: Any, settings: Settings, db: Database
) -> None:
    fits = 4
    each = estimate(settings, settings.openai_model, "linkedin")
    user, profile_id = await budgeted_user(api, make_user, uow_factory, str(each * fits))

    # A worker started by an earlier test may still be polling. Holding writes to the ledger
    # keeps any job from settling (a job is billed in the transaction that ends it), so every
    # accepted job keeps its reservation while the burst runs.
    async with db.engine.connect() as hold:
        await hold.execute(text("BEGIN"))
        await hold.execute(text("LOCK TABLE usage_ledger IN SHARE MODE"))
        responses = await asyncio.gather(
            *(submit_job(api, user.headers, profile_id) for _ in range(3 * fits))
        )
        budget = await standing(api, user.headers)
        await hold.execute(text("ROLLBACK"))

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [202] * fits + [402] * (2 * fits), [r.text for r in responses]
    for response in responses:
        if response.status_code == 402:
            problem(response, 402, "budget_exceeded")
    assert budget["reserved_usd"] == f"{each * fits:.6f}"
    assert budget["spent_usd"] == "0.000000"
    assert budget["remaining_usd"] == "0.000000"


async def test_settled_jobs_charge_their_real_cost_not_the_reservation(
    api: httpx.AsyncClient, make_user: Any, uow_factory: Any, settings: Settings, worker: Worker
) -> None:
    each = estimate(settings, settings.openai_model, "linkedin")
    user, profile_id = await budgeted_user(api, make_user, uow_factory, str(each * 2))

    costs = []
    for _ in range(2):
        submitted = await submit_job(api, user.headers, profile_id)
        assert submitted.status_code == 202, submitted.text
        done = await wait_for_job(api, user.headers, submitted.json()["id"])
        assert done["status"] == "succeeded", done
        costs.append(Decimal(done["result"]["cost_usd"]))

    spent = sum(costs, Decimal(0))
    # The fake's real usage is far below the worst case the reservation assumed.
    assert spent <= each
    budget = await standing(api, user.headers)
    assert budget == {
        "monthly_budget_usd": f"{each * 2:.6f}",
        "spent_usd": f"{spent:.6f}",
        "reserved_usd": "0.000000",
        "remaining_usd": f"{each * 2 - spent:.6f}",
        "period_start": budget["period_start"],
    }
    report = (await api.get("/api/v1/usage", headers=user.headers)).json()
    assert report["total"]["cost_usd"] == f"{spent:.6f}"
    assert report["total"]["jobs"] == 2

    # Reservations alone would have used the whole budget; the ledger leaves room for more.
    third = await submit_job(api, user.headers, profile_id)
    assert third.status_code == 202, third.text
    await wait_for_job(api, user.headers, third.json()["id"])


async def test_each_job_is_billed_once_whatever_the_retries(
    api: httpx.AsyncClient,
    make_user: Any,
    worker: Worker,
    fake_openai: FakeOpenAI,
    db: Database,
) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers)
    fake_openai.inject({"status": 500})  # the first attempt fails and is retried
    ids = []
    for topic in ("retries", "billing", "ledgers"):
        submitted = await submit_job(api, user.headers, profile["id"], topic=topic)
        assert submitted.status_code == 202, submitted.text
        ids.append(submitted.json()["id"])
    jobs = [await wait_for_job(api, user.headers, job_id, seconds=30) for job_id in ids]
    assert [job["status"] for job in jobs] == ["succeeded"] * 3, jobs
    assert sorted(job["attempts"] for job in jobs) == [1, 1, 2]

    async with db.sessions() as session:
        finished = await session.scalar(
            select(func.count())
            .select_from(Job)
            .where(Job.user_id == user.user_id, Job.status.in_(TERMINAL_STATUSES))
        )
        billed = await session.execute(
            select(UsageEntry.job_id, func.count())
            .where(UsageEntry.user_id == user.user_id)
            .group_by(UsageEntry.job_id)
        )
    assert dict(billed.all()) == dict.fromkeys(ids, 1)
    assert finished == 3
    report = (await api.get("/api/v1/usage", headers=user.headers)).json()
    assert report["total"]["jobs"] == 3
    paid = sum((Decimal(job["result"]["cost_usd"]) for job in jobs), Decimal(0))
    assert report["total"]["cost_usd"] == f"{paid:.6f}"
