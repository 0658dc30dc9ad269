"""Errors are problem+json with stable codes; bad input never becomes a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["status"] == status
    assert body["type"] == f"https://ghostpen.dev/errors/{code}"
    assert body["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text
    return body


async def test_invalid_json_is_400(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/api/v1/auth/register",
        content=b'{"email": "a@example.com", "password": ',
        headers={"content-type": "application/json"},
    )
    assert_problem(response, 400, "invalid_json")


async def test_a_bad_request_that_is_not_about_the_body_is_no_json_error(
    api: httpx.AsyncClient,
) -> None:
    # Was 400 invalid_json "Request body is not valid JSON", for a body that was fine.
    response = await api.post(
        "/api/v1/auth/login",
        json={"email": "a@example.com", "password": "x" * 12},
        headers={"Host": "a b"},
    )
    body = assert_problem(response, 400, "bad_request")
    assert body["title"] == "Bad request"
    assert body["detail"] == "Invalid host header"


async def test_validation_lists_fields(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/api/v1/auth/register", json={"email": "a@example.com", "password": "short"}
    )
    body = assert_problem(response, 422, "validation_error")
    assert [error["field"] for error in body["errors"]] == ["password"]


async def test_body_over_limit_is_413(api: httpx.AsyncClient, make_user: Any) -> None:
    user = await make_user()
    text = "word " * (1024 * 1024 // 5 + 10)
    response = await api.post(
        "/api/v1/profiles",
        json={"name": "big", "samples": [{"platform": "x", "text": text}]},
        headers=user.headers,
    )
    assert_problem(response, 413, "payload_too_large")


async def test_unknown_route_and_method(api: httpx.AsyncClient) -> None:
    assert_problem(await api.get("/api/v1/nothing-here"), 404, "not_found")
    not_allowed = await api.delete("/api/v1/auth/login")
    assert_problem(not_allowed, 405, "method_not_allowed")
    assert set(not_allowed.headers["allow"].replace(" ", "").split(",")) == {"POST", "OPTIONS"}


async def test_options_lists_every_method_of_the_path(api: httpx.AsyncClient) -> None:
    # Litestar 2 listed only the first handler's method (GET here); found by fuzzing.
    for path, methods in [
        ("/api/v1/jobs", {"GET", "POST", "OPTIONS"}),
        ("/api/v1/schedules/sch_x", {"GET", "PATCH", "DELETE", "OPTIONS"}),
    ]:
        response = await api.options(path)
        assert response.status_code == 204
        assert set(response.headers["allow"].replace(" ", "").split(",")) == methods


async def test_missing_or_bad_credentials_are_401(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/jobs")
    assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"].startswith("Bearer")
    forged = await api.get("/api/v1/me", headers={"Authorization": "Bearer not.a.jwt"})
    assert_problem(forged, 401, "unauthorized")


@pytest.mark.parametrize(
    ("incoming", "echoed"),
    [("req-123.abc_DEF", True), ("bad id with spaces", False), ("x" * 200, False)],
)
async def test_request_id_echoed_only_when_safe(
    api: httpx.AsyncClient, incoming: str, echoed: bool
) -> None:
    response = await api.get("/health/live", headers={"X-Request-ID": incoming})
    assert (response.headers["x-request-id"] == incoming) is echoed
    assert response.headers["x-request-id"]


async def test_security_headers_and_cors(api: httpx.AsyncClient) -> None:
    response = await api.get("/health/live")
    assert response.headers["x-content-type-options"] == "nosniff"
    preflight = await api.options(
        "/api/v1/jobs",
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert preflight.headers["access-control-allow-origin"] == "https://app.example.com"
    evil = await api.options(
        "/api/v1/jobs",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in evil.headers


async def test_openapi_document_is_served(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in ("/api/v1/jobs", "/api/v1/jobs/{job_id}", "/api/v1/auth/login", "/api/v1/me"):
        assert path in paths
    assert "BearerAuth" in response.json()["components"]["securitySchemes"]
    submit = paths["/api/v1/jobs"]["post"]["responses"]
    assert {"202", "401", "422", "413", "503"} <= set(submit)
    problem = submit["422"]["content"]["application/problem+json"]["schema"]
    assert problem == {"$ref": "#/components/schemas/Problem"}
    assert "code" in response.json()["components"]["schemas"]["Problem"]["required"]


async def test_openapi_document_lists_the_errors_handlers_declare(api: httpx.AsyncClient) -> None:
    # Each was an undocumented status the fuzzer received (tests/security/test_fuzz.py).
    paths = (await api.get("/api/v1/openapi.json")).json()["paths"]
    for path, method, status in [
        ("/api/v1/auth/register", "post", "409"),
        ("/api/v1/auth/login", "post", "401"),
        ("/api/v1/auth/refresh", "post", "401"),
        ("/api/v1/jobs", "post", "402"),
        ("/api/v1/batches", "post", "402"),
        ("/api/v1/schedules", "post", "409"),  # Idempotency-Key reused
        ("/api/v1/admin/users/{user_id}", "patch", "409"),
    ]:
        assert status in paths[path][method]["responses"], (path, method, status)
    assert "402" not in paths["/api/v1/schedules"]["post"]["responses"]


async def test_openapi_document_names_every_code_of_a_status(api: httpx.AsyncClient) -> None:
    paths = (await api.get("/api/v1/openapi.json")).json()["paths"]
    no_body = paths["/api/v1/me"]["get"]["responses"]["400"]["description"]
    assert no_body == "Bad request (`bad_request`)"
    with_body = paths["/api/v1/jobs"]["post"]["responses"]["400"]["description"]
    assert "`bad_request`" in with_body
    assert "`invalid_json`" in with_body
    conflicts = paths["/api/v1/schedules"]["post"]["responses"]["409"]["description"]
    assert "`idempotency_conflict`" in conflicts


async def test_openapi_document_admits_integers_where_numbers_are(api: httpx.AsyncClient) -> None:
    # Litestar wrote `int | float` as oneOf [integer, number], which no integer satisfies.
    schemas = (await api.get("/api/v1/openapi.json")).json()["components"]["schemas"]
    metadata = schemas["JobCreate"]["properties"]["metadata"]
    values = metadata["oneOf"][0]["additionalProperties"]["oneOf"]
    assert {"type": "number"} in values
    assert {"type": "integer"} not in values
