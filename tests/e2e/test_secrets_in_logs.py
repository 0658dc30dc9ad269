"""Secrets never reach the logs: the platform runs as processes with known secrets, at debug
level (the most any operator would log), through the flows that handle them, including their
failures; then no process's output may hold any of them."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.factories import ENGLISH_SAMPLES
from tests.fakes.openai_server import FakeOpenAI
from tests.support.processes import run_platform
from tests.support.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.e2e


def fresh(prefix: str) -> str:
    """A value made for this run, so finding it anywhere can only mean it leaked."""
    return f"{prefix}{secrets.token_urlsafe(24)}"


def wait_for(condition: str, check: Callable[[], object]) -> None:
    deadline = time.monotonic() + 30
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {condition}"
        time.sleep(0.1)


# Starting and stopping the platform (a worker may drain for seconds) is part of the test.
@pytest.mark.timeout(120)
def test_no_secret_reaches_any_process_log(tmp_path: Path) -> None:
    known = {
        "JWT_SECRET": fresh("jwt-"),
        "model key": fresh("sk-good-"),
        "refused model key": fresh("sk-refused-"),
        "password": fresh("pw-"),
        "new password": fresh("pw-new-"),
    }
    # The refused key comes first, so the first call is refused and the key quarantined.
    env = {
        "JWT_SECRET": known["JWT_SECRET"],
        "OPENAI_API_KEYS": f"{known['refused model key']},{known['model key']}",
        "LOG_LEVEL": "debug",
    }
    with (
        FakeOpenAI(api_keys=[known["model key"]]) as fake,
        WebhookReceiver(fail_first=1) as receiver,
        run_platform(fake, tmp_path, extra_env=env) as platform,
        httpx.Client(base_url=f"{platform.base_url}/api/v1", timeout=40) as api,
    ):
        if database_password := urlsplit(platform.env["DATABASE_URL"]).password:
            known["database password"] = database_password
        email = "secrets@example.com"
        password = known["password"]
        assert api.post("/auth/register", json={"email": email, "password": password}).is_success
        wrong = api.post("/auth/login", json={"email": email, "password": "wrong" + password})
        assert wrong.status_code == 401
        # Users type their password into the email field.
        mistyped = api.post("/auth/login", json={"email": password, "password": password})
        assert mistyped.status_code == 401
        tokens = api.post("/auth/login", json={"email": email, "password": password}).json()
        known["access token"] = tokens["access_token"]
        known["refresh token"] = tokens["refresh_token"]
        session = {"Authorization": f"Bearer {tokens['access_token']}"}
        tampered = {"Authorization": f"Bearer {tokens['access_token']}x"}
        assert api.get("/me", headers=tampered).status_code == 401

        key = api.post("/api-keys", json={"name": "ci"}, headers=session).json()["key"]
        known["API key"] = key
        with_key = {"Authorization": f"Bearer {key}"}
        endpoint = api.post(
            "/webhook-endpoints",
            json={"url": f"{receiver.url}/endpoint", "events": ["job.succeeded"]},
            headers=session,
        ).json()
        known["endpoint webhook secret"] = endpoint["secret"]
        account_secret = api.get("/webhook-secret", headers=session).json()["secret"]
        known["account webhook secret"] = account_secret

        profile = api.post(
            "/profiles", json={"name": "Ada", "samples": ENGLISH_SAMPLES}, headers=with_key
        ).json()
        job = api.post(
            "/jobs",
            json={
                "profile_id": profile["id"],
                "platform": "x",
                "topic": "release notes",
                "webhook_url": f"{receiver.url}/per-request",
            },
            headers=with_key,
        ).json()
        done = api.get(f"/jobs/{job['id']}", params={"wait": 30}, headers=with_key).json()
        assert done["status"] == "succeeded", done
        # The event's first try fails (then succeeds): both outcomes are logged.
        wait_for("the endpoint delivery", lambda: receiver.delivered("/endpoint"))
        wait_for("the per-request delivery", lambda: receiver.delivered("/per-request"))

        refreshed = api.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        known["refreshed access token"] = refreshed.json()["access_token"]
        known["refreshed refresh token"] = refreshed.json()["refresh_token"]
        reused = api.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert reused.status_code == 401
        login = api.post("/auth/login", json={"email": email, "password": password}).json()
        known["second access token"] = login["access_token"]
        known["second refresh token"] = login["refresh_token"]
        fresh_session = {"Authorization": f"Bearer {login['access_token']}"}
        changed = api.post(
            "/auth/password",
            json={"current_password": password, "new_password": known["new password"]},
            headers=fresh_session,
        )
        assert changed.status_code == 204
        assert api.post("/auth/logout", json={"refresh_token": login["refresh_token"]}).is_success

    logs = platform.raw_logs()  # complete: every process has exited
    # The flows above ran and were logged, failures included.
    for event in (
        "auth.login_failed",
        "auth.refresh_reuse",
        "model_key.quarantined",
        "webhook.attempt_failed",
        "webhook.delivered",
        "job.succeeded",
    ):
        assert event in logs, event
    signatures = {
        f"{name} signature": value.rsplit(".", 1)[1]
        for name, value in known.items()
        if name.endswith("access token")
    }
    leaked = [name for name, value in {**known, **signatures}.items() if value in logs]
    assert leaked == []
