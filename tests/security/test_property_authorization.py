"""OWASP API3 (Broken Object Property Level Authorization), the response side: no response
carries a credential, a credential's digest, or another user's email.

Secrets are shown exactly where the contract says: an API key and an endpoint's signing
secret once (creation, rotation), the account's webhook secret at ``GET /webhook-secret``,
tokens in the login and refresh answers. The request side (no body sets a server-owned field)
is test_mass_assignment.py.
"""

from __future__ import annotations

from typing import Any

import httpx

from shared.auth.tokens import hash_secret
from tests.conftest import PASSWORD, TestUser
from tests.factories import create_profile, submit_job
from tests.support.admin import make_admin

API = "/api/v1"


def _field_names(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value).union(*(_field_names(inner) for inner in value.values()))
    if isinstance(value, list):
        return set().union(*(_field_names(inner) for inner in value))
    return set()


def _assert_clean(response: httpx.Response, leaks: dict[str, str]) -> None:
    assert response.status_code == 200, (response.url, response.text)
    names = _field_names(response.json())
    assert not {name for name in names if "password" in name or name.endswith("_hash")}, (
        response.url,
        names,
    )
    assert "secret" not in names, response.url
    for what, value in leaks.items():
        assert value not in response.text, (response.url, what)


async def test_responses_carry_no_credentials_digests_or_other_users_emails(
    api: httpx.AsyncClient, make_user: Any, uow_factory: Any
) -> None:
    owner: TestUser = await make_user()
    other: TestUser = await make_user()
    admin: TestUser = await make_admin(make_user, uow_factory)
    profile = await create_profile(api, owner.headers)
    job = (await submit_job(api, owner.headers, profile["id"])).json()
    created = await api.post(
        f"{API}/webhook-endpoints",
        json={"url": "https://hooks.example.com/a", "events": ["job.succeeded"]},
        headers=owner.headers,
    )
    endpoint = created.json()
    rotated = await api.post(
        f"{API}/webhook-endpoints/{endpoint['id']}/rotate-secret", headers=owner.headers
    )
    key = (await api.post(f"{API}/api-keys", json={"name": "ci"}, headers=owner.headers)).json()
    pair = (
        await api.post(f"{API}/auth/refresh", json={"refresh_token": owner.refresh_token})
    ).json()
    # Shown where the contract says (the control: these values are real and were returned).
    assert endpoint["secret"].startswith("whsec_")
    assert rotated.json()["secret"].startswith("whsec_")
    assert key["key"].startswith("gp_")
    leaks = {
        "password": PASSWORD,
        "api key": key["key"],
        "api key digest": hash_secret(key["key"]),
        "refresh token": pair["refresh_token"],
        "refresh token digest": hash_secret(pair["refresh_token"]),
        "old refresh token digest": hash_secret(owner.refresh_token),
        "endpoint secret": endpoint["secret"],
        "rotated endpoint secret": rotated.json()["secret"],
    }
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    for path in [
        "/me",
        "/api-keys",
        "/sessions",
        "/profiles",
        f"/profiles/{profile['id']}",
        "/jobs",
        f"/jobs/{job['id']}",
        "/webhook-endpoints",
        f"/webhook-endpoints/{endpoint['id']}",
        "/webhook-deliveries",
        "/usage",
    ]:
        _assert_clean(
            await api.get(API + path, headers=headers), leaks | {"other email": other.email}
        )
    # Admins see every user's email by design, but never a credential.
    for path in ["/admin/users", f"/admin/users/{owner.user_id}", "/admin/audit"]:
        _assert_clean(await api.get(API + path, headers=admin.headers), leaks)
