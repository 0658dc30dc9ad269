"""OWASP API5 (Broken Function Level Authorization): admin routes and API key scopes.

Walks the OpenAPI document the gateway serves, so an admin route or a write route added
later is covered too (tests/integration/admin/test_admin_api.py checks a hand-written list of
today's admin routes). Ownership of single objects is test_bola.py.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.conftest import PASSWORD, TestUser
from tests.support.admin import make_admin, problem

API = "/api/v1"
METHODS = ("get", "post", "put", "patch", "delete")
# API keys never manage credentials; these routes refuse them after reading a valid body.
CREDENTIAL_BODIES = {
    ("post", f"{API}/auth/password"): {
        "current_password": PASSWORD,
        "new_password": "a different passphrase entirely",  # pragma: allowlist secret
    },
    ("post", f"{API}/api-keys"): {"name": "escalate"},
}


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "some_id", path)


async def test_every_documented_admin_route_refuses_users_and_anonymous_callers(
    api: httpx.AsyncClient, make_user: Any, uow_factory: Any
) -> None:
    user: TestUser = await make_user()
    admin: TestUser = await make_admin(make_user, uow_factory)
    document = (await api.get(f"{API}/openapi.json")).json()
    admin_routes = [
        (method, path)
        for method, path, _ in _operations(document)
        if path.startswith(f"{API}/admin/")
    ]
    assert len(admin_routes) >= 6
    for method, path in admin_routes:
        problem(await api.request(method, _url(path)), 401, "unauthorized")
        problem(await api.request(method, _url(path), headers=user.headers), 403, "forbidden")
    # The control: the same routes answer an admin.
    assert (await api.get(f"{API}/admin/users", headers=admin.headers)).status_code == 200


async def test_a_read_only_api_key_cannot_change_anything(
    api: httpx.AsyncClient, make_user: Any
) -> None:
    """Every authenticated operation other than a GET refuses a ``jobs:read`` key with 403
    (scope checks run before the id or the body is looked at)."""
    user: TestUser = await make_user()
    created = await api.post(
        f"{API}/api-keys", json={"name": "ro", "scopes": ["jobs:read"]}, headers=user.headers
    )
    key = {"Authorization": f"Bearer {created.json()['key']}"}
    assert (await api.get(f"{API}/jobs", headers=key)).status_code == 200  # the control
    problem(
        await api.post(
            f"{API}/jobs",
            json={"profile_id": "prof_x", "platform": "x", "topic": "t"},
            headers=key,
        ),
        403,
        "forbidden",
    )
    document = (await api.get(f"{API}/openapi.json")).json()
    writes = [
        (method, path)
        for method, path, operation in _operations(document)
        if method != "get" and operation.get("security")
    ]
    assert len(writes) >= 20
    for method, path in writes:
        body = CREDENTIAL_BODIES.get((method, path), {})
        problem(await api.request(method, _url(path), json=body, headers=key), 403, "forbidden")
