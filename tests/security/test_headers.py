"""Security headers: on every response, a docs-page policy that lets Swagger UI run, HSTS in
production only, and no caching of credentialed or /auth answers."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec
import pytest

from shared.config import Settings
from tests.conftest import PASSWORD, serve

API = "/api/v1"
STRICT = "default-src 'none'; frame-ancestors 'none'"
HSTS = "max-age=31536000; includeSubDomains"


def assert_hardened(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/health/live"),
        ("GET", f"{API}/openapi.json"),
        ("GET", f"{API}/nothing-here"),  # 404 problem
        ("POST", f"{API}/jobs"),  # 401 problem
        ("DELETE", f"{API}/auth/login"),  # 405 problem
    ],
)
async def test_api_responses_get_the_strict_policy(
    api: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await api.request(method, path)
    assert_hardened(response)
    assert response.headers.get_list("content-security-policy") == [STRICT]
    assert "strict-transport-security" not in response.headers  # not production


def _directives(policy: str) -> dict[str, list[str]]:
    return {
        name: sources
        for name, *sources in (part.split() for part in policy.split(";") if part.strip())
    }


async def test_docs_page_policy_admits_exactly_what_swagger_ui_loads(
    api: httpx.AsyncClient,
) -> None:
    response = await api.get(f"{API}/docs")
    assert response.status_code == 200
    assert_hardened(response)
    policy = _directives(response.headers["content-security-policy"])
    page = response.text
    scripts = re.findall(r"<script src=\"([^\"]+)\"", page)
    styles = re.findall(r"<link href=\"([^\"]+)\" rel=\"stylesheet\"", page)
    icons = re.findall(r"<link rel='icon' type='image/png' href='([^']+)'", page)
    assert scripts
    assert styles
    origins = {f"{urlsplit(url).scheme}://{urlsplit(url).netloc}" for url in scripts + styles}
    assert origins == {"https://cdn.jsdelivr.net"}
    inline = re.findall(r"<script type='text/javascript'>(.*?)</script>", page, re.DOTALL)
    assert len(inline) == 1
    assert "SwaggerUIBundle" in inline[0]
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()

    assert policy["default-src"] == ["'none'"]
    assert sorted(policy["script-src"]) == sorted([*origins, f"'sha256-{digest}'"])
    assert policy["style-src"] == [*origins, "'unsafe-inline'"]
    assert icons
    assert all(f"https://{urlsplit(icon).netloc}" in policy["img-src"] for icon in icons)
    assert policy["connect-src"] == ["'self'"]  # "Try it out" calls this API
    assert policy["frame-ancestors"] == ["'none'"]


async def test_credentialed_and_auth_answers_are_never_stored(
    api: httpx.AsyncClient, make_user: Any
) -> None:
    user = await make_user()
    assert (await api.get(f"{API}/me", headers=user.headers)).headers["cache-control"] == (
        "no-store"
    )
    forged = await api.get(f"{API}/me", headers={"Authorization": "Bearer forged"})
    assert forged.status_code == 401
    assert forged.headers["cache-control"] == "no-store"
    login = await api.post(f"{API}/auth/login", json={"email": user.email, "password": PASSWORD})
    assert login.status_code == 200
    assert login.headers.get_list("cache-control") == ["no-store"]
    assert "cache-control" not in (await api.get("/health/live")).headers


@pytest.fixture(scope="module")
async def production_url(settings: Settings) -> AsyncIterator[str]:
    async with serve(msgspec.structs.replace(settings, env="production")) as url:
        yield url


async def test_hsts_in_production(production_url: str) -> None:
    async with httpx.AsyncClient(base_url=production_url) as client:
        for response in (await client.get("/health/live"), await client.get(f"{API}/nope")):
            assert response.headers.get_list("strict-transport-security") == [HSTS]
            assert_hardened(response)
