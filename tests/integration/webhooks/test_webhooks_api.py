"""Webhook endpoints, secrets and the delivery log over the real API (no receiver needed)."""

from __future__ import annotations

from typing import Any

import httpx
import msgspec
import pytest
from sqlalchemy import func, select

from shared.config import Settings
from shared.db.engine import Database
from shared.webhooks import service
from shared.webhooks.models import WebhookDelivery, WebhookEvent
from shared.webhooks.schemas import NewEvent
from tests.conftest import register_and_login, serve
from tests.factories import create_profile

API = "/api/v1"
ENDPOINTS = f"{API}/webhook-endpoints"
HOOK = "https://hooks.example.com/ghostpen"


def event(user_id: str, subject_id: str = "job_1", **fields: Any) -> NewEvent:
    return NewEvent(
        user_id=user_id,
        type=fields.pop("type", "job.succeeded"),
        subject_id=subject_id,
        data={"job": {"id": subject_id}},
        **fields,
    )


async def emit_unsent(uow_factory: Any, events: list[NewEvent]) -> None:
    """Record events but commit past the outbox, so no worker tries to send them."""
    async with uow_factory() as uow:
        await service.emit(uow, events)
        await uow.session.commit()


async def count(db: Database, model: Any) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_endpoint_lifecycle(api: httpx.AsyncClient, make_user: Any) -> None:
    user = await make_user()
    created = await api.post(
        ENDPOINTS,
        json={"url": HOOK, "events": ["job.succeeded", "batch.completed"], "description": "CRM"},
        headers=user.headers,
    )
    assert created.status_code == 201, created.text
    endpoint = created.json()
    assert endpoint["secret"].startswith("whsec_")
    assert endpoint["events"] == ["batch.completed", "job.succeeded"]
    assert endpoint["enabled"] is True
    path = f"{ENDPOINTS}/{endpoint['id']}"

    fetched = (await api.get(path, headers=user.headers)).json()
    assert "secret" not in fetched
    assert fetched["description"] == "CRM"
    listed = (await api.get(ENDPOINTS, headers=user.headers)).json()
    assert [e["id"] for e in listed["data"]] == [endpoint["id"]]

    changed = await api.patch(
        path,
        json={"events": ["job.failed"], "enabled": False, "description": ""},
        headers=user.headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["events"] == ["job.failed"]
    assert changed.json()["enabled"] is False
    assert changed.json()["description"] is None

    assert (await api.delete(path, headers=user.headers)).status_code == 204
    assert (await api.get(path, headers=user.headers)).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"url": HOOK, "events": []},
        {"url": HOOK, "events": ["job.started"]},
        {"url": "ftp://example.com/x", "events": ["job.failed"]},
        {"url": HOOK},
        {"url": HOOK, "events": ["job.failed"], "secret": "mine"},
    ],
)
async def test_invalid_endpoints_are_refused(
    api: httpx.AsyncClient, make_user: Any, body: dict[str, Any]
) -> None:
    user = await make_user()
    response = await api.post(ENDPOINTS, json=body, headers=user.headers)
    assert response.status_code in {400, 422}, response.text


async def test_account_secret_is_stable_until_rotated(
    api: httpx.AsyncClient, make_user: Any
) -> None:
    user = await make_user()
    first = (await api.get(f"{API}/webhook-secret", headers=user.headers)).json()
    assert first["secret"].startswith("whsec_")
    assert first["previous_secret_expires_at"] is None
    again = (await api.get(f"{API}/webhook-secret", headers=user.headers)).json()
    assert again == first

    rotated = await api.post(f"{API}/webhook-secret/rotate", headers=user.headers)
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["secret"] != first["secret"]
    assert rotated.json()["previous_secret_expires_at"] is not None
    current = (await api.get(f"{API}/webhook-secret", headers=user.headers)).json()
    assert current == rotated.json()


async def test_private_endpoint_urls_are_refused_unless_allowed(settings: Settings) -> None:
    strict = msgspec.structs.replace(settings, webhook_allow_private_networks=False)
    async with serve(strict) as url, httpx.AsyncClient(base_url=url) as client:
        user = await register_and_login(client)
        for refused in (
            "http://127.0.0.1:8080/hook",
            "http://[::1]/hook",
            "http://169.254.169.254/latest/meta-data/",
            "http://localhost/hook",
            "http://no-such-host.invalid/hook",
        ):
            response = await client.post(
                ENDPOINTS, json={"url": refused, "events": ["job.failed"]}, headers=user.headers
            )
            assert response.status_code == 422, (refused, response.text)
            assert response.json()["errors"][0]["field"] == "url"


# Refused when submitted, without a DNS lookup: addresses in disguise (IPv6 carrying a private
# IPv4 address, IPv4 written the ways the resolver also reads), URLs the sender cannot parse.
DISGUISED = (
    "http://[::127.0.0.1]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[2002:7f00:1::]/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://127.1/",
    "http://2852039166/latest/meta-data/",
    "http://127．0．0．1/",
    "http://0251.0376.0251.0376/",
    "http://①②⑦.⓪.⓪.①:1/",
    "https://hooks.example.com:0/",
)


async def test_disguised_private_urls_are_refused_on_every_route(settings: Settings) -> None:
    strict = msgspec.structs.replace(settings, webhook_allow_private_networks=False)
    async with serve(strict) as url, httpx.AsyncClient(base_url=url) as client:
        user = await register_and_login(client)
        profile = await create_profile(client, user.headers)
        item = {"profile_id": profile["id"], "platform": "linkedin", "topic": "hiring"}
        for refused in DISGUISED:
            for path, body, field in (
                (ENDPOINTS, {"url": refused, "events": ["job.failed"]}, "url"),
                (f"{API}/jobs", {**item, "webhook_url": refused}, "webhook_url"),
                (
                    f"{API}/batches",
                    {"items": [{**item, "custom_id": "a"}], "webhook_url": refused},
                    "webhook_url",
                ),
                (
                    f"{API}/schedules",
                    {**item, "cron": "0 9 * * *", "webhook_url": refused},
                    "webhook_url",
                ),
            ):
                response = await client.post(path, json=body, headers=user.headers)
                assert response.status_code == 422, (path, refused, response.text)
                assert response.json()["code"] == "validation_error"
                assert [e["field"] for e in response.json()["errors"]] == [field], response.text


async def test_other_users_get_not_found(
    api: httpx.AsyncClient, make_user: Any, uow_factory: Any
) -> None:
    owner, other = await make_user(), await make_user()
    endpoint = (
        await api.post(
            ENDPOINTS, json={"url": HOOK, "events": ["job.succeeded"]}, headers=owner.headers
        )
    ).json()
    await emit_unsent(uow_factory, [event(owner.user_id)])
    (delivery,) = (await api.get(f"{API}/webhook-deliveries", headers=owner.headers)).json()["data"]
    assert delivery["endpoint_id"] == endpoint["id"]

    path = f"{ENDPOINTS}/{endpoint['id']}"
    for method, url in [
        ("GET", path),
        ("PATCH", path),
        ("DELETE", path),
        ("POST", f"{path}/rotate-secret"),
        ("GET", f"{path}/deliveries"),
        ("GET", f"{API}/webhook-deliveries/{delivery['id']}"),
        ("POST", f"{API}/webhook-deliveries/{delivery['id']}/retry"),
    ]:
        body = {"enabled": False} if method == "PATCH" else None
        response = await api.request(method, url, json=body, headers=other.headers)
        assert response.status_code == 404, (method, url, response.text)
    assert (await api.get(f"{API}/webhook-deliveries", headers=other.headers)).json()["data"] == []
    assert (await api.get(path, headers=owner.headers)).json()["enabled"] is True


async def test_scopes_are_enforced(api: httpx.AsyncClient, make_user: Any) -> None:
    user = await make_user()
    key = await api.post(
        f"{API}/api-keys", json={"name": "ro", "scopes": ["webhooks:read"]}, headers=user.headers
    )
    headers = {"Authorization": f"Bearer {key.json()['key']}"}
    assert (await api.get(ENDPOINTS, headers=headers)).status_code == 200
    created = await api.post(
        ENDPOINTS, json={"url": HOOK, "events": ["job.failed"]}, headers=headers
    )
    assert created.status_code == 403


async def test_an_event_is_recorded_once_and_only_with_recipients(
    api: httpx.AsyncClient, make_user: Any, uow_factory: Any, db: Database
) -> None:
    user = await make_user()
    await emit_unsent(uow_factory, [event(user.user_id, "job_nobody")])
    assert await count(db, WebhookEvent) == 0  # no endpoint, no webhook_url

    await emit_unsent(uow_factory, [event(user.user_id, webhook_url=HOOK)])
    await emit_unsent(uow_factory, [event(user.user_id, webhook_url=HOOK)])  # again: ignored
    assert await count(db, WebhookEvent) == 1
    assert await count(db, WebhookDelivery) == 1


async def test_a_thousand_events_in_one_call(
    api: httpx.AsyncClient, make_user: Any, uow_factory: Any, db: Database
) -> None:
    user = await make_user()
    await api.post(ENDPOINTS, json={"url": HOOK, "events": ["job.canceled"]}, headers=user.headers)
    events = [
        event(user.user_id, f"job_{n}", type="job.canceled", webhook_url=HOOK) for n in range(1000)
    ]
    await emit_unsent(uow_factory, events)
    assert await count(db, WebhookEvent) == 1000
    assert await count(db, WebhookDelivery) == 2000


async def test_deliveries_are_filtered_and_paged(
    api: httpx.AsyncClient, make_user: Any, uow_factory: Any
) -> None:
    user = await make_user()
    await emit_unsent(
        uow_factory,
        [
            event(user.user_id, "job_a", webhook_url=HOOK),
            event(user.user_id, "job_b", type="job.failed", webhook_url=HOOK),
            event(user.user_id, "job_c", webhook_url=HOOK),
        ],
    )
    url = f"{API}/webhook-deliveries"
    first = (await api.get(url, params={"limit": 2}, headers=user.headers)).json()
    assert len(first["data"]) == 2
    rest = await api.get(
        url, params={"limit": 2, "cursor": first["next_cursor"]}, headers=user.headers
    )
    seen = [d["subject_id"] for d in first["data"] + rest.json()["data"]]
    assert sorted(seen) == ["job_a", "job_b", "job_c"]
    assert rest.json()["next_cursor"] is None

    failed = await api.get(url, params={"event_type": "job.failed"}, headers=user.headers)
    assert [d["subject_id"] for d in failed.json()["data"]] == ["job_b"]
    by_subject = await api.get(url, params={"subject_id": "job_c"}, headers=user.headers)
    assert [d["event_type"] for d in by_subject.json()["data"]] == ["job.succeeded"]
    pending = await api.get(url, params={"status": "pending"}, headers=user.headers)
    assert len(pending.json()["data"]) == 3
    retried = await api.post(f"{url}/{pending.json()['data'][0]['id']}/retry", headers=user.headers)
    assert retried.status_code == 409  # still pending: retried automatically
