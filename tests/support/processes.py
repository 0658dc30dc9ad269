"""The platform as operators run it: `ghostpen migrate`, then gateways and workers as separate
processes on this run's Postgres and Redis, configured only through environment variables."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ghostpen.embedded import free_port
from tests.conftest import base_env
from tests.fakes.openai_server import FakeOpenAI
from tests.support.services import (
    claim_redis_db,
    create_test_database,
    postgres_admin_url,
    redis_base_url,
)

GHOSTPEN = [sys.executable, "-m", "ghostpen"]


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


def _wait_ready(base_url: str, processes: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for process in processes:
            assert process.poll() is None, "a platform process exited during start-up"
        try:
            if httpx.get(f"{base_url}/health/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("the platform did not become ready within 30 s")


@contextlib.contextmanager
def run_platform(
    fake: FakeOpenAI,
    logs: Path,
    *,
    gateways: int = 1,
    workers: int = 1,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Platform]:
    """Migrate a fresh database, start the processes, wait until ready; SIGTERM them after."""
    database_url, drop = create_test_database(postgres_admin_url())
    redis_url, release = claim_redis_db(redis_base_url())
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "GHOSTPEN"))},
        **base_env(database_url, redis_url, fake),
        **(extra_env or {}),
    }
    processes: list[subprocess.Popen[bytes]] = []
    platform = Platform(gateway_urls=[], env=env)
    try:
        subprocess.run([*GHOSTPEN, "migrate"], env=env, check=True, timeout=60)
        commands = [
            ("gateway", ["gateway", "--host", "127.0.0.1", "--port", str(free_port())])
            for _ in range(gateways)
        ] + [("worker", ["worker"]) for _ in range(workers)]
        for number, (role, args) in enumerate(commands):
            log = logs / f"{role}-{number}.log"
            platform.log_files.append(log)
            if role == "gateway":
                platform.gateway_urls.append(f"http://127.0.0.1:{args[-1]}")
            with log.open("wb") as out:
                processes.append(
                    subprocess.Popen(
                        [*GHOSTPEN, *args], env=env, stdout=out, stderr=subprocess.STDOUT
                    )
                )
        for url in platform.gateway_urls:
            _wait_ready(url, processes)
        yield platform
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                # A worker may take WORKER_DRAIN_TIMEOUT (30 s) to finish what it runs.
                process.wait(timeout=35)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        release()
        drop()
