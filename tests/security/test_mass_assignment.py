"""No request body accepts fields it does not declare, nor any a client must never set.

Walks the OpenAPI document the gateway serves, so an endpoint added later is covered too.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.support.admin import make_admin, problem

API = "/api/v1"
# Set by the server, never by a client: who owns a thing, what it costs, how far it got.
SERVER_OWNED = frozenset(
    {"role", "owner", "owner_id", "user_id", "status", "cost", "cost_usd", "is_admin"}
)
# Changing a user's role is what this admin-only endpoint is for.
ALLOWED = {("patch", f"{API}/admin/users/{{user_id}}"): {"role"}}


def _properties(schema: dict[str, Any], document: dict[str, Any], seen: set[str]) -> set[str]:
    """Every property name in ``schema``, following $refs, unions and arrays."""
    if ref := schema.get("$ref"):
        if ref in seen:
            return set()
        seen.add(ref)
        return _properties(document["components"]["schemas"][ref.split("/")[-1]], document, seen)
    names = set(schema.get("properties", {}))
    nested = [
        *schema.get("properties", {}).values(),
        *schema.get("oneOf", []),
        *schema.get("anyOf", []),
        *([schema["items"]] if isinstance(schema.get("items"), dict) else []),
        *(
            [schema["additionalProperties"]]
            if isinstance(schema.get("additionalProperties"), dict)
            else []
        ),
    ]
    for inner in nested:
        names |= _properties(inner, document, seen)
    return names


def _request_bodies(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation["requestBody"]["content"]["application/json"]["schema"])
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "requestBody" in operation
    ]


async def test_no_request_body_takes_server_owned_fields(api: httpx.AsyncClient) -> None:
    document = (await api.get(f"{API}/openapi.json")).json()
    bodies = _request_bodies(document)
    assert len(bodies) >= 15
    for method, path, schema in bodies:
        accepted = _properties(schema, document, set()) & SERVER_OWNED
        assert accepted == ALLOWED.get((method, path), set()), (method, path)


async def test_every_request_body_refuses_an_unknown_field(
    api: httpx.AsyncClient, make_user: Any, uow_factory: Any
) -> None:
    """Sent as an admin, so every route gets as far as decoding its body."""
    admin = await make_admin(make_user, uow_factory)
    document = (await api.get(f"{API}/openapi.json")).json()
    for method, path, _ in _request_bodies(document):
        url = re.sub(r"\{[^}]+\}", "some_id", path)
        response = await api.request(
            method, url, json={"user_id": admin.user_id}, headers=admin.headers
        )
        errors = problem(response, 422, "validation_error")["errors"]
        assert any("unknown field `user_id`" in error["message"] for error in errors), (
            method,
            path,
            errors,
        )
