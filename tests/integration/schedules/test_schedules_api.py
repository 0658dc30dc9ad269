"""Schedules over the real API: validation, ownership, and create/list/get/patch/delete."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.factories import create_profile

SCHEDULES = "/api/v1/schedules"


def in_an_hour() -> str:
    return (datetime.now(UTC) + timedelta(hours=1)).isoformat()


async def create_schedule(
    api: httpx.AsyncClient, headers: dict[str, str], profile_id: str, **fields: Any
) -> httpx.Response:
    body: dict[str, Any] = {"profile_id": profile_id, "platform": "linkedin"}
    body.update(fields)
    return await api.post(SCHEDULES, json=body, headers=headers)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"topic": "t", "cron": "not a cron"}, "cron"),
        ({"topic": "t", "cron": "0 0 * * * *"}, "cron"),
        ({"topic": "t", "cron": "@reboot"}, "cron"),
        ({"topic": "t", "cron": "0 9 * * *", "timezone": "Mars/Base"}, "timezone"),
        ({"topic": "t", "cron": "0 9 * * *", "run_at": "2999-01-01T00:00:00Z"}, "run_at"),
        ({"topic": "t"}, "run_at"),
        ({"topic": "t", "run_at": "2020-01-01T00:00:00Z"}, "run_at"),
        ({"cron": "0 9 * * *"}, "topics"),
        ({"topic": "t", "topics": ["a"], "cron": "0 9 * * *"}, "topics"),
        ({"topics": [], "cron": "0 9 * * *"}, "topics"),
        ({"topic": "t", "cron": "0 9 * * *", "options": {"model": "gpt-9"}}, "options.model"),
        ({"topic": "t", "cron": "0 9 * * *", "webhook_url": "ftp://example.com"}, "webhook_url"),
    ],
)
async def test_invalid_schedules_are_refused_with_the_field(
    api: httpx.AsyncClient, make_user: Any, fields: dict[str, Any], field: str
) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers)

    response = await create_schedule(api, user.headers, profile["id"], **fields)

    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "validation_error"
    assert any(error["field"].startswith(field) for error in body["errors"]), body


async def test_other_users_profiles_and_schedules_are_not_found(
    api: httpx.AsyncClient, make_user: Any
) -> None:
    owner, other = await make_user(), await make_user()
    profile = await create_profile(api, owner.headers)
    created = await create_schedule(api, owner.headers, profile["id"], topic="t", cron="0 9 * * *")
    schedule_id = created.json()["id"]

    foreign = await create_schedule(api, other.headers, profile["id"], topic="t", cron="0 9 * * *")
    assert foreign.status_code == 404
    assert foreign.json()["code"] == "not_found"
    path = f"{SCHEDULES}/{schedule_id}"
    assert (await api.get(path, headers=other.headers)).status_code == 404
    assert (await api.get(f"{path}/firings", headers=other.headers)).status_code == 404
    patched = await api.patch(path, json={"enabled": False}, headers=other.headers)
    assert patched.status_code == 404
    assert (await api.delete(path, headers=other.headers)).status_code == 404
    assert (await api.get(SCHEDULES, headers=other.headers)).json()["data"] == []
    assert (await api.get(path, headers=owner.headers)).json()["enabled"] is True


async def test_recurring_schedule_lifecycle(api: httpx.AsyncClient, make_user: Any) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers)

    created = await create_schedule(
        api,
        user.headers,
        profile["id"],
        topics=["A", "B"],
        cron="30 9 * * 1-5",
        timezone="Europe/Berlin",
        metadata={"campaign": "weekday"},
        options={"language": "en"},
    )
    assert created.status_code == 201, created.text
    schedule = created.json()
    assert created.headers["location"] == f"{SCHEDULES}/{schedule['id']}"
    assert schedule["topics"] == ["A", "B"]
    assert schedule["cron"] == "30 9 * * 1-5"
    assert schedule["run_at"] is None
    assert schedule["enabled"] is True
    assert schedule["last_run_at"] is None
    assert (schedule["fired_count"], schedule["missed_count"]) == (0, 0)
    next_run = datetime.fromisoformat(schedule["next_run_at"])
    assert next_run > datetime.now(UTC)
    local = next_run.astimezone(ZoneInfo("Europe/Berlin"))
    assert (local.hour, local.minute, local.weekday() < 5) == (9, 30, True)

    path = f"{SCHEDULES}/{schedule['id']}"
    assert (await api.get(path, headers=user.headers)).json() == schedule
    listed = await api.get(SCHEDULES, headers=user.headers)
    assert [item["id"] for item in listed.json()["data"]] == [schedule["id"]]

    paused = await api.patch(path, json={"enabled": False}, headers=user.headers)
    assert paused.status_code == 200, paused.text
    assert paused.json()["enabled"] is False
    assert paused.json()["next_run_at"] is None

    resumed = await api.patch(path, json={"enabled": True}, headers=user.headers)
    assert resumed.json()["enabled"] is True
    assert resumed.json()["next_run_at"] == schedule["next_run_at"]

    retimed = await api.patch(
        path, json={"cron": "0 7 * * *", "timezone": "America/New_York"}, headers=user.headers
    )
    assert retimed.status_code == 200, retimed.text
    new_local = datetime.fromisoformat(retimed.json()["next_run_at"]).astimezone(
        ZoneInfo("America/New_York")
    )
    assert (new_local.hour, new_local.minute) == (7, 0)
    assert retimed.json()["metadata"] == {"campaign": "weekday"}

    switched = await api.patch(
        path, json={"run_at": "2999-01-01T12:00:00", "topic": "once"}, headers=user.headers
    )
    assert switched.status_code == 200, switched.text
    body = switched.json()
    assert (body["cron"], body["topics"]) == (None, ["once"])
    # No offset: a wall-clock time in the schedule's zone (New York, winter: UTC-5).
    assert body["run_at"] == body["next_run_at"] == "2999-01-01T17:00:00Z"

    bad = await api.patch(path, json={"cron": None}, headers=user.headers)
    assert bad.status_code == 422
    assert (await api.patch(path, json={"bogus": 1}, headers=user.headers)).status_code in (
        400,
        422,
    )

    deleted = await api.delete(path, headers=user.headers)
    assert deleted.status_code == 204
    assert (await api.get(path, headers=user.headers)).status_code == 404


async def test_one_shot_run_at_without_offset_is_read_in_the_time_zone(
    api: httpx.AsyncClient, make_user: Any
) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers)

    created = await create_schedule(
        api,
        user.headers,
        profile["id"],
        topic="launch day",
        run_at="2999-07-01T09:00:00",
        timezone="Europe/Berlin",
    )

    assert created.status_code == 201, created.text
    assert created.json()["run_at"] == "2999-07-01T07:00:00Z"
    assert created.json()["next_run_at"] == "2999-07-01T07:00:00Z"
    assert created.json()["topics"] == ["launch day"]


async def test_schedules_are_listed_newest_first_with_a_cursor(
    api: httpx.AsyncClient, make_user: Any
) -> None:
    user = await make_user()
    profile = await create_profile(api, user.headers)
    ids = [
        (
            await create_schedule(api, user.headers, profile["id"], topic="t", run_at=in_an_hour())
        ).json()["id"]
        for _ in range(3)
    ]

    first = (await api.get(SCHEDULES, params={"limit": 2}, headers=user.headers)).json()
    rest = (
        await api.get(
            SCHEDULES, params={"limit": 2, "cursor": first["next_cursor"]}, headers=user.headers
        )
    ).json()

    assert [s["id"] for s in first["data"] + rest["data"]] == ids[::-1]
    assert rest["next_cursor"] is None


async def test_api_key_needs_the_schedules_scope(api: httpx.AsyncClient, make_user: Any) -> None:
    user = await make_user()
    key = await api.post(
        "/api/v1/api-keys", json={"name": "ci", "scopes": ["jobs:read"]}, headers=user.headers
    )
    assert key.status_code == 201, key.text
    headers = {"Authorization": f"Bearer {key.json()['key']}"}

    response = await api.get(SCHEDULES, headers=headers)

    assert response.status_code == 403
