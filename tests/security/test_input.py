"""Text input is NFC-normalised and free of control characters; every input is bounded."""

from __future__ import annotations

import unicodedata
import uuid
from typing import Any

import httpx
import msgspec.inspect as mi
import pytest

from gateway.app import create_litestar
from shared.config import Settings
from tests.conftest import PASSWORD
from tests.factories import create_profile
from tests.support.admin import problem

API = "/api/v1"
HOOK = "https://hooks.example.com/ghostpen"
# "Café" and "Zoë" as macOS keyboards send them: a base letter, then a combining mark.
CAFE = "Cafe\u0301"
ZOE = "Zoe\u0308"


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


async def test_text_is_stored_nfc(api: httpx.AsyncClient, make_user: Any) -> None:
    user = await make_user()
    profile = await create_profile(
        api, user.headers, name=CAFE, samples=[{"platform": "x", "text": f"{ZOE} ships. " * 5}]
    )
    assert profile["name"] == nfc(CAFE) != CAFE

    job = await api.post(
        f"{API}/jobs",
        json={
            "profile_id": profile["id"],
            "platform": "x",
            "topic": f"{CAFE} culture",
            "metadata": {ZOE: CAFE},
        },
        headers=user.headers,
    )
    assert job.status_code == 202, job.text
    stored = (await api.get(f"{API}/jobs/{job.json()['id']}", headers=user.headers)).json()
    assert stored["topic"] == nfc(f"{CAFE} culture")
    assert stored["metadata"] == {nfc(ZOE): nfc(CAFE)}


async def test_one_email_whatever_its_normal_form(api: httpx.AsyncClient) -> None:
    """Registered decomposed and upper-case, signed in composed: one account."""
    typed = f"{ZOE.upper()}.{uuid.uuid4().hex[:8]}@Example.com"
    registered = await api.post(f"{API}/auth/register", json={"email": typed, "password": PASSWORD})
    assert registered.status_code == 201, registered.text
    assert registered.json()["email"] == nfc(typed).lower()
    login = await api.post(f"{API}/auth/login", json={"email": nfc(typed), "password": PASSWORD})
    assert login.status_code == 200, login.text


async def test_multi_line_fields_keep_line_breaks_and_tabs(
    api: httpx.AsyncClient, make_user: Any
) -> None:
    user = await make_user()
    text = "First line.\r\n\tIndented second line.\n\nA new paragraph."
    profile = await create_profile(api, user.headers, samples=[{"platform": "x", "text": text}])
    job = await api.post(
        f"{API}/jobs",
        json={"profile_id": profile["id"], "platform": "x", "topic": "Two points:\n- a\n- b"},
        headers=user.headers,
    )
    assert job.status_code == 202, job.text
    assert job.json()["topic"] == "Two points:\n- a\n- b"


def _job(**fields: Any) -> dict[str, Any]:
    return {"profile_id": "p", "platform": "x", "topic": "t", **fields}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        # Single-line fields: no control character at all, not even a line break.
        (
            "/profiles",
            {"name": "Ada\nLovelace", "samples": [{"platform": "x", "text": "t"}]},
            "name",
        ),
        ("/api-keys", {"name": "ci\x7fkey"}, "name"),
        ("/jobs", _job(profile_id="p\t1"), "profile_id"),
        ("/jobs", _job(webhook_url="https://e.com/\x00"), "webhook_url"),
        ("/jobs", _job(metadata={"bad\nkey": 1}), "metadata"),
        (
            "/webhook-endpoints",
            {"url": HOOK, "events": ["job.failed"], "description": "a\rb"},
            "description",
        ),
        (
            "/batches",
            {
                "items": [
                    {"custom_id": "ok", "profile_id": "p", "platform": "x", "topic": "t"},
                    {"custom_id": "id\t2", "profile_id": "p", "platform": "x", "topic": "t"},
                ]
            },
            "items[1].custom_id",
        ),
        (
            "/schedules",
            {
                "profile_id": "p",
                "platform": "x",
                "topic": "t",
                "cron": "0 9 * * *",
                "timezone": "Europe/Berlin\n",
            },
            "timezone",
        ),
        # Multi-line fields: line breaks and tabs, but no other C0 or C1 character.
        ("/jobs", _job(topic="escape \x1b[31mred"), "topic"),
        ("/jobs", _job(metadata={"note": "next line\x85"}), "metadata.note"),
        (
            "/profiles",
            {"name": "n", "samples": [{"platform": "x", "text": "nul\x00"}]},
            "samples[0].text",
        ),
        (
            "/schedules",
            {"profile_id": "p", "platform": "x", "topics": ["ok", "bell\x07"], "cron": "0 9 * * *"},
            "topics[1]",
        ),
    ],
)
async def test_control_characters_are_refused_naming_the_field(
    api: httpx.AsyncClient, make_user: Any, path: str, body: dict[str, Any], field: str
) -> None:
    user = await make_user()
    response = await api.post(API + path, json=body, headers=user.headers)
    errors = problem(response, 422, "validation_error")["errors"]
    assert [error["field"] for error in errors] == [field]
    assert "control characters" in errors[0]["message"]


async def test_control_characters_in_credentials_are_refused(api: httpx.AsyncClient) -> None:
    response = await api.post(
        f"{API}/auth/register", json={"email": "nul\x00@example.com", "password": PASSWORD}
    )
    assert problem(response, 422, "validation_error")["errors"][0]["field"] == "email"


@pytest.mark.parametrize(
    ("url", "field"),
    [
        (f"{API}/jobs/job%00x", "job_id"),
        (f"{API}/profiles/%1B%5B2J", "profile_id"),
        (f"{API}/jobs?batch_id=b%07", "batch_id"),
        (f"{API}/admin/users?email=a%C2%85b", "email"),
    ],
)
async def test_control_characters_in_paths_and_queries_are_refused(
    api: httpx.AsyncClient, make_user: Any, url: str, field: str
) -> None:
    user = await make_user()
    response = await api.get(url, headers=user.headers)
    assert [e["field"] for e in problem(response, 422, "validation_error")["errors"]] == [field]


def _unbounded(type_: mi.Type, path: str) -> list[str]:
    """Strings, lists and objects in ``type_`` that accept any size."""
    if isinstance(type_, mi.Metadata):
        return _unbounded(type_.type, path)
    if isinstance(type_, mi.UnionType):
        return [found for member in type_.types for found in _unbounded(member, path)]
    if isinstance(type_, mi.StructType):
        return [
            found
            for field in type_.fields
            for found in _unbounded(field.type, f"{path}.{field.encode_name}")
        ]
    if isinstance(type_, mi.StrType):
        return [] if type_.max_length is not None else [path]
    if isinstance(type_, mi.ListType):
        own = [] if type_.max_length is not None else [path]
        return own + _unbounded(type_.item_type, f"{path}[]")
    if isinstance(type_, mi.DictType):
        own = [] if type_.max_length is not None else [path]
        return own + _unbounded(type_.key_type, path) + _unbounded(type_.value_type, f"{path}.*")
    return []


def _not_forbidding(type_: mi.Type, path: str) -> list[str]:
    """Objects in ``type_`` that would silently accept unknown fields."""
    if isinstance(type_, mi.Metadata):
        return _not_forbidding(type_.type, path)
    if isinstance(type_, mi.UnionType):
        return [found for member in type_.types for found in _not_forbidding(member, path)]
    if isinstance(type_, mi.ListType):
        return _not_forbidding(type_.item_type, path)
    if isinstance(type_, mi.StructType):
        own = [] if type_.forbid_unknown_fields else [path]
        return own + [
            found
            for field in type_.fields
            for found in _not_forbidding(field.type, f"{path}.{field.encode_name}")
        ]
    return []


def test_every_request_body_is_bounded_and_refuses_unknown_fields(settings: Settings) -> None:
    app = create_litestar(settings)
    bodies = {
        f"{method} {route.path}": handler.parsed_data_field.annotation
        for route in app.routes
        for handler in getattr(route, "route_handlers", ())
        if handler.parsed_data_field is not None
        for method in handler.http_methods
    }
    assert len(bodies) >= 15
    for name, annotation in bodies.items():
        info = mi.type_info(annotation)
        assert _unbounded(info, name) == []
        assert _not_forbidding(info, name) == []


async def test_every_query_string_is_bounded(api: httpx.AsyncClient) -> None:
    document = (await api.get(f"{API}/openapi.json")).json()
    unbounded = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []) if method != "parameters" else []:
                schema = parameter["schema"]
                strings = [s for s in schema.get("oneOf", [schema]) if s.get("type") == "string"]
                bounded = (
                    "maxLength" in schema
                    or "enum" in schema
                    or all("format" in s or "enum" in s for s in strings)
                )
                if parameter["in"] in ("query", "header") and strings and not bounded:
                    unbounded.append(f"{method} {path} {parameter['name']}")
    assert unbounded == []


@pytest.mark.parametrize("depth", [40, 900, 50_000])
async def test_deeply_nested_bodies_are_refused(api: httpx.AsyncClient, depth: int) -> None:
    """Refused, not a crash: no request type nests more than a few levels."""
    body = b'{"email": ' + b"[" * depth + b"]" * depth + b', "password": "x"}'
    response = await api.post(
        f"{API}/auth/register", content=body, headers={"content-type": "application/json"}
    )
    errors = problem(response, 422, "validation_error")["errors"]
    assert errors[0]["field"].startswith(("email", "body"))
    assert "nests more than" in errors[0]["message"]
