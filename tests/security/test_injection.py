"""Classic injection payloads in every path parameter, query parameter and body string of the
main resources: never a 5xx; either refused (4xx) or stored verbatim (after NFC) as data."""

from __future__ import annotations

import json
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import text

from shared.db.engine import Database
from shared.db.registry import metadata
from tests.conftest import PASSWORD, TestUser
from tests.factories import create_profile
from tests.support.admin import make_admin

API = "/api/v1"
HOOK = "https://hooks.example.com/ghostpen"
PAYLOADS: list[Any] = [
    "' OR 1=1--",
    '"; DROP TABLE jobs;--',
    "%00",
    "\u0000",
    "x" * 10_000,
    "../../etc/passwd",
    '{"$gt": ""}',
    "Cafe\u0301' OR ''='",  # stored as "Café' OR ''='"
    {"$gt": ""},  # an operator object where a string belongs
]
STRINGS = [payload for payload in PAYLOADS if isinstance(payload, str)]
SAMPLES = [{"platform": "x", "text": "Shipping beats perfect. Every single time."}]


@dataclass
class World:
    """A user with one of each resource, and an admin."""

    user: TestUser
    admin: TestUser
    ids: dict[str, str]


@pytest.fixture
async def world(api: httpx.AsyncClient, make_user: Any, uow_factory: Any) -> World:
    user = await make_user()
    admin = await make_admin(make_user, uow_factory)
    profile = await create_profile(api, user.headers, samples=SAMPLES)

    async def created(path: str, body: dict[str, Any]) -> str:
        response = await api.post(API + path, json=body, headers=user.headers)
        assert response.status_code in (201, 202), response.text
        identifier: str = response.json()["id"]
        return identifier

    job = {"profile_id": profile["id"], "platform": "x", "topic": "hiring"}
    return World(
        user=user,
        admin=admin,
        ids={
            "profile": profile["id"],
            "user": user.user_id,
            "job": await created("/jobs", job),
            "schedule": await created("/schedules", {**job, "cron": "0 9 * * *"}),
            "endpoint": await created(
                "/webhook-endpoints", {"url": HOOK, "events": ["job.succeeded"]}
            ),
        },
    )


async def send(api: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    response = await api.request(method, url, **kwargs)
    assert response.status_code < 500, (method, url[:200], response.text[:500])
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
    return response


def expected(payload: str) -> str:
    return unicodedata.normalize("NFC", payload)


# (method, path with {} for the payload, body or None, as admin)
PATH_TARGETS: list[tuple[str, str, dict[str, Any] | None, bool]] = [
    ("GET", "/profiles/{}", None, False),
    ("PATCH", "/profiles/{}", {"name": "n"}, False),
    ("DELETE", "/profiles/{}", None, False),
    ("POST", "/profiles/{}/samples", {"samples": SAMPLES}, False),
    ("POST", "/profiles/{}/score", {"text": "t"}, False),
    ("GET", "/jobs/{}", None, False),
    ("POST", "/jobs/{}/cancel", None, False),
    ("GET", "/batches/{}", None, False),
    ("GET", "/batches/{}/results", None, False),
    ("POST", "/batches/{}/cancel", None, False),
    ("GET", "/schedules/{}", None, False),
    ("PATCH", "/schedules/{}", {"enabled": False}, False),
    ("DELETE", "/schedules/{}", None, False),
    ("GET", "/schedules/{}/firings", None, False),
    ("GET", "/webhook-endpoints/{}", None, False),
    ("PATCH", "/webhook-endpoints/{}", {"enabled": True}, False),
    ("DELETE", "/webhook-endpoints/{}", None, False),
    ("GET", "/webhook-endpoints/{}/deliveries", None, False),
    ("POST", "/webhook-endpoints/{}/rotate-secret", None, False),
    ("GET", "/webhook-deliveries/{}", None, False),
    ("POST", "/webhook-deliveries/{}/retry", None, False),
    ("DELETE", "/api-keys/{}", None, False),
    ("DELETE", "/sessions/{}", None, False),
    ("GET", "/admin/users/{}", None, True),
    ("PATCH", "/admin/users/{}", {"disabled": False}, True),
]


async def test_path_parameters(api: httpx.AsyncClient, world: World) -> None:
    for method, template, body, as_admin in PATH_TARGETS:
        headers = (world.admin if as_admin else world.user).headers
        for payload in STRINGS:
            url = API + template.format(quote(payload, safe=""))
            response = await send(api, method, url, json=body, headers=headers)
            # No resource has such an id: not found, or refused outright (NUL).
            assert response.status_code in (404, 422), (method, template, payload[:20])


# (path, query parameters, as admin)
QUERY_TARGETS: list[tuple[str, list[str], bool]] = [
    ("/jobs", ["status", "batch_id", "schedule_id", "cursor"], False),
    ("/profiles", ["cursor"], False),
    ("/batches", ["cursor"], False),
    ("/schedules", ["cursor"], False),
    ("/webhook-endpoints", ["cursor"], False),
    ("/webhook-deliveries", ["event_type", "status", "subject_id", "cursor"], False),
    ("/usage", ["from", "to", "group_by"], False),
    ("/admin/users", ["email", "role", "disabled", "cursor"], True),
    ("/admin/audit", ["actor", "target", "action", "cursor"], True),
    ("/admin/usage", ["from", "to", "group_by"], True),
]


async def test_query_parameters(api: httpx.AsyncClient, world: World) -> None:
    for path, names, as_admin in QUERY_TARGETS:
        headers = (world.admin if as_admin else world.user).headers
        for name in names:
            for payload in STRINGS:
                response = await send(
                    api, "GET", API + path, params={name: payload}, headers=headers
                )
                if response.status_code == 200:
                    # A filter that an injection would widen matches nothing.
                    assert response.json()["data"] == [], (path, name, payload[:20])


@dataclass
class BodyTarget:
    method: str
    path: str  # may name an id of the world: {profile}, {schedule}, {user}
    body: Callable[[Any], dict[str, Any]]
    # Where the stored value is read back: a GET path ({id} = the new resource's, else the
    # target's own) and how to find the value in that answer.
    read: str | None = None
    pick: Callable[[Any], Any] | None = None
    as_admin: bool = False


def _job(profile_id: str, **fields: Any) -> dict[str, Any]:
    return {"profile_id": profile_id, "platform": "x", "topic": "hiring", **fields}


def body_targets(ids: dict[str, str]) -> list[BodyTarget]:
    profile = ids["profile"]
    return [
        BodyTarget(
            "POST", "/profiles", lambda p: {"name": p, "samples": SAMPLES}, "/profiles/{id}",
            lambda got: got["name"],
        ),
        BodyTarget(
            "POST", "/profiles", lambda p: {"name": "n", "samples": [{"platform": "x", "text": p}]}
        ),
        BodyTarget(
            "PATCH", "/profiles/{profile}", lambda p: {"name": p}, "/profiles/{id}",
            lambda got: got["name"],
        ),
        BodyTarget("POST", "/profiles/{profile}/score", lambda p: {"text": p}),
        BodyTarget(
            "POST", "/jobs", lambda p: _job(profile, topic=p), "/jobs/{id}",
            lambda got: got["topic"],
        ),
        BodyTarget("POST", "/jobs", lambda p: _job(p)),
        BodyTarget(
            "POST", "/jobs", lambda p: _job(profile, metadata={"note": p}), "/jobs/{id}",
            lambda got: got["metadata"]["note"],
        ),
        BodyTarget("POST", "/jobs", lambda p: _job(profile, options={"model": p})),
        BodyTarget("POST", "/jobs", lambda p: _job(profile, webhook_url=p)),
        BodyTarget(
            "POST", "/batches",
            lambda p: {"items": [{**_job(profile, topic=p), "custom_id": p}]},
            "/batches/{id}/results", lambda got: (got["custom_id"], got["status"]),
        ),
        BodyTarget(
            "POST", "/schedules", lambda p: _job(profile, topic=p, cron="0 9 * * *"),
            "/schedules/{id}", lambda got: got["topics"][0],
        ),
        BodyTarget("POST", "/schedules", lambda p: _job(profile, cron=p)),
        BodyTarget("POST", "/schedules", lambda p: _job(profile, cron="0 9 * * *", timezone=p)),
        BodyTarget(
            "PATCH", "/schedules/{schedule}", lambda p: {"topic": p}, "/schedules/{id}",
            lambda got: got["topics"][0],
        ),
        BodyTarget(
            "POST", "/webhook-endpoints",
            lambda p: {"url": HOOK, "events": ["job.failed"], "description": p},
            "/webhook-endpoints/{id}", lambda got: got["description"],
        ),
        BodyTarget("POST", "/webhook-endpoints", lambda p: {"url": p, "events": ["job.failed"]}),
        BodyTarget(
            "PATCH", "/webhook-endpoints/{endpoint}", lambda p: {"description": p},
            "/webhook-endpoints/{id}", lambda got: got["description"],
        ),
        BodyTarget("POST", "/api-keys", lambda p: {"name": p}, pick=lambda got: got["name"]),
        BodyTarget(
            "PATCH", "/admin/users/{user}", lambda p: {"monthly_budget_usd": p}, as_admin=True
        ),
        BodyTarget("POST", "/auth/register", lambda p: {"email": p, "password": PASSWORD}),
        BodyTarget(
            "POST", "/auth/register",
            lambda p: {"email": f"{uuid.uuid4().hex}@example.com", "password": PASSWORD,
                       "display_name": p},
            pick=lambda got: got["display_name"],
        ),
        BodyTarget("POST", "/auth/login", lambda p: {"email": p, "password": p}),
    ]  # fmt: skip


def _stored(target: BodyTarget, reread: httpx.Response) -> Any:
    assert target.pick is not None
    if reread.headers["content-type"].startswith("application/x-ndjson"):
        return target.pick(json.loads(reread.text.splitlines()[0]))
    return target.pick(reread.json())


async def test_body_strings(api: httpx.AsyncClient, world: World, db: Database) -> None:
    for target in body_targets(world.ids):
        headers = (world.admin if target.as_admin else world.user).headers
        path = API + target.path.format(**world.ids)
        for payload in PAYLOADS:
            response = await send(
                api, target.method, path, json=target.body(payload), headers=headers
            )
            context = (target.method, target.path, str(payload)[:20])
            if payload == "\u0000" or not isinstance(payload, str):
                assert response.status_code == 422, context
            if response.status_code >= 300 or target.pick is None:
                continue
            if target.read is None:
                stored = _stored(target, response)
            else:
                identifier = response.json().get("id")
                reread = await send(
                    api, "GET", API + target.read.format(id=identifier), headers=headers
                )
                stored = _stored(target, reread)
            wanted = expected(payload)
            assert stored in (wanted, (wanted, "queued")), context

    # Every table is still there, and so is what was in it.
    async with db.sessions() as session:
        for table in metadata.sorted_tables:
            assert await session.scalar(text("SELECT to_regclass(:t)"), {"t": table.name})
    job = await send(api, "GET", f"{API}/jobs/{world.ids['job']}", headers=world.user.headers)
    assert job.json()["topic"] == "hiring"
