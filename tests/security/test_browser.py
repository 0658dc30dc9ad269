"""Browser safety without cookies: credentials travel only in the `Authorization` header, so a
page on another site cannot make a browser send them (no CSRF), and CORS never asks browsers
to attach cookies. A cookie-based sign-in would need CSRF protection first (docs/security.md)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import PASSWORD

API = "/api/v1"
CONSOLE = "https://app.example.com"  # ALLOWED_ORIGINS of the test settings
WRONG_PASSWORD = "not-the-password"  # pragma: allowlist secret


async def test_no_answer_sets_a_cookie(api: httpx.AsyncClient) -> None:
    email = "cookies@example.com"
    answers = [await api.post(f"{API}/auth/register", json={"email": email, "password": PASSWORD})]
    login = await api.post(f"{API}/auth/login", json={"email": email, "password": PASSWORD})
    tokens = login.json()
    answers += [
        login,
        await api.post(f"{API}/auth/login", json={"email": email, "password": WRONG_PASSWORD}),
        refreshed := await api.post(
            f"{API}/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        ),
        await api.get(f"{API}/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}),
        await api.post(
            f"{API}/auth/logout", json={"refresh_token": refreshed.json()["refresh_token"]}
        ),
    ]
    assert [answer.status_code for answer in answers] == [201, 200, 401, 200, 200, 204]
    assert not [answer for answer in answers if "set-cookie" in answer.headers]


async def test_a_token_in_a_cookie_is_not_a_credential(
    api: httpx.AsyncClient, make_user: Any
) -> None:
    user = await make_user()
    for name in ("access_token", "token", "session", "Authorization"):
        response = await api.get(f"{API}/me", headers={"Cookie": f"{name}={user.access_token}"})
        assert response.status_code == 401, name


async def test_cors_never_invites_credentials(api: httpx.AsyncClient) -> None:
    preflight = await api.options(
        f"{API}/jobs",
        headers={
            "Origin": CONSOLE,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,idempotency-key",
        },
    )
    assert preflight.headers["access-control-allow-origin"] == CONSOLE
    assert "access-control-allow-credentials" not in preflight.headers
    simple = await api.get("/health/live", headers={"Origin": CONSOLE})
    assert simple.headers["access-control-allow-origin"] == CONSOLE
    assert "access-control-allow-credentials" not in simple.headers
