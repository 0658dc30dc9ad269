"""The platform as operators run it: `ghostpen migrate`, then gateways and workers as separate
processes on this run's Postgres and Redis, configured only through environment variables."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ghostpen.embedded import free_port
from tests.conftest import PASSWORD, base_env
from tests.fakes.openai_server import FakeOpenAI
from tests.support.services import (
    claim_redis_db,
    create_test_database,
    postgres_admin_url,
    redis_base_url,
)
from tests.support.tls import TestCertificate

GHOSTPEN = [sys.executable, "-m", "ghostpen"]
# A worker may take WORKER_DRAIN_TIMEOUT (30 s) to finish what it runs.
STOP_TIMEOUT = 35.0


@dataclass
class Fleet:
    """Gateway and worker processes started from one environment, each logging to its own file."""

    env: dict[str, str]
    logs: Path
    gateway_urls: list[str] = field(default_factory=list)
    log_files: list[Path] = field(default_factory=list)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def spawn(self, role: str, *args: str) -> subprocess.Popen[bytes]:
        """Start ``ghostpen <role> <args>``; its output goes to ``<logs>/<role>-<n>.log``."""
        log = self.logs / f"{role}-{len(self.processes)}.log"
        self.log_files.append(log)
        with log.open("wb") as out:
            process = subprocess.Popen(
                [*GHOSTPEN, role, *args], env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        self.processes.append(process)
        return process

    def spawn_gateway(self, tls: TestCertificate | None = None) -> subprocess.Popen[bytes]:
        """Start a gateway on a free port; with ``tls``, serving HTTPS itself."""
        port = free_port()
        args = ["--host", "127.0.0.1", "--port", str(port)]
        if tls is not None:
            args += ["--ssl-certfile", str(tls.certfile), "--ssl-keyfile", str(tls.keyfile)]
        self.gateway_urls.append(f"{'https' if tls else 'http'}://127.0.0.1:{port}")
        return self.spawn("gateway", *args)

    def wait_ready(
        self, base_url: str, *, path: str = "/health/ready", verify: ssl.SSLContext | bool = True
    ) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for process in self.processes:
                assert process.poll() is None, "a platform process exited during start-up"
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base_url}{path}", timeout=2, verify=verify).status_code == 200:
                    return
            time.sleep(0.2)
        raise AssertionError(f"{base_url} did not become ready within 30 s")

    @staticmethod
    def kill(process: subprocess.Popen[bytes]) -> None:
        """SIGKILL, as the OOM killer or a lost node would, and reap the process."""
        process.kill()
        process.wait()

    def stop(self) -> list[subprocess.Popen[bytes]]:
        """SIGTERM every process, then SIGKILL whatever has not exited after its drain; return
        the processes that had to be killed."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        killed = []
        for process in self.processes:
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill(process)
                killed.append(process)
        return killed


@dataclass
class Platform:
    gateway_urls: list[str]
    env: dict[str, str]
    log_files: list[Path] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return self.gateway_urls[0]

    def raw_logs(self) -> str:
        return "".join(path.read_text() for path in self.log_files)

    def logs(self) -> list[dict[str, Any]]:
        """Every line of every process's log (JSON, one object per line)."""
        return [json.loads(line) for line in self.raw_logs().splitlines() if line.strip()]


def platform_env(
    fake: FakeOpenAI,
    database_url: str,
    redis_url: str,
    extra_env: dict[str, str] | None = None,
    *,
    measured: bool = True,
) -> dict[str, str]:
    """This process's environment without GhostPen or OpenAI settings, plus the test ones;
    without the coverage settings when not ``measured`` (the processes then run at full speed)."""
    dropped = ("OPENAI", "GHOSTPEN") if measured else ("OPENAI", "GHOSTPEN", "COVERAGE_")
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(dropped)},
        **base_env(database_url, redis_url, fake),
        **(extra_env or {}),
    }


def migrate(env: dict[str, str]) -> None:
    subprocess.run([*GHOSTPEN, "migrate"], env=env, check=True, timeout=60)


@contextlib.contextmanager
def run_platform(
    fake: FakeOpenAI,
    logs: Path,
    *,
    gateways: int = 1,
    workers: int = 1,
    extra_env: dict[str, str] | None = None,
    measured: bool = True,
) -> Iterator[Platform]:
    """Migrate a fresh database, start the processes, wait until ready; SIGTERM them after."""
    database_url, drop = create_test_database(postgres_admin_url())
    redis_url, release = claim_redis_db(redis_base_url())
    env = platform_env(fake, database_url, redis_url, extra_env, measured=measured)
    fleet = Fleet(env, logs)
    try:
        migrate(fleet.env)
        for _ in range(gateways):
            fleet.spawn_gateway()
        for _ in range(workers):
            fleet.spawn("worker")
        for url in fleet.gateway_urls:
            fleet.wait_ready(url)
        yield Platform(gateway_urls=fleet.gateway_urls, env=fleet.env, log_files=fleet.log_files)
    finally:
        fleet.stop()
        release()
        drop()


def sign_up(api: httpx.Client, email: str) -> dict[str, str]:
    """Register ``email`` on a running platform, sign in, return the bearer headers."""
    registered = api.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert registered.status_code == 201, registered.text
    tokens = api.post("/auth/login", json={"email": email, "password": PASSWORD}).json()
    return {"Authorization": f"Bearer {tokens['access_token']}"}
