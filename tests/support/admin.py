"""Admins for tests: a registered user promoted in the database (there is no API for it)."""

from __future__ import annotations

from typing import Any

import httpx

from shared.auth.repository import set_role


async def make_admin(make_user: Any, uow_factory: Any) -> Any:
    """A signed-in user with the admin role (the role is re-read on every request)."""
    admin = await make_user()
    async with uow_factory() as uow:
        await set_role(uow.session, admin.user_id, "admin")
        await uow.commit()
    return admin


async def set_budget(
    api: httpx.AsyncClient, admin_headers: dict[str, str], user_id: str, budget: str | None
) -> dict[str, Any]:
    response = await api.patch(
        f"/api/v1/admin/users/{user_id}",
        json={"monthly_budget_usd": budget},
        headers=admin_headers,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert a problem+json answer with ``status`` and ``code``; return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body
