"""`ghostpen dev` on a machine with nothing configured: embedded Postgres and Valkey, the
offline backend, one job end to end, and Ctrl-C stopping everything it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from ghostpen.embedded import free_port
from tests.conftest import PASSWORD
from tests.factories import ENGLISH_SAMPLES

pytestmark = pytest.mark.e2e


def test_dev_runs_a_job_offline_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "REDIS_", "OPENAI_", "GHOSTPEN_", "JWT_"))
    }
    output = tmp_path / "dev.log"
    with output.open("wb") as sink:
        dev = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ghostpen",
                "dev",
                "--port",
                str(port),
                "--data-dir",
                str(tmp_path / "data"),
            ],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while "Press Ctrl-C" not in output.read_text():
            assert dev.poll() is None, output.read_text()
            assert time.monotonic() < deadline, output.read_text()
            time.sleep(0.2)
        banner = output.read_text()
        assert f"http://127.0.0.1:{port}/api/v1/docs" in banner
        assert "OFFLINE backend" in banner

        with httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=40) as api:
            email = "dev@example.com"
            api.post("/auth/register", json={"email": email, "password": PASSWORD})
            token = api.post("/auth/login", json={"email": email, "password": PASSWORD})
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
            profile = api.post(
                "/profiles", json={"name": "Ada", "samples": ENGLISH_SAMPLES}, headers=headers
            ).json()
            job = api.post(
                "/jobs",
                json={"profile_id": profile["id"], "platform": "linkedin", "topic": "demo day"},
                headers=headers,
            ).json()
            done = api.get(f"/jobs/{job['id']}", params={"wait": 30}, headers=headers).json()
        assert done["status"] == "succeeded"
        assert done["result"]["backend"] == "offline"
        assert done["result"]["model"] == "ghostpen-offline"
        assert (tmp_path / "data" / "postgres").is_dir()
        assert (tmp_path / "data" / "valkey").is_dir()
    finally:
        os.killpg(dev.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        code = dev.wait(timeout=60)
    assert code == 0, output.read_text()
    leftovers = subprocess.run(
        ["pgrep", "-f", str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert leftovers.stdout.strip() == "", leftovers.stdout
