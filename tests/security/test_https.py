"""In production, what a trusted proxy received over plain HTTP goes back to HTTPS."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import msgspec
import pytest

from shared.config import Settings
from tests.conftest import serve
from tests.support.admin import problem

API = "/api/v1"
# The proxy's view: it terminated TLS (or not) for api.example.com and forwards to us.
VIA_HTTP = {"Host": "api.example.com:8080", "X-Forwarded-Proto": "http"}
VIA_HTTPS = {"Host": "api.example.com", "X-Forwarded-Proto": "https"}


@pytest.fixture(scope="module")
async def behind_proxy(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A production gateway that trusts its peer (the tests, on 127.0.0.1) as its proxy."""
    production = msgspec.structs.replace(
        settings, env="production", trusted_proxies=("127.0.0.1/32",)
    )
    async with serve(production) as url, httpx.AsyncClient(base_url=url) as client:
        yield client


@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_reads_over_http_are_redirected(behind_proxy: httpx.AsyncClient, method: str) -> None:
    response = await behind_proxy.request(
        method, f"{API}/jobs/job_%C3%A9?wait=1&x=a%20b", headers=VIA_HTTP
    )
    assert response.status_code == 308
    # Same path and query, byte for byte; https on its default port.
    assert (
        response.headers["location"]
        == "https://api.example.com/api/v1/jobs/job_%C3%A9?wait=1&x=a%20b"
    )
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert response.headers["x-request-id"]


@pytest.mark.parametrize("method", ["POST", "PATCH", "DELETE"])
async def test_writes_over_http_are_refused(behind_proxy: httpx.AsyncClient, method: str) -> None:
    response = await behind_proxy.request(
        method, f"{API}/auth/login", json={"email": "a@example.com"}, headers=VIA_HTTP
    )
    body = problem(response, 400, "https_required")
    assert body["request_id"] == response.headers["x-request-id"]
    assert "location" not in response.headers


async def test_https_and_health_checks_pass(behind_proxy: httpx.AsyncClient) -> None:
    assert (await behind_proxy.get(f"{API}/openapi.json", headers=VIA_HTTPS)).status_code == 200
    # A chain of proxies lists the client's scheme first.
    chain = {**VIA_HTTP, "X-Forwarded-Proto": "https, http"}
    assert (await behind_proxy.get(f"{API}/openapi.json", headers=chain)).status_code == 200
    # Probes speak plain HTTP to the pod; a request without the header is not judged.
    assert (await behind_proxy.get("/health/live", headers=VIA_HTTP)).status_code == 200
    assert (await behind_proxy.get(f"{API}/openapi.json")).status_code == 200


async def test_a_bad_host_is_refused_not_redirected(behind_proxy: httpx.AsyncClient) -> None:
    response = await behind_proxy.get(
        f"{API}/openapi.json", headers={**VIA_HTTP, "Host": "evil.example.com/@x"}
    )
    problem(response, 400, "https_required")


@pytest.mark.parametrize(
    ("environment", "trusted_proxies"),
    [
        ("production", ()),  # nobody's X-Forwarded-Proto is believed
        ("development", ("127.0.0.1/32",)),  # outside production, nothing
    ],
)
async def test_not_enforced(
    settings: Settings, environment: str, trusted_proxies: tuple[str, ...]
) -> None:
    changed = msgspec.structs.replace(settings, env=environment, trusted_proxies=trusted_proxies)
    async with serve(changed) as url, httpx.AsyncClient(base_url=url) as client:
        response = await client.post(
            f"{API}/auth/logout", json={"refresh_token": "x"}, headers=VIA_HTTP
        )
    assert response.status_code == 204
