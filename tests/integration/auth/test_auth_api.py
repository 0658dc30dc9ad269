"""The auth endpoints over real HTTP against Postgres: what a client of the API sees."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import text

from shared.clock import utcnow
from shared.config import Settings
from shared.db.engine import Database
from tests.conftest import TestUser

API = "/api/v1"
PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a different passphrase entirely"
ATTACKER_SECRET = "attacker-secret-0123456789abcdefghijklmnop"  # pragma: allowlist secret


def email() -> str:
    return f"user-{uuid.uuid4().hex[:10]}@example.com"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["status"] == status
    return body


async def login(api: httpx.AsyncClient, address: str, password: str = PASSWORD) -> dict[str, Any]:
    response = await api.post(f"{API}/auth/login", json={"email": address, "password": password})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def refresh(api: httpx.AsyncClient, token: str) -> httpx.Response:
    return await api.post(f"{API}/auth/refresh", json={"refresh_token": token})


async def me(api: httpx.AsyncClient, token: str) -> httpx.Response:
    return await api.get(f"{API}/me", headers=bearer(token))


async def create_key(api: httpx.AsyncClient, token: str, **fields: Any) -> dict[str, Any]:
    response = await api.post(
        f"{API}/api-keys", json={"name": "ci", **fields}, headers=bearer(token)
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def forge(
    settings: Settings, user: TestUser, *, secret: str | None = None, **overrides: Any
) -> str:
    """An access token like ``user``'s own, with any claim or header changed."""
    key = settings.jwt_keys[0]
    now = int(utcnow().timestamp())
    genuine = jwt.decode(user.access_token, options={"verify_signature": False})
    claims = {
        "sub": user.user_id,
        "sid": genuine["sid"],
        "role": "user",
        "typ": "access",
        "jti": uuid.uuid4().hex,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + 300,
    }
    headers = {"kid": overrides.pop("kid", key.kid)}
    claims.update(overrides)
    return jwt.encode(claims, secret or key.secret, algorithm="HS256", headers=headers)


async def sql(db: Database, statement: str, **params: Any) -> None:
    async with db.engine.begin() as connection:
        await connection.execute(text(statement), params)


# Registration


async def test_register_creates_a_user_and_never_returns_the_password(
    api: httpx.AsyncClient,
) -> None:
    address = email()
    response = await api.post(
        f"{API}/auth/register",
        json={"email": f"  {address.upper()} ", "password": PASSWORD, "display_name": "Ada"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["email"] == address
    assert body["display_name"] == "Ada"
    assert body["role"] == "user"
    assert body["id"].startswith("usr_")
    assert body["created_at"]
    assert "password" not in response.text
    assert "argon2" not in response.text


async def test_register_twice_is_a_conflict(api: httpx.AsyncClient) -> None:
    address = email()
    first = await api.post(f"{API}/auth/register", json={"email": address, "password": PASSWORD})
    assert first.status_code == 201
    again = await api.post(
        f"{API}/auth/register", json={"email": address.upper(), "password": PASSWORD}
    )
    problem(again, 409, "conflict")


async def test_register_validates_fields(api: httpx.AsyncClient) -> None:
    short = await api.post(f"{API}/auth/register", json={"email": email(), "password": "short"})
    body = problem(short, 422, "validation_error")
    assert [error["field"] for error in body["errors"]] == ["password"]

    bad_email = await api.post(
        f"{API}/auth/register", json={"email": "not-an-email", "password": PASSWORD}
    )
    body = problem(bad_email, 422, "validation_error")
    assert body["errors"] == [{"field": "email", "message": "is not a valid email address"}]

    unknown = await api.post(
        f"{API}/auth/register", json={"email": email(), "password": PASSWORD, "role": "admin"}
    )
    assert unknown.status_code in {400, 422}, unknown.text
    assert unknown.json()["code"] in {"validation_error", "invalid_json"}


# Login


async def test_login_returns_a_bearer_pair(api: httpx.AsyncClient, settings: Settings) -> None:
    address = email()
    await api.post(f"{API}/auth/register", json={"email": address, "password": PASSWORD})
    pair = await login(api, address.upper())
    assert pair["token_type"] == "bearer"
    assert pair["expires_in"] == settings.access_token_ttl
    assert pair["refresh_token"]
    assert pair["access_token"]
    header = jwt.get_unverified_header(pair["access_token"])
    assert header == {"alg": "HS256", "kid": settings.jwt_keys[0].kid, "typ": "JWT"}
    claims = jwt.decode(pair["access_token"], options={"verify_signature": False})
    assert {"sub", "role", "exp", "iat", "jti", "sid", "iss", "aud"} <= claims.keys()
    assert (await me(api, pair["access_token"])).json()["email"] == address


async def test_wrong_password_and_unknown_email_look_the_same(
    api: httpx.AsyncClient, make_user: Any
) -> None:
    user = await make_user()
    wrong = await api.post(
        f"{API}/auth/login", json={"email": user.email, "password": "not the password"}
    )
    unknown = await api.post(
        f"{API}/auth/login", json={"email": email(), "password": "not the password"}
    )
    wrong_body = problem(wrong, 401, "unauthorized")
    unknown_body = problem(unknown, 401, "unauthorized")
    wrong_body.pop("request_id", None)
    unknown_body.pop("request_id", None)
    assert wrong_body == unknown_body
    assert wrong_body["detail"] == "invalid email or password"


# Refresh tokens


async def test_refresh_rotates_and_the_old_token_dies(
    api: httpx.AsyncClient, make_user: Any
) -> None:
    user = await make_user()
    first = await refresh(api, user.refresh_token)
    assert first.status_code == 200, first.text
    pair = first.json()
    assert pair["refresh_token"] != user.refresh_token
    assert (await me(api, pair["access_token"])).status_code == 200
    problem(await refresh(api, user.refresh_token), 401, "unauthorized")


async def test_reusing_a_refresh_token_revokes_the_whole_family(
    api: httpx.AsyncClient, make_user: Any
) -> None:
    user = await make_user()
    rotated = (await refresh(api, user.refresh_token)).json()
    problem(await refresh(api, user.refresh_token), 401, "unauthorized")  # theft detected
    # The legitimate-looking successor and the session's access tokens are dead too.
    problem(await refresh(api, rotated["refresh_token"]), 401, "unauthorized")
    problem(await me(api, rotated["access_token"]), 401, "unauthorized")
    problem(await me(api, user.access_token), 401, "unauthorized")
    # Other sessions of the same user are untouched.
    other = await login(api, user.email)
    assert (await refresh(api, other["refresh_token"])).status_code == 200


async def test_concurrent_refreshes_with_one_token_succeed_exactly_once(
    api: httpx.AsyncClient, make_user: Any
) -> None:
    user = await make_user()
    for _ in range(3):
        pair = await login(api, user.email)
        responses = await asyncio.gather(*(refresh(api, pair["refresh_token"]) for _ in range(2)))
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [200, 401], [response.text for response in responses]


async def test_unknown_refresh_token_is_unauthorized(api: httpx.AsyncClient) -> None:
    problem(await refresh(api, "never-issued"), 401, "unauthorized")


async def test_logout_ends_the_session(api: httpx.AsyncClient, make_user: Any) -> None:
    user = await make_user()
    response = await api.post(f"{API}/auth/logout", json={"refresh_token": user.refresh_token})
    assert response.status_code == 204
    problem(await refresh(api, user.refresh_token), 401, "unauthorized")
    problem(await me(api, user.access_token), 401, "unauthorized")
    again = await api.post(f"{API}/auth/logout", json={"refresh_token": user.refresh_token})
    assert again.status_code == 204
    unknown = await api.post(f"{API}/auth/logout", json={"refresh_token": "never-issued"})
    assert unknown.status_code == 204


async def test_logout_all_kills_every_session(api: httpx.AsyncClient, make_user: Any) -> None:
    user = await make_user()
    second = await login(api, user.email)
    response = await api.post(f"{API}/auth/logout-all", headers=user.headers)
    assert response.status_code == 204
    for token in (user.refresh_token, second["refresh_token"]):
        problem(await refresh(api, token), 401, "unauthorized")
    for token in (user.access_token, second["access_token"]):
        problem(await me(api, token), 401, "unauthorized")
    assert (await me(api, (await login(api, user.email))["access_token"])).status_code == 200


# Access tokens


async def test_me_needs_a_bearer_token(api: httpx.AsyncClient) -> None:
    problem(await api.get(f"{API}/me"), 401, "unauthorized")
    problem(
        await api.get(f"{API}/me", headers={"Authorization": "Basic dXNlcjpwdw=="}),
        401,
        "unauthorized",
    )
    problem(await api.get(f"{API}/me", headers={"Authorization": "Bearer"}), 401, "unauthorized")
    problem(await me(api, "not.a.jwt"), 401, "unauthorized")


async def test_expired_access_token_says_token_expired(
    api: httpx.AsyncClient, settings: Settings, make_user: Any
) -> None:
    user = await make_user()
    now = int(utcnow().timestamp())
    token = forge(settings, user, iat=now - 3600, exp=now - 600)
    problem(await me(api, token), 401, "token_expired")


async def test_tampered_access_tokens_are_refused(
    api: httpx.AsyncClient, settings: Settings, make_user: Any
) -> None:
    user = await make_user()
    assert (await me(api, forge(settings, user))).status_code == 200  # the control
    alg_none = jwt.encode(
        jwt.decode(forge(settings, user), options={"verify_signature": False}),
        key=None,
        algorithm="none",
        headers={"kid": settings.jwt_keys[0].kid},
    )
    forged = [
        alg_none,
        forge(settings, user, aud="another-api"),
        forge(settings, user, iss="https://evil.example"),
        forge(settings, user, secret=ATTACKER_SECRET),
        forge(settings, user, kid="unknown-key"),
        forge(settings, user, typ="refresh"),
    ]
    for token in forged:
        body = problem(await me(api, token), 401, "unauthorized")
        assert body["detail"] == "invalid access token"


# API keys


async def test_api_key_authenticates_and_stores_its_scopes(
    api: httpx.AsyncClient, make_user: Any
) -> None:
    user = await make_user()
    created = await create_key(api, user.access_token, scopes=["jobs:write", "jobs:read"])
    assert created["key"].startswith("gp_")
    assert len(created["key"]) == 43
    assert created["prefix"] == created["key"][:12]
    assert created["scopes"] == ["jobs:read", "jobs:write"]
    assert created["expires_at"] is None

    whoami = await me(api, created["key"])
    assert whoami.status_code == 200, whoami.text
    assert whoami.json()["id"] == user.user_id

    listed = await api.get(f"{API}/api-keys", headers=user.headers)
    assert listed.status_code == 200
    [entry] = listed.json()["data"]
    assert entry["id"] == created["id"]
    assert entry["scopes"] == ["jobs:read", "jobs:write"]
    assert entry["last_used_at"] is not None  # the /me call above
    assert "key" not in entry


async def test_a_scoped_key_is_refused_outside_its_scopes(
    api: httpx.AsyncClient, make_user: Any
) -> None:
    user = await make_user()
    scoped = await create_key(api, user.access_token, scopes=["jobs:read"])
    problem(await api.get(f"{API}/profiles", headers=bearer(scoped["key"])), 403, "forbidden")
    unscoped = await create_key(api, user.access_token)
    assert unscoped["scopes"] is None
    assert (await api.get(f"{API}/profiles", headers=bearer(unscoped["key"]))).status_code == 200


async def test_api_keys_cannot_manage_credentials(api: httpx.AsyncClient, make_user: Any) -> None:
    user = await make_user()
    key = bearer((await create_key(api, user.access_token))["key"])
    problem(await api.get(f"{API}/api-keys", headers=key), 403, "forbidden")
    problem(await api.post(f"{API}/api-keys", json={"name": "x"}, headers=key), 403, "forbidden")
    problem(await api.get(f"{API}/sessions", headers=key), 403, "forbidden")
    problem(await api.post(f"{API}/auth/logout-all", headers=key), 403, "forbidden")
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    problem(await api.post(f"{API}/auth/password", json=body, headers=key), 403, "forbidden")


async def test_revoked_key_stops_working(api: httpx.AsyncClient, make_user: Any) -> None:
    user = await make_user()
    created = await create_key(api, user.access_token)
    assert (await me(api, created["key"])).status_code == 200
    response = await api.delete(f"{API}/api-keys/{created['id']}", headers=user.headers)
    assert response.status_code == 204
    problem(await me(api, created["key"]), 401, "unauthorized")
    listed = await api.get(f"{API}/api-keys", headers=user.headers)
    assert listed.json()["data"] == []
    again = await api.delete(f"{API}/api-keys/{created['id']}", headers=user.headers)
    assert again.status_code == 204


async def test_expired_key_stops_working(
    api: httpx.AsyncClient, make_user: Any, db: Database
) -> None:
    user = await make_user()
    created = await create_key(
        api, user.access_token, expires_at=(utcnow() + timedelta(hours=1)).isoformat()
    )
    assert (await me(api, created["key"])).status_code == 200
    await sql(
        db,
        "UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = :id",
        id=created["id"],
    )
    problem(await me(api, created["key"]), 401, "unauthorized")


async def test_key_validation(api: httpx.AsyncClient, make_user: Any) -> None:
    user = await make_user()
    for body, field in [
        ({"name": "x", "scopes": ["jobs:delete"]}, "scopes"),
        ({"name": "x", "expires_at": (utcnow() - timedelta(days=1)).isoformat()}, "expires_at"),
        ({"name": ""}, "name"),
    ]:
        response = await api.post(f"{API}/api-keys", json=body, headers=user.headers)
        errors = problem(response, 422, "validation_error")["errors"]
        assert any(error["field"].startswith(field) for error in errors), errors


async def test_another_users_key_is_not_found(api: httpx.AsyncClient, make_user: Any) -> None:
    owner, intruder = await make_user(), await make_user()
    created = await create_key(api, owner.access_token)
    response = await api.delete(f"{API}/api-keys/{created['id']}", headers=intruder.headers)
    problem(response, 404, "not_found")
    assert (await me(api, created["key"])).status_code == 200  # untouched
    problem(
        await api.delete(f"{API}/api-keys/key_missing", headers=owner.headers), 404, "not_found"
    )


# Sessions


async def test_sessions_list_marks_the_current_one(api: httpx.AsyncClient, make_user: Any) -> None:
    user = await make_user()
    other = await api.post(
        f"{API}/auth/login",
        json={"email": user.email, "password": PASSWORD},
        headers={"User-Agent": "GhostPen-Test-Phone/1.0"},
    )
    response = await api.get(f"{API}/sessions", headers=user.headers)
    assert response.status_code == 200
    sessions = response.json()["data"]
    assert len(sessions) == 2
    current = [entry for entry in sessions if entry["current"]]
    assert len(current) == 1
    phone = next(entry for entry in sessions if not entry["current"])
    assert phone["user_agent"] == "GhostPen-Test-Phone/1.0"
    assert phone["ip"] == "127.0.0.1"
    assert {"id", "created_at", "last_used_at"} <= phone.keys()
    # Ending the phone's session kills its tokens but not ours.
    revoked = await api.delete(f"{API}/sessions/{phone['id']}", headers=user.headers)
    assert revoked.status_code == 204
    problem(await refresh(api, other.json()["refresh_token"]), 401, "unauthorized")
    assert (await me(api, user.access_token)).status_code == 200
    remaining = (await api.get(f"{API}/sessions", headers=user.headers)).json()["data"]
    assert [entry["id"] for entry in remaining] == [current[0]["id"]]


async def test_another_users_session_is_not_found(api: httpx.AsyncClient, make_user: Any) -> None:
    owner, intruder = await make_user(), await make_user()
    [session] = (await api.get(f"{API}/sessions", headers=owner.headers)).json()["data"]
    response = await api.delete(f"{API}/sessions/{session['id']}", headers=intruder.headers)
    problem(response, 404, "not_found")
    assert (await refresh(api, owner.refresh_token)).status_code == 200


# Passwords


async def test_password_change_keeps_this_session_and_ends_the_others(
    api: httpx.AsyncClient, make_user: Any
) -> None:
    user = await make_user()
    other = await login(api, user.email)
    wrong = await api.post(
        f"{API}/auth/password",
        json={"current_password": "not my password", "new_password": NEW_PASSWORD},
        headers=user.headers,
    )
    assert problem(wrong, 422, "validation_error")["errors"][0]["field"] == "current_password"

    changed = await api.post(
        f"{API}/auth/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=user.headers,
    )
    assert changed.status_code == 204, changed.text
    problem(await me(api, other["access_token"]), 401, "unauthorized")
    problem(await refresh(api, other["refresh_token"]), 401, "unauthorized")
    assert (await me(api, user.access_token)).status_code == 200
    assert (await refresh(api, user.refresh_token)).status_code == 200
    old = await api.post(f"{API}/auth/login", json={"email": user.email, "password": PASSWORD})
    problem(old, 401, "unauthorized")
    await login(api, user.email, NEW_PASSWORD)


# Disabled accounts


async def test_a_disabled_user_is_refused_at_once(
    api: httpx.AsyncClient, make_user: Any, db: Database
) -> None:
    user = await make_user()
    key = (await create_key(api, user.access_token))["key"]
    assert (await me(api, user.access_token)).status_code == 200
    await sql(db, "UPDATE users SET disabled = true WHERE id = :id", id=user.user_id)
    problem(await me(api, user.access_token), 401, "unauthorized")
    problem(await me(api, key), 401, "unauthorized")
    problem(await refresh(api, user.refresh_token), 401, "unauthorized")
    response = await api.post(f"{API}/auth/login", json={"email": user.email, "password": PASSWORD})
    assert problem(response, 401, "unauthorized")["detail"] == "invalid email or password"


@pytest.mark.parametrize("path", ["/me", "/api-keys", "/sessions"])
async def test_openapi_documents_bearer_security(api: httpx.AsyncClient, path: str) -> None:
    schema = (await api.get(f"{API}/openapi.json")).json()
    operation = schema["paths"][API + path]["get"]
    assert operation["security"] == [{"BearerAuth": []}]
