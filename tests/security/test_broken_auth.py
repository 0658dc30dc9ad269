"""OWASP API2 (Broken Authentication): every way to fake or outlive a credential is a 401.

The token rules themselves are unit-tested in tests/unit/auth/test_auth_tokens.py and over
``/me`` in tests/integration/auth/test_auth_api.py (forged tokens, expiry, disabled users,
refresh-token reuse revoking the family, revoked and expired API keys); brute force in
test_login_lockout.py. This file is the API2 checklist in one place, against an ordinary
resource route, built from genuine tokens the gateway issued.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest

from shared.clock import utcnow
from shared.config import Settings
from shared.ids import new_id
from tests.conftest import TestUser
from tests.support.admin import make_admin, problem

API = "/api/v1"
ROUTE = f"{API}/jobs"
ATTACKER_SECRET = "attacker-secret-0123456789abcdefghijklmnopqrstuvwxyz"  # pragma: allowlist secret


def _resign(token: str, secret: str, kid: str | None = None, **claims: Any) -> str:
    """``token`` with ``claims`` changed (``None``: removed), signed HS256 with ``secret``."""
    payload = jwt.decode(token, options={"verify_signature": False}) | claims
    payload = {name: value for name, value in payload.items() if value is not None}
    header_kid = kid or jwt.get_unverified_header(token)["kid"]
    return jwt.encode(payload, secret, algorithm="HS256", headers={"kid": header_kid})


def _alg_none(token: str, settings: Settings) -> str:
    payload = jwt.decode(token, options={"verify_signature": False})
    return jwt.encode(payload, None, algorithm="none", headers={"kid": settings.jwt_keys[0].kid})


def _tampered(token: str, settings: Settings) -> str:
    """The genuine signature over a payload promoted to admin."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = base64.urlsafe_b64encode(json.dumps(claims | {"role": "admin"}).encode())
    return f"{header}.{forged.decode().rstrip('=')}.{signature}"


def _expired(token: str, settings: Settings) -> str:
    now = int(utcnow().timestamp())
    return _resign(token, settings.jwt_keys[0].secret, iat=now - 3600, exp=now - 600)


FORGERIES: dict[str, tuple[Callable[[str, Settings], str], str]] = {
    "alg none": (_alg_none, "unauthorized"),
    "wrong key": (lambda token, _: _resign(token, ATTACKER_SECRET), "unauthorized"),
    "expired": (_expired, "token_expired"),
    "wrong aud": (
        lambda token, s: _resign(token, s.jwt_keys[0].secret, aud="another-api"),
        "unauthorized",
    ),
    "wrong iss": (
        lambda token, s: _resign(token, s.jwt_keys[0].secret, iss="https://evil.example"),
        "unauthorized",
    ),
    "unknown kid": (
        lambda token, s: _resign(token, s.jwt_keys[0].secret, kid="unknown-key"),
        "unauthorized",
    ),
    "not an access token": (
        lambda token, s: _resign(token, s.jwt_keys[0].secret, typ="refresh"),
        "unauthorized",
    ),
    "unknown user": (
        lambda token, s: _resign(token, s.jwt_keys[0].secret, sub=new_id("usr")),
        "unauthorized",
    ),
    # Was a 500: the id went to Postgres, which refuses NUL bytes.
    "NUL byte in the user id": (
        lambda token, s: _resign(token, s.jwt_keys[0].secret, sub="usr_\x00"),
        "unauthorized",
    ),
    # Logging out could not end such a token: it names no session.
    "no session": (lambda token, s: _resign(token, s.jwt_keys[0].secret, sid=None), "unauthorized"),
    "tampered payload": (_tampered, "unauthorized"),
}


@pytest.mark.parametrize("kind", list(FORGERIES))
async def test_forged_access_tokens_are_refused(
    api: httpx.AsyncClient, settings: Settings, make_user: Any, kind: str
) -> None:
    user: TestUser = await make_user()
    assert (await api.get(ROUTE, headers=user.headers)).status_code == 200  # the control
    forge, code = FORGERIES[kind]
    token = forge(user.access_token, settings)
    problem(await api.get(ROUTE, headers={"Authorization": f"Bearer {token}"}), 401, code)


async def test_a_refresh_token_is_no_access_token_and_vice_versa(
    api: httpx.AsyncClient, make_user: Any
) -> None:
    user: TestUser = await make_user()
    bearer = {"Authorization": f"Bearer {user.refresh_token}"}
    problem(await api.get(ROUTE, headers=bearer), 401, "unauthorized")
    response = await api.post(f"{API}/auth/refresh", json={"refresh_token": user.access_token})
    # A JWT is longer than any refresh token, so it is refused before the lookup.
    problem(response, 422, "validation_error")


async def test_an_ended_session_or_a_disabled_user_loses_its_unexpired_tokens(
    api: httpx.AsyncClient, make_user: Any, uow_factory: Any
) -> None:
    admin = await make_admin(make_user, uow_factory)
    ended: TestUser = await make_user()
    logout = await api.post(f"{API}/auth/logout", json={"refresh_token": ended.refresh_token})
    assert logout.status_code == 204, logout.text
    problem(await api.get(ROUTE, headers=ended.headers), 401, "unauthorized")

    disabled: TestUser = await make_user()
    changed = await api.patch(
        f"{API}/admin/users/{disabled.user_id}", json={"disabled": True}, headers=admin.headers
    )
    assert changed.status_code == 200, changed.text
    problem(await api.get(ROUTE, headers=disabled.headers), 401, "unauthorized")
    refreshed = await api.post(
        f"{API}/auth/refresh", json={"refresh_token": disabled.refresh_token}
    )
    problem(refreshed, 401, "unauthorized")
