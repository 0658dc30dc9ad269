"""The platform as operators run it: `ghostpen migrate`, `ghostpen gateway`, `ghostpen worker`
as separate processes, configured only through the documented environment variables, against
the fake model over HTTP. Also checks the JSON logs for hygiene and correlation.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import PASSWORD, TEST_JWT_SECRET, TEST_MODEL_KEYS
from tests.factories import ENGLISH_SAMPLES
from tests.fakes.openai_server import FakeOpenAI
from tests.support.processes import GHOSTPEN, Platform, run_platform

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def platform(
    fake_openai: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    with run_platform(fake_openai, tmp_path_factory.mktemp("platform-logs")) as running:
        yield running


def test_job_end_to_end_with_clean_correlated_logs(platform: Platform) -> None:
    with httpx.Client(base_url=f"{platform.base_url}/api/v1", timeout=40) as api:
        email = "e2e-author@example.com"
        assert (
            api.post("/auth/register", json={"email": email, "password": PASSWORD}).status_code
            == 201
        )
        tokens = api.post("/auth/login", json={"email": email, "password": PASSWORD}).json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        key = api.post("/api-keys", json={"name": "ci"}, headers=headers).json()["key"]
        key_headers = {"Authorization": f"Bearer {key}"}
        profile = api.post(
            "/profiles", json={"name": "Ada", "samples": ENGLISH_SAMPLES}, headers=key_headers
        ).json()
        submitted = api.post(
            "/jobs",
            json={"profile_id": profile["id"], "platform": "x", "topic": "release notes"},
            headers={**key_headers, "X-Request-ID": "e2e-req-0001"},
        )
        assert submitted.status_code == 202
        assert submitted.headers["x-request-id"] == "e2e-req-0001"
        job_id = submitted.json()["id"]
        done = api.get(f"/jobs/{job_id}", params={"wait": 30}, headers=key_headers).json()
        assert done["status"] == "succeeded", done
        assert len(done["result"]["text"]) <= 280
        refreshed = api.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 200

    metrics = httpx.get(f"{platform.base_url}/metrics").text
    assert 'route="/api/v1/jobs",status="202"' in metrics

    time.sleep(0.5)  # let the worker's last lines reach its log file
    records = platform.logs()  # every line is one JSON object
    job_lines = [r for r in records if r.get("job_id") == job_id]
    assert any(r["message"] == "job.succeeded" for r in job_lines)
    assert all(r.get("request_id") == "e2e-req-0001" for r in job_lines)
    assert all(r.get("trace_id") for r in job_lines if r["message"].startswith("job."))
    raw = platform.raw_logs()
    secrets = [
        PASSWORD,
        tokens["access_token"],
        tokens["refresh_token"],
        refreshed.json()["access_token"],
        key,
        *platform.env["OPENAI_API_KEYS"].split(","),
        platform.env["JWT_SECRET"],
    ]
    for secret in secrets:
        assert secret not in raw


def test_create_admin_from_the_command_line(platform: Platform) -> None:
    env = {**platform.env, "GHOSTPEN_ADMIN_PASSWORD": "admin password 123"}
    created = subprocess.run(
        [*GHOSTPEN, "create-admin", "--email", "Root@Example.com"],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    promoted = subprocess.run(
        [*GHOSTPEN, "create-admin", "--email", "root@example.com"],
        env=platform.env,
        input=b"another admin password\n",
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert promoted.returncode == 0, promoted.stderr
    login = httpx.post(
        f"{platform.base_url}/api/v1/auth/login",
        json={"email": "root@example.com", "password": "another admin password"},
    )
    assert login.status_code == 200
    me = httpx.get(
        f"{platform.base_url}/api/v1/me",
        headers={"Authorization": f"Bearer {login.json()['access_token']}"},
    )
    assert me.json()["role"] == "admin"


def test_bad_configuration_fails_with_one_line_per_problem() -> None:
    env = {
        "PATH": os.environ["PATH"],
        "GHOSTPEN_ENV": "production",
        "LOG_FORMAT": "xml",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
    }
    result = subprocess.run(
        [*GHOSTPEN, "gateway"], env=env, capture_output=True, timeout=60, check=False
    )
    assert result.returncode == 2
    stderr = result.stderr.decode()
    assert "Traceback" not in stderr
    for name in ("DATABASE_URL", "LOG_FORMAT", "JWT_SECRET", "OPENAI_API_KEYS"):
        assert sum(line.strip().startswith(f"{name}:") for line in stderr.splitlines()) == 1


def test_create_admin_refuses_a_guessable_password_in_production() -> None:
    env = {
        "PATH": os.environ["PATH"],
        "GHOSTPEN_ENV": "production",
        "DATABASE_URL": "postgresql://ghostpen@127.0.0.1:5432/ghostpen",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "JWT_SECRET": TEST_JWT_SECRET,
        "OPENAI_API_KEYS": ",".join(TEST_MODEL_KEYS),
    }
    result = subprocess.run(
        [*GHOSTPEN, "create-admin", "--email", "root@example.com"],
        env=env,
        input=b"Admin2024!\n",
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "the password is made of default words and digits" in result.stderr.decode()
