"""Admin endpoints over real HTTP: users, access, budgets, platform usage and the queue."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from arq.worker import Worker
from sqlalchemy import text

from shared.db.engine import Database
from tests.factories import run_job
from tests.support.admin import make_admin, problem

ADMIN = "/api/v1/admin"

ROUTES = [
    ("GET", "/users", None),
    ("GET", "/users/usr_unknown", None),
    ("PATCH", "/users/usr_unknown", {"disabled": True}),
    ("GET", "/usage", None),
    ("GET", "/queue", None),
    ("GET", "/audit", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_admin_routes_refuse_users_and_anonymous_callers(
    api: httpx.AsyncClient, make_user: Any, method: str, path: str, body: Any
) -> None:
    user = await make_user()
    anonymous = await api.request(method, ADMIN + path, json=body)
    problem(anonymous, 401, "unauthorized")
    refused = await api.request(method, ADMIN + path, json=body, headers=user.headers)
    problem(refused, 403, "forbidden")


async def test_list_users_filters_and_pages(
    api: httpx.AsyncClient, make_user: Any, uow_factory: Any
) -> None:
    admin = await make_admin(make_user, uow_factory)
    alice = await make_user("alice-ops@example.com")
    bob = await make_user("bob_ops@example.com")

    first = await api.get(f"{ADMIN}/users", params={"limit": 2}, headers=admin.headers)
    assert first.status_code == 200, first.text
    page = first.json()
    assert [u["email"] for u in page["data"]] == [bob.email, alice.email]  # newest first
    assert page["data"][0] == {
        "id": bob.user_id,
        "email": bob.email,
        "display_name": None,
        "role": "user",
        "disabled": False,
        "monthly_budget_usd": None,
        "created_at": page["data"][0]["created_at"],
    }
    rest = await api.get(
        f"{ADMIN}/users", params={"limit": 2, "cursor": page["next_cursor"]}, headers=admin.headers
    )
    assert [u["id"] for u in rest.json()["data"]] == [admin.user_id]
    assert rest.json()["next_cursor"] is None

    async def emails(**params: Any) -> list[str]:
        response = await api.get(f"{ADMIN}/users", params=params, headers=admin.headers)
        assert response.status_code == 200, response.text
        return [u["email"] for u in response.json()["data"]]

    assert await emails(email="ALICE") == [alice.email]
    # `_` is a literal underscore, not a LIKE wildcard.
    assert await emails(email="_ops") == [bob.email]
    assert await emails(role="admin") == [admin.email]
    assert await emails(role="user") == [bob.email, alice.email]
    assert await emails(disabled="true") == []
    bad_role = await api.get(f"{ADMIN}/users", params={"role": "root"}, headers=admin.headers)
    problem(bad_role, 422, "validation_error")


async def test_get_and_patch_user(api: httpx.AsyncClient, make_user: Any, uow_factory: Any) -> None:
    admin = await make_admin(make_user, uow_factory)
    user = await make_user()

    got = await api.get(f"{ADMIN}/users/{user.user_id}", headers=admin.headers)
    assert got.status_code == 200
    assert got.json()["email"] == user.email
    problem(await api.get(f"{ADMIN}/users/usr_nobody", headers=admin.headers), 404, "not_found")

    changed = await api.patch(
        f"{ADMIN}/users/{user.user_id}",
        json={"role": "admin", "monthly_budget_usd": "12.5"},
        headers=admin.headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["role"] == "admin"
    assert changed.json()["monthly_budget_usd"] == "12.500000"
    # The promoted user's existing token now reaches admin routes.
    assert (await api.get(f"{ADMIN}/queue", headers=user.headers)).status_code == 200

    # Absent fields stay; null removes the budget.
    cleared = await api.patch(
        f"{ADMIN}/users/{user.user_id}", json={"monthly_budget_usd": None}, headers=admin.headers
    )
    assert cleared.json()["monthly_budget_usd"] is None
    assert cleared.json()["role"] == "admin"

    for body, field in [
        ({"monthly_budget_usd": "-1"}, "monthly_budget_usd"),
        ({"monthly_budget_usd": "1.0000001"}, "monthly_budget_usd"),
        ({"monthly_budget_usd": 5}, "monthly_budget_usd"),
        ({"role": "owner"}, "role"),
    ]:
        refused = await api.patch(f"{ADMIN}/users/{user.user_id}", json=body, headers=admin.headers)
        errors = problem(refused, 422, "validation_error")["errors"]
        assert [e["field"] for e in errors] == [field], errors
    unknown = await api.patch(
        f"{ADMIN}/users/{user.user_id}", json={"email": "x@example.com"}, headers=admin.headers
    )
    problem(unknown, 422, "validation_error")
    problem(
        await api.patch(f"{ADMIN}/users/usr_nobody", json={"role": "user"}, headers=admin.headers),
        404,
        "not_found",
    )


async def test_admins_cannot_demote_or_disable_themselves(
    api: httpx.AsyncClient, make_user: Any, uow_factory: Any
) -> None:
    admin = await make_admin(make_user, uow_factory)
    me = f"{ADMIN}/users/{admin.user_id}"
    problem(await api.patch(me, json={"role": "user"}, headers=admin.headers), 409, "conflict")
    problem(await api.patch(me, json={"disabled": True}, headers=admin.headers), 409, "conflict")
    # Harmless changes to oneself are fine.
    budget = await api.patch(me, json={"monthly_budget_usd": "3"}, headers=admin.headers)
    assert budget.status_code == 200, budget.text
    assert (await api.get(me, headers=admin.headers)).json()["role"] == "admin"


async def test_disabling_a_user_locks_out_every_credential_at_once(
    api: httpx.AsyncClient, make_user: Any, uow_factory: Any
) -> None:
    admin = await make_admin(make_user, uow_factory)
    user = await make_user()
    key = await api.post("/api/v1/api-keys", json={"name": "ci"}, headers=user.headers)
    assert key.status_code == 201, key.text
    key_headers = {"Authorization": f"Bearer {key.json()['key']}"}
    assert (await api.get("/api/v1/me", headers=key_headers)).status_code == 200
    assert (await api.get("/api/v1/me", headers=user.headers)).status_code == 200

    disabled = await api.patch(
        f"{ADMIN}/users/{user.user_id}", json={"disabled": True}, headers=admin.headers
    )
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["disabled"] is True

    problem(await api.get("/api/v1/me", headers=user.headers), 401, "unauthorized")
    problem(await api.get("/api/v1/me", headers=key_headers), 401, "unauthorized")
    refreshed = await api.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    problem(refreshed, 401, "unauthorized")
    login = await api.post(
        "/api/v1/auth/login", json={"email": user.email, "password": user.password}
    )
    assert login.status_code == 401, login.text
    listed = await api.get(f"{ADMIN}/users", params={"disabled": "true"}, headers=admin.headers)
    assert [u["id"] for u in listed.json()["data"]] == [user.user_id]

    # Re-enabling restores the API key, but the sessions ended for good: sign in again.
    await api.patch(
        f"{ADMIN}/users/{user.user_id}", json={"disabled": False}, headers=admin.headers
    )
    assert (await api.get("/api/v1/me", headers=key_headers)).status_code == 200
    problem(await api.get("/api/v1/me", headers=user.headers), 401, "unauthorized")
    again = await api.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert again.status_code == 401


async def test_admin_usage_groups_every_users_spending(
    api: httpx.AsyncClient, make_user: Any, uow_factory: Any, worker: Worker
) -> None:
    admin = await make_admin(make_user, uow_factory)
    alice, bob = await make_user(), await make_user()
    costs = {
        alice.user_id: [(await run_job(api, alice.headers))["result"]["cost_usd"]],
        bob.user_id: [(await run_job(api, bob.headers))["result"]["cost_usd"] for _ in range(2)],
    }

    response = await api.get(f"{ADMIN}/usage", params={"group_by": "user"}, headers=admin.headers)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["group_by"] == "user"
    rows = {row["user_id"]: row for row in report["data"]}
    assert set(rows) == {alice.user_id, bob.user_id}
    assert rows[alice.user_id]["email"] == alice.email
    assert "day" not in rows[alice.user_id]
    for user_id, paid in costs.items():
        assert rows[user_id]["jobs"] == len(paid)
        assert rows[user_id]["cost_usd"] == usd_sum(paid)
    assert report["total"]["jobs"] == 3
    assert report["total"]["cost_usd"] == usd_sum([c for paid in costs.values() for c in paid])
    assert "budget" not in report

    by_model = await api.get(f"{ADMIN}/usage", params={"group_by": "model"}, headers=admin.headers)
    assert [(r["model"], r["jobs"]) for r in by_model.json()["data"]] == [("gpt-4o-mini", 3)]


async def test_queue_shows_unfinished_jobs_and_live_workers(
    api: httpx.AsyncClient, make_user: Any, uow_factory: Any, worker: Worker, db: Database
) -> None:
    admin = await make_admin(make_user, uow_factory)
    user = await make_user()
    worker_id = worker.ctx["deps"].worker_id
    profile = (
        await api.post(
            "/api/v1/profiles",
            json={"name": "Ada", "samples": [{"platform": "x", "text": "Ship it. Then listen."}]},
            headers=user.headers,
        )
    ).json()

    # Holding writes to the ledger keeps the jobs from finishing (a job is billed in the
    # transaction that ends it), so they are certainly queued or running when we look.
    async with db.engine.connect() as hold:
        await hold.execute(text("BEGIN"))
        await hold.execute(text("LOCK TABLE usage_ledger IN SHARE MODE"))
        ids = []
        for _ in range(2):
            job = await api.post(
                "/api/v1/jobs",
                json={"profile_id": profile["id"], "platform": "x", "topic": "queues"},
                headers=user.headers,
            )
            assert job.status_code == 202, job.text
            ids.append(job.json()["id"])
        busy = await api.get(f"{ADMIN}/queue", headers=admin.headers)
        await hold.execute(text("ROLLBACK"))
    assert busy.status_code == 200, busy.text
    queue = busy.json()
    assert queue["queued_jobs"] + queue["running_jobs"] == 2
    assert queue["queue_depth"] >= 0
    assert worker_id in queue["live_workers"]
    if queue["queued_jobs"]:
        assert queue["oldest_queued_seconds"] >= 0
    else:
        assert queue["oldest_queued_seconds"] is None

    for job_id in ids:
        done = await api.get(f"/api/v1/jobs/{job_id}", params={"wait": 20}, headers=user.headers)
        assert done.json()["status"] == "succeeded"
    idle = (await api.get(f"{ADMIN}/queue", headers=admin.headers)).json()
    assert (idle["queued_jobs"], idle["running_jobs"], idle["oldest_queued_seconds"]) == (
        0,
        0,
        None,
    )


def usd_sum(amounts: list[str]) -> str:
    return f"{sum((Decimal(a) for a in amounts), Decimal(0)):.6f}"
