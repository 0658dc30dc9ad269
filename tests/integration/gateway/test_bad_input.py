"""Hostile or malformed input never produces a 500 or anything but problem+json."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

BODIES: list[bytes] = [
    b"[]",
    b"null",
    b"42",
    b'"text"',
    b"\xff\xfe\x00garbage",
    b'{"email": 1e999, "password": {"$gt": ""}}',
    b'{"email": "a@example.com", "password": "' + b"x" * 300 + b'"}',
    b'{"email": "a@example.com\\u0000", "password": "0123456789"}',
    b"{" * 500,
]


@pytest.mark.parametrize("body", BODIES)
async def test_malformed_bodies_are_client_errors(api: httpx.AsyncClient, body: bytes) -> None:
    response = await api.post(
        "/api/v1/auth/register", content=body, headers={"content-type": "application/json"}
    )
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v1/jobs?limit=abc", None),
        ("GET", "/api/v1/jobs?limit=-1&cursor=%00", None),
        ("GET", "/api/v1/jobs/job_x?wait=abc", None),
        ("GET", "/api/v1/jobs/job_x?wait=61", None),
        ("GET", "/api/v1/jobs/%E2%80%AE'%20OR%201=1--", None),
        ("GET", "/api/v1/profiles/" + "p" * 5000, None),
        ("POST", "/api/v1/jobs", {"profile_id": ["x"], "platform": "x", "topic": "t"}),
        ("POST", "/api/v1/jobs", {"profile_id": "x", "platform": "x", "topic": "t" * 5000}),
        (
            "POST",
            "/api/v1/jobs",
            {"profile_id": "x", "platform": "x", "topic": "t", "metadata": []},
        ),
        ("POST", "/api/v1/profiles", {"name": "n", "samples": [{"platform": "x"}]}),
        ("POST", "/api/v1/profiles/x/score", {"text": ""}),
        ("PATCH", "/api/v1/profiles/x", {"name": None, "user_id": "u"}),
    ],
)
async def test_bad_parameters_are_client_errors(
    api: httpx.AsyncClient, make_user: Any, method: str, path: str, body: Any
) -> None:
    user = await make_user()
    response = await api.request(method, path, json=body, headers=user.headers)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "Traceback" not in response.text
