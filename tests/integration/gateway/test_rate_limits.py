"""Rate limits by role and by credential, counted in the run's Redis by gateways with small
limits. Each test calls from a loopback address of its own (127.x.y.z) and signs up fresh users,
so its budgets are its own even though every test shares one Redis db."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgspec

from gateway.app import create_litestar
from gateway.rate_limits import SUBMISSION
from shared.config import Settings
from shared.observability.metrics import REGISTRY
from tests.conftest import serve
from tests.factories import create_profile
from tests.support.admin import make_admin, problem

GENEROUS = "1000000/minute"
LOGOUT = ("/api/v1/auth/logout", {"refresh_token": "not-a-token"})  # anonymous, always 204


def limited(
    settings: Settings,
    *,
    anonymous: str = GENEROUS,
    user: str = GENEROUS,
    admin: str = GENEROUS,
    submit: str = GENEROUS,
    trusted_proxies: tuple[str, ...] = (),
) -> Settings:
    return msgspec.structs.replace(
        settings,
        rate_limits={"anonymous": anonymous, "user": user, "admin": admin},
        submit_rate_limits={"user": submit, "admin": submit},
        trusted_proxies=trusted_proxies,
    )


def fresh_address() -> str:
    """A loopback address no other test calls from, so anonymous budgets are not shared."""
    return f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


@asynccontextmanager
async def client(url: str, address: str | None = None) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.AsyncHTTPTransport(local_address=address or fresh_address())
    async with httpx.AsyncClient(base_url=url, transport=transport, timeout=30) as http:
        yield http


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def quota(response: httpx.Response) -> tuple[int, int, int]:
    """RateLimit-Limit, -Remaining and -Reset."""
    headers = response.headers
    return (
        int(headers["ratelimit-limit"]),
        int(headers["ratelimit-remaining"]),
        int(headers["ratelimit-reset"]),
    )


def assert_limited(response: httpx.Response, limit: int) -> dict[str, Any]:
    body = problem(response, 429, "rate_limited")
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit()
    assert 1 <= int(retry_after) <= 60
    assert quota(response)[:2] == (limit, 0)
    return body


async def test_anonymous_callers_are_limited_per_client_address(settings: Settings) -> None:
    async with (
        serve(limited(settings, anonymous="3/minute")) as url,
        client(url) as first,
        client(url) as second,
    ):
        path, body = LOGOUT
        browser = {"Origin": "https://app.example.com"}
        answers = [await first.post(path, json=body, headers=browser) for _ in range(3)]
        assert [answer.status_code for answer in answers] == [204, 204, 204]
        assert [quota(answer)[:2] for answer in answers] == [(3, 2), (3, 1), (3, 0)]
        assert all(1 <= quota(answer)[2] <= 60 for answer in answers)
        exposed = answers[0].headers["access-control-expose-headers"].lower()
        assert {"ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"} <= {
            name.strip() for name in exposed.split(",")
        }

        refused = await first.post(path, json=body)
        details = assert_limited(refused, 3)
        assert details["request_id"] == refused.headers["x-request-id"]

        other = await second.post(path, json=body)
        assert other.status_code == 204
        assert quota(other)[:2] == (3, 2)


async def test_failed_authentication_spends_the_anonymous_budget(settings: Settings) -> None:
    """Guessing tokens or API keys is throttled like any anonymous traffic."""
    async with serve(limited(settings, anonymous="2/minute")) as url, client(url) as guesser:
        for guess in ("not-a-jwt", "gp_not_a_real_key"):
            answer = await guesser.get("/api/v1/me", headers=bearer(guess))
            problem(answer, 401, "unauthorized")
        assert_limited(await guesser.get("/api/v1/me", headers=bearer("another")), 2)


async def test_users_and_admins_have_their_roles_budgets(
    settings: Settings, make_user: Any, uow_factory: Any
) -> None:
    user = await make_user()
    admin = await make_admin(make_user, uow_factory)
    async with (
        serve(limited(settings, user="2/minute", admin="4/minute")) as url,
        client(url) as http,
    ):
        for person, limit in ((user, 2), (admin, 4)):
            for _ in range(limit):
                answer = await http.get("/api/v1/me", headers=person.headers)
                assert answer.status_code == 200, answer.text
            assert_limited(await http.get("/api/v1/me", headers=person.headers), limit)


async def test_an_api_key_has_a_budget_apart_from_its_owners_jwt(
    settings: Settings, api: httpx.AsyncClient, make_user: Any
) -> None:
    """A runaway integration cannot lock its owner out, not even of revoking the key."""
    owner = await make_user()
    created = await api.post("/api/v1/api-keys", json={"name": "ci"}, headers=owner.headers)
    assert created.status_code == 201, created.text
    key = bearer(created.json()["key"])
    async with serve(limited(settings, user="2/minute")) as url, client(url) as http:
        for _ in range(2):
            assert (await http.get("/api/v1/me", headers=key)).status_code == 200
        assert_limited(await http.get("/api/v1/me", headers=key), 2)

        revoked = await http.delete(
            f"/api/v1/api-keys/{created.json()['id']}", headers=owner.headers
        )
        assert revoked.status_code == 204, revoked.text
        assert quota(revoked)[:2] == (2, 1)


async def test_creating_jobs_batches_and_schedules_spends_a_tighter_budget(
    settings: Settings, api: httpx.AsyncClient, make_user: Any
) -> None:
    user = await make_user()
    profile = (await create_profile(api, user.headers))["id"]
    job = {"profile_id": profile, "platform": "x", "topic": "limits"}
    batch = {"items": [{"custom_id": "a", **job}]}
    run_at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    schedule = {**job, "run_at": run_at, "timezone": "UTC"}
    async with (
        serve(limited(settings, user="10/minute", submit="2/minute")) as url,
        client(url) as http,
    ):
        submitted = await http.post("/api/v1/jobs", json=job, headers=user.headers)
        assert submitted.status_code == 202, submitted.text
        assert quota(submitted)[:2] == (2, 1)  # the tighter of the two budgets is reported
        batched = await http.post("/api/v1/batches", json=batch, headers=user.headers)
        assert batched.status_code == 202, batched.text
        assert quota(batched)[:2] == (2, 0)

        refused = await http.post("/api/v1/schedules", json=schedule, headers=user.headers)
        assert "submissions" in assert_limited(refused, 2)["detail"]

        # Reading is not a submission: four requests so far leave 6 of the 10 per minute.
        listed = await http.get("/api/v1/jobs", headers=user.headers)
        assert listed.status_code == 200
        assert quota(listed)[:2] == (10, 6)


async def test_a_burst_over_two_gateways_admits_exactly_the_limit(
    settings: Settings, make_user: Any
) -> None:
    """Atomic and shared across processes: no interleaving lets a request through twice."""
    user = await make_user()
    limit, extra = 10, 6
    small = limited(settings, user=f"{limit}/minute")
    async with serve(small) as one, serve(small) as two, client(one) as a, client(two) as b:
        answers = await asyncio.gather(
            *(
                (a if n % 2 else b).get("/api/v1/me", headers=user.headers)
                for n in range(limit + extra)
            )
        )
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] * limit + [429] * extra


async def test_forwarded_for_counts_only_from_a_trusted_proxy(settings: Settings) -> None:
    path, body = LOGOUT
    spoofed = "198.18.{}.{}"

    def forwarded() -> dict[str, str]:
        return {"X-Forwarded-For": spoofed.format(random.randint(0, 255), random.randint(1, 254))}

    direct = limited(settings, anonymous="2/minute")
    async with serve(direct) as url, client(url) as http:
        answers = [await http.post(path, json=body, headers=forwarded()) for _ in range(3)]
        assert [answer.status_code for answer in answers] == [204, 204, 429]

    proxied = limited(settings, anonymous="2/minute", trusted_proxies=("127.0.0.0/8",))
    async with serve(proxied) as url, client(url) as proxy:
        first = forwarded()
        answers = [await proxy.post(path, json=body, headers=first) for _ in range(3)]
        assert [answer.status_code for answer in answers] == [204, 204, 429]
        other = await proxy.post(path, json=body, headers=forwarded())
        assert other.status_code == 204  # another client behind the same proxy


async def test_health_metrics_and_the_api_document_are_not_limited(settings: Settings) -> None:
    async with serve(limited(settings, anonymous="1/minute")) as url, client(url) as http:
        for path in (
            "/health/live",
            "/health/ready?workers=false",
            "/metrics",
            "/api/v1/openapi.json",
            "/api/v1/docs",
        ):
            for _ in range(3):
                answer = await http.get(path)
                assert answer.status_code == 200, (path, answer.text)
                assert "ratelimit-limit" not in answer.headers
        path, body = LOGOUT
        assert quota(await http.post(path, json=body))[:2] == (1, 0)  # untouched until now


def fail_open_count() -> float:
    return REGISTRY.get_sample_value("ghostpen_rate_limit_fail_open_total") or 0.0


async def test_requests_are_served_unlimited_while_redis_is_unreachable(
    settings: Settings,
) -> None:
    no_redis = msgspec.structs.replace(
        limited(settings, anonymous="1/minute"), redis_url="redis://127.0.0.1:1/0"
    )
    before = fail_open_count()
    async with serve(no_redis) as url, client(url) as http:
        for n in range(3):
            email = f"fail-open-{n}-{random.randint(0, 10**9)}@example.com"
            registered = await http.post(
                "/api/v1/auth/register",
                json={"email": email, "password": "correct horse battery"},
            )
            assert registered.status_code == 201, registered.text
            assert "ratelimit-limit" not in registered.headers
    assert fail_open_count() - before == 3


def test_every_api_route_spends_a_budget_and_creation_routes_the_submission_one(
    settings: Settings,
) -> None:
    """The limit is spent by resolving `principal` or `anonymous`: a route taking neither
    would be unlimited, so this fails when one is added without."""
    unlimited, submissions = [], set()
    for route in create_litestar(settings).routes:
        for handler in getattr(route, "route_handlers", ()):
            methods = handler.http_methods - {"OPTIONS", "HEAD"}
            operations = route.path.startswith(("/health", "/metrics", "/api/v1/docs"))
            if not methods or operations or route.path == "/api/v1/openapi.json":
                continue
            if not {"principal", "anonymous"} & set(handler.parsed_fn_signature.parameters):
                unlimited.append((route.path, methods))
            if handler.opt.get(SUBMISSION):
                submissions |= {(method, route.path) for method in methods}
    assert unlimited == []
    assert submissions == {
        ("POST", "/api/v1/jobs"),
        ("POST", "/api/v1/batches"),
        ("POST", "/api/v1/schedules"),
    }


async def test_the_api_document_shows_429_with_its_headers(api: httpx.AsyncClient) -> None:
    paths = (await api.get("/api/v1/openapi.json")).json()["paths"]
    for path, method in (("/api/v1/jobs", "post"), ("/api/v1/auth/login", "post")):
        refused = paths[path][method]["responses"]["429"]
        assert "rate_limited" in refused["description"]
        assert {"Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= set(
            refused["headers"]
        )
