"""``ghostpen dev``: the whole platform in one terminal, for a newcomer.

Starts embedded Postgres and Valkey (a Redis-compatible server) when ``DATABASE_URL`` /
``REDIS_URL`` are unset, keeping their data under ``.ghostpen/``; migrates; runs one gateway
and one worker as child processes; prints the docs URL and a curl walk-through. Ctrl-C stops
everything it started. Seeds nothing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from shared.config import ConfigError, load_settings
from shared.db.migrations import upgrade_to_head

READY_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0

WALKTHROUGH = """\
GhostPen is running.
  API docs:   {base}/api/v1/docs   (OpenAPI: {base}/api/v1/openapi.json)
  Health:     {base}/health/ready   Metrics: {base}/metrics
  Generation: {backend}

Try it (copy-paste into another terminal; needs curl and python3):

  API={base}/api/v1
  curl -s -X POST $API/auth/register -H 'content-type: application/json' \\
    -d '{{"email": "ada@example.com", "password": "correct horse battery"}}'
  TOKEN=$(curl -s -X POST $API/auth/login -H 'content-type: application/json' \\
    -d '{{"email": "ada@example.com", "password": "correct horse battery"}}' \\
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  PROFILE=$(curl -s -X POST $API/profiles -H "authorization: Bearer $TOKEN" \\
    -H 'content-type: application/json' -d '{{"name": "Ada", "samples": [
      {{"platform": "linkedin", "text": "Shipping beats perfect. We launched the beta today."}},
      {{"platform": "linkedin", "text": "Three lessons from our first 100 users. Talk to them weekly."}}]}}' \\
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  JOB=$(curl -s -X POST $API/jobs -H "authorization: Bearer $TOKEN" \\
    -H 'content-type: application/json' \\
    -d "{{\\"profile_id\\": \\"$PROFILE\\", \\"platform\\": \\"linkedin\\", \\"topic\\": \\"why we hire juniors\\"}}" \\
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  curl -s "$API/jobs/$JOB?wait=30" -H "authorization: Bearer $TOKEN" | python3 -m json.tool

Press Ctrl-C to stop everything.
"""


def run_dev(*, host: str, port: int, data_dir: str) -> int:
    """Run until Ctrl-C or until a child process dies; return the exit code."""
    root = Path(data_dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("GHOSTPEN_ENV", "development")
    env.setdefault("LOG_FORMAT", "console")
    with contextlib.ExitStack() as stack:
        if not env.get("DATABASE_URL"):
            from ghostpen.embedded import EmbeddedPostgres

            postgres = stack.enter_context(EmbeddedPostgres(root / "postgres"))
            env["DATABASE_URL"] = postgres.start()
        if not env.get("REDIS_URL"):
            from ghostpen.embedded import EmbeddedValkey

            valkey = stack.enter_context(EmbeddedValkey(root / "valkey"))
            env["REDIS_URL"] = valkey.start()
        try:
            settings = load_settings(env)
        except ConfigError as error:
            print("ghostpen dev: configuration is not valid:", file=sys.stderr)  # noqa: T201
            for problem in error.problems:
                print(f"  {problem}", file=sys.stderr)  # noqa: T201
            return 2
        upgrade_to_head(settings.database_url)
        command = [sys.executable, "-m", "ghostpen"]
        children = [
            subprocess.Popen([*command, "gateway", "--host", host, "--port", str(port)], env=env),  # noqa: S603
            subprocess.Popen([*command, "worker"], env=env),  # noqa: S603
        ]
        stack.callback(_stop, children)
        base = f"http://{host}:{port}"
        if not _wait_ready(base, children):
            print("ghostpen dev: the platform did not become ready", file=sys.stderr)  # noqa: T201
            return 1
        backend = (
            "OFFLINE backend (no OPENAI_API_KEYS set): posts are composed locally from the "
            "profile, not written by a model"
            if settings.offline_generation
            else f"OpenAI model {settings.openai_model}"
        )
        print(WALKTHROUGH.format(base=base, backend=backend), flush=True)  # noqa: T201
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
        except KeyboardInterrupt:
            # Finish the clean-up (children, then Valkey, then Postgres) whatever else arrives.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            print("\nghostpen dev: stopping…", flush=True)  # noqa: T201
            return 0
        return _exit_code(children)


def _exit_code(children: list[subprocess.Popen[bytes]]) -> int:
    """0 when the children stopped cleanly (e.g. Ctrl-C reached them first), else 1."""
    clean = {0, -signal.SIGINT, -signal.SIGTERM}
    exited = [child for child in children if child.poll() is not None]
    crashed = [child for child in exited if child.returncode not in clean]
    for child in crashed:
        role = (
            child.args[3] if isinstance(child.args, list) and len(child.args) > 3 else "a process"
        )
        print(f"ghostpen dev: {role} exited with code {child.returncode}", file=sys.stderr)  # noqa: T201
    return 1 if crashed else 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _wait_ready(base: str, children: list[subprocess.Popen[bytes]]) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if any(child.poll() is not None for child in children):
            return False
        try:
            with urllib.request.urlopen(f"{base}/health/ready", timeout=2) as response:  # noqa: S310  # nosec B310
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    return False


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
