"""The security audit log over real HTTP and from ``ghostpen create-admin``: each audited
action writes exactly its row (who, to whom, from where), failed requests keep theirs, secrets
never reach it, and admins list it."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import text

from shared.db.engine import Database
from tests.conftest import PASSWORD, TestUser
from tests.fakes.openai_server import FakeOpenAI
from tests.support.admin import make_admin, problem
from tests.support.processes import GHOSTPEN, platform_env

API = "/api/v1"
AUDIT = f"{API}/admin/audit"
NEW_PASSWORD = "a different passphrase entirely"
UA = "GhostPen-Audit-Test/1.0"
# Requests under test carry this user agent; setup requests (httpx's default) do not.
HEADERS = {"User-Agent": UA}


def email() -> str:
    return f"audit-{uuid.uuid4().hex[:10]}@example.com"


def auth(user: TestUser) -> dict[str, str]:
    return {**user.headers, **HEADERS}


def session_id(access_token: str) -> str:
    sid: str = jwt.decode(access_token, options={"verify_signature": False})["sid"]
    return sid


async def audited(db: Database, action: str | None = None) -> list[dict[str, Any]]:
    """The rows written by requests under test, oldest first."""
    query = "SELECT * FROM audit_events WHERE user_agent = :ua"
    if action is not None:
        query += " AND action = :action"
    async with db.engine.connect() as connection:
        result = await connection.execute(
            text(query + " ORDER BY id"), {"ua": UA, "action": action}
        )
        return [dict(row) for row in result.mappings()]


def only(rows: list[dict[str, Any]], action: str) -> dict[str, Any]:
    [row] = [row for row in rows if row["action"] == action]
    return row


def assert_row(
    row: dict[str, Any], *, actor: str | None, target: str | None, details: dict[str, Any]
) -> None:
    assert row["actor_user_id"] == actor
    assert row["target_user_id"] == target
    assert row["ip"] == "127.0.0.1"
    assert row["user_agent"] == UA
    assert row["details"] == details
    assert row["id"].startswith("aud_")
    assert row["created_at"] is not None


async def login(api: httpx.AsyncClient, address: str, password: str = PASSWORD) -> httpx.Response:
    return await api.post(
        f"{API}/auth/login", json={"email": address, "password": password}, headers=HEADERS
    )


async def test_logins_are_audited_and_failures_survive_the_refusal(
    api: httpx.AsyncClient, make_user: Any, db: Database
) -> None:
    user = await make_user()
    unknown = email()

    assert (await login(api, user.email, "not the password")).status_code == 401
    [failed] = await audited(db)
    assert_row(
        failed,
        actor=user.user_id,
        target=user.user_id,
        details={"reason": "wrong_password", "email": user.email},
    )

    assert (await login(api, unknown, "not the password")).status_code == 401
    # A mistyped password in the email field is not kept.
    assert (await login(api, "correct horse battery", "x")).status_code == 401
    failures = await audited(db, "auth.login_failed")
    assert len(failures) == 3
    by_email = {row["details"]["email"]: row for row in failures}
    assert_row(
        by_email[unknown],
        actor=None,
        target=None,
        details={"reason": "unknown_email", "email": unknown},
    )
    assert_row(
        by_email[None], actor=None, target=None, details={"reason": "unknown_email", "email": None}
    )

    signed_in = await login(api, user.email)
    assert signed_in.status_code == 200
    succeeded = only(await audited(db), "auth.login_succeeded")
    assert_row(
        succeeded,
        actor=user.user_id,
        target=user.user_id,
        details={"session_id": session_id(signed_in.json()["access_token"])},
    )


async def test_a_disabled_account_login_is_audited_with_its_reason(
    api: httpx.AsyncClient, make_user: Any, db: Database, uow_factory: Any
) -> None:
    admin, user = await make_admin(make_user, uow_factory), await make_user()
    disabled = await api.patch(
        f"{API}/admin/users/{user.user_id}", json={"disabled": True}, headers=admin.headers
    )
    assert disabled.status_code == 200
    assert (await login(api, user.email)).status_code == 401
    [row] = await audited(db)
    assert_row(
        row,
        actor=user.user_id,
        target=user.user_id,
        details={"reason": "disabled", "email": user.email},
    )


async def test_credential_changes_are_audited_once_each(
    api: httpx.AsyncClient, make_user: Any, db: Database
) -> None:
    user = await make_user()
    other = (await login(api, user.email)).json()  # audited as a login; not the subject here
    other_session = session_id(other["access_token"])

    created = await api.post(
        f"{API}/api-keys",
        json={"name": "ci", "scopes": ["jobs:read"]},
        headers=auth(user),
    )
    assert created.status_code == 201
    key_id = created.json()["id"]
    assert (await api.delete(f"{API}/api-keys/{key_id}", headers=auth(user))).status_code == 204
    revoked = await api.delete(f"{API}/sessions/{other_session}", headers=auth(user))
    assert revoked.status_code == 204
    changed = await api.post(
        f"{API}/auth/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=auth(user),
    )
    assert changed.status_code == 204
    assert (await api.post(f"{API}/auth/logout-all", headers=auth(user))).status_code == 204

    rows = await audited(db)
    assert [row["action"] for row in rows] == [
        "auth.login_succeeded",
        "api_key.created",
        "api_key.revoked",
        "session.revoked",
        "auth.password_changed",
        "auth.logout_all",
    ]
    mine = {"actor": user.user_id, "target": user.user_id}
    assert_row(
        rows[1],
        **mine,
        details={"api_key_id": key_id, "name": "ci", "scopes": ["jobs:read"], "expires_at": None},
    )
    assert_row(rows[2], **mine, details={"api_key_id": key_id})
    assert_row(rows[3], **mine, details={"session_id": other_session})
    assert_row(rows[4], **mine, details={})
    assert_row(rows[5], **mine, details={})


async def test_logout_is_audited_once_for_the_session_it_ends(
    api: httpx.AsyncClient, make_user: Any, db: Database
) -> None:
    user = await make_user()
    logout = {"refresh_token": user.refresh_token}
    assert (await api.post(f"{API}/auth/logout", json=logout, headers=HEADERS)).status_code == 204
    [row] = await audited(db)
    assert row["action"] == "auth.logout"
    assert_row(
        row,
        actor=user.user_id,
        target=user.user_id,
        details={"session_id": session_id(user.access_token)},
    )

    # Nothing more was ended: the same token again, and a token nobody was given.
    again = await api.post(f"{API}/auth/logout", json=logout, headers=HEADERS)
    unknown = await api.post(
        f"{API}/auth/logout", json={"refresh_token": "never-issued"}, headers=HEADERS
    )
    assert (again.status_code, unknown.status_code) == (204, 204)
    assert len(await audited(db)) == 1


async def test_refused_changes_are_not_audited(
    api: httpx.AsyncClient, make_user: Any, db: Database
) -> None:
    user, intruder = await make_user(), await make_user()
    wrong = await api.post(
        f"{API}/auth/password",
        json={"current_password": "not my password", "new_password": NEW_PASSWORD},
        headers=auth(user),
    )
    assert wrong.status_code == 422
    [session] = (await api.get(f"{API}/sessions", headers=user.headers)).json()["data"]
    foreign = await api.delete(f"{API}/sessions/{session['id']}", headers=auth(intruder))
    assert foreign.status_code == 404
    assert (await api.delete(f"{API}/api-keys/key_nope", headers=auth(user))).status_code == 404
    assert await audited(db) == []


async def test_refresh_token_reuse_is_audited_with_the_revocation(
    api: httpx.AsyncClient, make_user: Any, db: Database
) -> None:
    user = await make_user()
    body = {"refresh_token": user.refresh_token}
    assert (await api.post(f"{API}/auth/refresh", json=body, headers=HEADERS)).status_code == 200
    assert await audited(db) == []  # a plain rotation is not a security event
    reused = await api.post(f"{API}/auth/refresh", json=body, headers=HEADERS)
    assert reused.status_code == 401
    [row] = await audited(db)
    assert row["action"] == "auth.refresh_reused"
    assert_row(
        row,
        actor=user.user_id,
        target=user.user_id,
        details={"session_id": session_id(user.access_token)},
    )


async def test_admin_user_changes_are_audited_with_the_changed_fields(
    api: httpx.AsyncClient, make_user: Any, db: Database, uow_factory: Any
) -> None:
    admin, user = await make_admin(make_user, uow_factory), await make_user()
    path = f"{API}/admin/users/{user.user_id}"
    changes = {"role": "admin", "disabled": True, "monthly_budget_usd": "12.5"}
    assert (await api.patch(path, json=changes, headers=auth(admin))).status_code == 200
    cleared = await api.patch(path, json={"monthly_budget_usd": None}, headers=auth(admin))
    assert cleared.status_code == 200
    assert (await api.patch(path, json={}, headers=auth(admin))).status_code == 200  # no change
    missing = await api.patch(
        f"{API}/admin/users/usr_nobody", json={"disabled": True}, headers=auth(admin)
    )
    assert missing.status_code == 404

    rows = await audited(db)
    assert [row["action"] for row in rows] == ["admin.user_updated", "admin.user_updated"]
    assert_row(rows[0], actor=admin.user_id, target=user.user_id, details={"changes": changes})
    assert_row(
        rows[1],
        actor=admin.user_id,
        target=user.user_id,
        details={"changes": {"monthly_budget_usd": None}},
    )


async def test_no_password_token_or_key_reaches_the_log(
    api: httpx.AsyncClient, make_user: Any, db: Database
) -> None:
    user = await make_user()
    await login(api, user.email, "wrong password, typed carefully")
    await login(api, "whoever@example.com", "another wrong password")
    await login(api, PASSWORD, PASSWORD)  # a password in the email field
    pair = (await login(api, user.email)).json()
    key = (await api.post(f"{API}/api-keys", json={"name": "ci"}, headers=auth(user))).json()
    await api.post(f"{API}/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    await api.post(
        f"{API}/auth/refresh", json={"refresh_token": pair["refresh_token"]}, headers=HEADERS
    )
    await api.post(
        f"{API}/auth/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=auth(user),
    )
    async with db.engine.connect() as connection:
        log = (
            await connection.execute(
                text("SELECT string_agg(row_to_json(a)::text, ' ') FROM audit_events a")
            )
        ).scalar_one()
    assert "auth.refresh_reused" in log  # the controls
    assert "api_key.created" in log
    for secret in [
        PASSWORD,
        NEW_PASSWORD,
        "wrong password, typed carefully",
        "another wrong password",
        user.access_token,
        user.refresh_token,
        pair["access_token"],
        pair["refresh_token"],
        key["key"],
    ]:
        assert secret not in log


# ghostpen create-admin


async def create_admin(
    env: dict[str, str], address: str, password: str
) -> subprocess.CompletedProcess[bytes]:
    """Run the command as an operator would, the password on standard input."""
    return await asyncio.to_thread(
        subprocess.run,
        [*GHOSTPEN, "create-admin", "--email", address],
        env=env,
        input=f"{password}\n".encode(),
        capture_output=True,
        timeout=60,
        check=False,
    )


async def test_create_admin_is_audited_without_an_actor_or_the_password(
    make_user: Any,
    db: Database,
    fake_openai: FakeOpenAI,
    database_url: str,
    redis_url: str,
) -> None:
    env = platform_env(fake_openai, database_url, redis_url)
    user = await make_user()
    new_address, new_password = email(), "first admin passphrase 1"  # pragma: allowlist secret
    promoted_password = "promoted admin passphrase 2"  # pragma: allowlist secret

    created = await create_admin(env, new_address, new_password)
    promoted = await create_admin(env, user.email, promoted_password)
    refused = await create_admin(env, email(), "short")
    assert (created.returncode, promoted.returncode, refused.returncode) == (0, 0, 2)
    for run, password in ((created, new_password), (promoted, promoted_password)):
        assert password.encode() not in run.stdout + run.stderr

    async with db.engine.connect() as connection:
        new_id = (
            await connection.execute(
                text("SELECT id FROM users WHERE email = :email"), {"email": new_address}
            )
        ).scalar_one()
        result = await connection.execute(
            text("SELECT * FROM audit_events WHERE action = 'admin.created' ORDER BY id")
        )
        rows = [dict(row) for row in result.mappings()]
    assert [(row["target_user_id"], row["details"]) for row in rows] == [
        (new_id, {"created": True}),
        (user.user_id, {"created": False, "previous_role": "user"}),
    ]
    for row in rows:
        assert (row["actor_user_id"], row["ip"]) == (None, None)
        assert row["user_agent"] == "ghostpen create-admin"


# GET /admin/audit


async def test_admins_list_the_log_newest_first_with_filters_and_pages(
    api: httpx.AsyncClient, make_user: Any, uow_factory: Any
) -> None:
    admin = await make_admin(make_user, uow_factory)
    alice, bob = await make_user(), await make_user()
    await login(api, alice.email, "not the password")
    await api.patch(
        f"{API}/admin/users/{bob.user_id}", json={"disabled": True}, headers=auth(admin)
    )

    async def page(**params: Any) -> dict[str, Any]:
        response = await api.get(AUDIT, params=params, headers=admin.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    everything = await page(limit=100)
    assert everything["next_cursor"] is None
    events = everything["data"]
    assert [event["id"] for event in events] == sorted(
        (event["id"] for event in events), reverse=True
    )
    # make_user signs in: admin, alice, bob; then alice's failure and bob's update.
    assert len(events) == 5
    update = events[0]
    assert update == {
        "id": update["id"],
        "action": "admin.user_updated",
        "actor_user_id": admin.user_id,
        "target_user_id": bob.user_id,
        "ip": "127.0.0.1",
        "user_agent": UA,
        "details": {"changes": {"disabled": True}},
        "created_at": update["created_at"],
    }

    first = await page(limit=2)
    second = await page(limit=2, cursor=first["next_cursor"])
    third = await page(limit=2, cursor=second["next_cursor"])
    assert third["next_cursor"] is None
    walked = first["data"] + second["data"] + third["data"]
    assert [event["id"] for event in walked] == [event["id"] for event in events]

    def actions(body: dict[str, Any]) -> list[str]:
        return [event["action"] for event in body["data"]]

    assert actions(await page(actor=alice.user_id)) == [
        "auth.login_failed",
        "auth.login_succeeded",
    ]
    assert actions(await page(actor=admin.user_id)) == [
        "admin.user_updated",
        "auth.login_succeeded",
    ]
    assert actions(await page(target=bob.user_id)) == [
        "admin.user_updated",
        "auth.login_succeeded",
    ]
    failed = await page(action="auth.login_failed")
    assert [event["actor_user_id"] for event in failed["data"]] == [alice.user_id]
    assert (await page(actor=alice.user_id, action="admin.user_updated"))["data"] == []

    bad_action = await api.get(AUDIT, params={"action": "auth.nope"}, headers=admin.headers)
    problem(bad_action, 422, "validation_error")
    bad_cursor = await api.get(AUDIT, params={"cursor": "%%%"}, headers=admin.headers)
    problem(bad_cursor, 422, "validation_error")


@pytest.mark.parametrize("params", [{}, {"actor": "usr_x", "action": "auth.login_failed"}])
async def test_only_admins_read_the_log(
    api: httpx.AsyncClient, make_user: Any, params: dict[str, str]
) -> None:
    user = await make_user()
    problem(await api.get(AUDIT, params=params), 401, "unauthorized")
    problem(await api.get(AUDIT, params=params, headers=user.headers), 403, "forbidden")
