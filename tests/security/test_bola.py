"""OWASP API1 (Broken Object Level Authorization): another user's ids are simply not found.

Walks the OpenAPI document the gateway serves: every operation on a path with an id in it is
called by user B with user A's real ids and must answer 404 ``not_found`` (never 200, 403 or
409, which would confirm the id exists). A new id path fails the test until it is taught how
to create that kind of resource, so a new endpoint cannot skip the check.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import httpx

from shared.webhooks import service as webhooks
from shared.webhooks.schemas import NewEvent
from tests.factories import ENGLISH_SAMPLES, create_profile, submit_job
from tests.support.admin import problem

API = "/api/v1"
# Another user's id under /admin is the point of those routes; who may call them at all is
# function-level authorization (test_function_authorization.py).
ADMIN = f"{API}/admin/"
# Valid bodies, so a route cannot answer 422 before it looks the id up.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("patch", f"{API}/profiles/{{profile_id}}"): {"name": "Mallory"},
    ("post", f"{API}/profiles/{{profile_id}}/samples"): {"samples": ENGLISH_SAMPLES[:1]},
    ("post", f"{API}/profiles/{{profile_id}}/score"): {"text": "Shipping beats perfect."},
    ("patch", f"{API}/schedules/{{schedule_id}}"): {"enabled": False},
    ("patch", f"{API}/webhook-endpoints/{{endpoint_id}}"): {"enabled": False},
}
METHODS = ("get", "post", "put", "patch", "delete")


def _created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (201, 202), response.text
    body: dict[str, Any] = response.json()
    return body


async def _resources_of(
    api: httpx.AsyncClient, headers: dict[str, str], uow_factory: Any, user_id: str, marker: str
) -> dict[str, str]:
    """One real resource of every kind an id path names, owned by the caller: id per parameter."""
    profile = await create_profile(api, headers, name=marker)
    job = _created(await submit_job(api, headers, profile["id"], topic=marker))
    item = {"custom_id": "one", "profile_id": profile["id"], "platform": "x", "topic": marker}
    batch = _created(await api.post(f"{API}/batches", json={"items": [item]}, headers=headers))
    schedule = _created(
        await api.post(
            f"{API}/schedules",
            json={
                "profile_id": profile["id"],
                "platform": "linkedin",
                "topic": marker,
                "cron": "0 9 * * *",
            },
            headers=headers,
        )
    )
    endpoint = _created(
        await api.post(
            f"{API}/webhook-endpoints",
            # An event no job of this test sends by itself: the session worker finishing the
            # job or the batch item while this runs adds no delivery (a CI run caught one).
            json={"url": "https://hooks.example.com/a", "events": ["job.canceled"]},
            headers=headers,
        )
    )
    # A delivery needs an event; it is committed past the outbox so nothing tries to send it.
    async with uow_factory() as uow:
        event = NewEvent(
            user_id=user_id, type="job.canceled", subject_id=job["id"], data={"job": {}}
        )
        await webhooks.emit(uow, [event])
        await uow.session.commit()
    deliveries = await api.get(f"{API}/webhook-deliveries", headers=headers)
    (delivery,) = deliveries.json()["data"]
    key = _created(await api.post(f"{API}/api-keys", json={"name": marker}, headers=headers))
    (session,) = (await api.get(f"{API}/sessions", headers=headers)).json()["data"]
    return {
        "profile_id": profile["id"],
        "job_id": job["id"],
        "batch_id": batch["id"],
        "schedule_id": schedule["id"],
        "endpoint_id": endpoint["id"],
        "delivery_id": delivery["id"],
        "key_id": key["id"],
        "session_id": session["id"],
    }


def _id_operations(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (method, path)
        for path, item in document["paths"].items()
        if "{" in path and not path.startswith(ADMIN)
        for method in item
        if method in METHODS
    ]


async def test_every_id_path_hides_another_users_resources(
    api: httpx.AsyncClient, make_user: Any, uow_factory: Any
) -> None:
    owner, other = await make_user(), await make_user()
    marker = f"owned-by-a-{uuid.uuid4().hex}"
    ids = await _resources_of(api, owner.headers, uow_factory, owner.user_id, marker)
    document = (await api.get(f"{API}/openapi.json")).json()
    operations = _id_operations(document)
    assert len(operations) >= 20

    def url(path: str) -> str:
        names = re.findall(r"\{(\w+)\}", path)
        unknown = set(names) - set(ids)
        assert not unknown, f"{path}: teach _resources_of to create a {unknown}"
        return re.sub(r"\{(\w+)\}", lambda match: ids[match.group(1)], path)

    readable = [path for method, path in operations if method == "get"]

    async def snapshot() -> dict[str, Any]:
        return {path: (await api.get(url(path), headers=owner.headers)).json() for path in readable}

    # A's job runs and its webhook is tried meanwhile: compare from the moment A's resources
    # stopped moving by themselves (a CI run caught a delivery attempt between two reads).
    before = await snapshot()
    for _ in range(40):
        await asyncio.sleep(0.5)
        settled, before = before, await snapshot()
        if settled == before:
            break
    # Deletes last: a broken check would otherwise hide what the earlier calls did.
    for method, path in sorted(operations, key=lambda operation: operation[0] == "delete"):
        operation = document["paths"][path][method]
        if "requestBody" in operation:
            assert (method, path) in BODIES, f"{method} {path}: add a valid body to BODIES"
        response = await api.request(
            method, url(path), json=BODIES.get((method, path)), headers=other.headers
        )
        assert response.status_code == 404, (method, path, response.text)
        problem(response, 404, "not_found")
        assert marker not in response.text

    # Nothing of A's changed, and A's own credentials still work.
    assert await snapshot() == before
    assert (await api.get(f"{API}/api-keys", headers=owner.headers)).json()["data"]
    assert (await api.get(f"{API}/sessions", headers=owner.headers)).status_code == 200
