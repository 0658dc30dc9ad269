"""The processes under test: a throwaway database, a Redis db, the fake model, the platform.

Everything is registered on one ``ExitStack`` as it is created, so a failure or Ctrl-C at any
point still terminates the children (whole process groups: uvicorn forks its workers), drops
the database and releases the Redis db.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast
from urllib.parse import urlsplit

import httpx

from bench import cpu
from shared.db.migrations import upgrade_to_head
from tests.conftest import TEST_MODEL_KEYS, base_env
from tests.fakes.openai_server import FakeOpenAI
from tests.support.services import (
    claim_redis_db,
    create_test_database,
    postgres_admin_url,
    redis_base_url,
)

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
STOP_TIMEOUT = 15.0
# Generous limits so the benchmark measures the platform, not a limiter.
UNLIMITED = "anonymous=1000000/second,user=1000000/second,admin=1000000/second"
UNLIMITED_SUBMISSIONS = "user=1000000/second,admin=1000000/second"


@dataclass(frozen=True)
class _FakeAddress:
    """All ``base_env`` reads of the fake model server (ours runs in a child process)."""

    base_url: str


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


class Stack:
    """Creates services and child processes; ``close()`` undoes everything, newest first."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self._cleanups: list[Callable[[], None]] = []
        self.database_url = ""
        self.redis_url = ""
        self.fake_url = ""
        self.roles: dict[int, str] = {}  # process group -> role, for the CPU accounting
        self.worker: subprocess.Popen[bytes] | None = None

    @property
    def database_name(self) -> str:
        return urlsplit(self.database_url).path.strip("/")

    def cpu(self) -> cpu.Snapshot:
        """CPU seconds so far of our children, this run's Postgres backends, Redis and wrk."""
        return cpu.snapshot(self.roles, self.database_name)

    def close(self) -> None:
        while self._cleanups:
            cleanup = self._cleanups.pop()
            try:
                cleanup()
            except Exception as exc:  # keep cleaning up the rest
                print(f"bench: cleanup step failed: {exc!r}", file=sys.stderr)

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        # Ctrl-C during clean-up would leave the rest behind: ignore it until done.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            self.close()
        finally:
            signal.signal(signal.SIGINT, previous)

    def start_services(self) -> None:
        """A migrated throwaway database, a claimed Redis db and the fake model server."""
        url, drop = create_test_database(postgres_admin_url())
        self._cleanups.append(drop)
        upgrade_to_head(url)
        self.database_url = url
        self.redis_url, release = claim_redis_db(redis_base_url())
        self._cleanups.append(release)
        port = free_port()
        argv = [sys.executable, "-m", "tests.fakes.openai_server", "--port", str(port)]
        argv += ["--latency", "0", *(arg for key in TEST_MODEL_KEYS for arg in ("--api-key", key))]
        fake = self.spawn("fake-openai", argv, role="fake model")
        self.fake_url = f"http://{HOST}:{port}"
        wait_http(
            f"{self.fake_url}/v1/models",
            fake,
            headers={"Authorization": f"Bearer {TEST_MODEL_KEYS[0]}"},
        )

    def env(self) -> dict[str, str]:
        """Like the tests' ``base_env``, with logging kept out of the measurement."""
        fake = cast(FakeOpenAI, _FakeAddress(base_url=f"{self.fake_url}/v1"))
        return {
            **os.environ,
            **base_env(self.database_url, self.redis_url, fake),
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "warning",
            "ACCESS_TOKEN_TTL": "2h",
            "RATE_LIMITS": UNLIMITED,
            "SUBMIT_RATE_LIMITS": UNLIMITED_SUBMISSIONS,
            "OTEL_TRACES_EXPORTER": "none",
            "PYTHONUNBUFFERED": "1",
        }

    def start_worker(self, concurrency: int) -> subprocess.Popen[bytes]:
        ghostpen = str(Path(sys.executable).with_name("ghostpen"))
        argv = [ghostpen, "worker", "--concurrency", str(concurrency)]
        return self.spawn("worker", argv, role="worker")

    def start_gateway(self, workers: int) -> tuple[subprocess.Popen[bytes], str]:
        """``ghostpen gateway`` on a free port, once ``/health/ready`` answers 200."""
        port = free_port()
        ghostpen = str(Path(sys.executable).with_name("ghostpen"))
        argv = [ghostpen, "gateway", "--host", HOST, "--port", str(port)]
        argv += ["--workers", str(workers)]
        process = self.spawn(f"gateway-w{workers}", argv, role="gateway")
        url = f"http://{HOST}:{port}"
        wait_http(f"{url}/health/ready", process)
        return process, url

    def start_baseline(self, workers: int) -> tuple[subprocess.Popen[bytes], str]:
        """``bench.baseline_app`` on a free port, once ``POST /echo`` answers."""
        port = free_port()
        argv = [sys.executable, "-m", "bench.baseline_app", "--host", HOST, "--port", str(port)]
        argv += ["--workers", str(workers)]
        process = self.spawn(f"baseline-w{workers}", argv, role="baseline")
        url = f"http://{HOST}:{port}"
        body = {"profile_id": "p", "platform": "x", "topic": "t"}
        wait_http(f"{url}/echo", process, json_body=body)
        return process, url

    def spawn(self, name: str, argv: list[str], *, role: str) -> subprocess.Popen[bytes]:
        """Start ``argv`` in its own process group, output to ``<logs>/<name>.log``."""
        self.logs.mkdir(parents=True, exist_ok=True)
        with (self.logs / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.roles[process.pid] = role
        self._cleanups.append(lambda: terminate(process))
        return process


def terminate(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the child's process group, SIGKILL it if it lingers; idempotent."""
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    # uvicorn's worker processes may outlive their supervisor by a moment.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def wait_http(
    url: str,
    process: subprocess.Popen[bytes],
    *,
    headers: dict[str, str] | None = None,
    json_body: object | None = None,
    timeout: float = 60.0,
) -> None:
    """Poll ``url`` (GET, or POST of ``json_body``) until it answers 200."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
            try:
                if json_body is None:
                    response = client.get(url, headers=headers)
                else:
                    response = client.post(url, headers=headers, json=json_body)
                if response.status_code == 200:
                    return
                last = f"{response.status_code} {response.text[:300]}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout:.0f} s: {last}")
