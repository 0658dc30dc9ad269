"""Schemathesis against the live OpenAPI document: no server error, every answer as documented.

The platform runs as processes (gateway and worker) on this run's Postgres and Redis, with
webhooks to private networks refused as in production. Two passes: an admin's API key over
every operation (admin routes included; API keys never manage credentials, so those answer
403), then a user's session over the credential operations, except `POST /auth/logout-all`,
which would end the session the pass uses (tests/integration/auth covers it).

`make test` runs a few examples per operation with a fixed seed; `make fuzz` runs at least
5,000 requests with a new seed and writes the figures into docs/security.md.
FUZZ_EXAMPLES, FUZZ_SEED (a number, or "random"), FUZZ_MIN_REQUESTS and FUZZ_REPORT set the run.
"""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_MODEL_KEYS
from tests.fakes.openai_server import FakeOpenAI
from tests.support.figures import record_figures
from tests.support.fuzz import FuzzPass, run_pass
from tests.support.fuzz import report as fuzz_report
from tests.support.processes import GHOSTPEN, run_platform

pytestmark = pytest.mark.e2e
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "4"))
# A fixed seed keeps `make test` repeatable; `make fuzz` asks for a new one each run.
_SEED = os.environ.get("FUZZ_SEED", "1")
SEED = random.getrandbits(32) if _SEED == "random" else int(_SEED)
MIN_REQUESTS = int(os.environ.get("FUZZ_MIN_REQUESTS", "300"))
REPORT = os.environ.get("FUZZ_REPORT")
ADMIN_EMAIL = "fuzz-admin@example.com"
USER_EMAIL = "fuzz-user@example.com"
PASSWORD = "fuzz-password-1"  # pragma: allowlist secret
CREDENTIAL_PATHS = r"^/api/v1/(auth|sessions|api-keys)"


def _sign_in(api: httpx.Client, email: str) -> dict[str, str]:
    tokens = api.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert tokens.status_code == 200, tokens.text
    return {"Authorization": f"Bearer {tokens.json()['access_token']}"}


def _admin_api_key(platform_env: dict[str, str], api: httpx.Client) -> dict[str, str]:
    """An admin's API key with no scopes: every right of its owner but managing credentials."""
    subprocess.run(
        [*GHOSTPEN, "create-admin", "--email", ADMIN_EMAIL],
        env=platform_env,
        input=PASSWORD.encode(),
        check=True,
        capture_output=True,
        timeout=60,
    )
    created = api.post("/api-keys", json={"name": "fuzz"}, headers=_sign_in(api, ADMIN_EMAIL))
    assert created.status_code == 201, created.text
    return {"Authorization": f"Bearer {created.json()['key']}"}


def _user_session(api: httpx.Client) -> dict[str, str]:
    registered = api.post("/auth/register", json={"email": USER_EMAIL, "password": PASSWORD})
    assert registered.status_code == 201, registered.text
    return _sign_in(api, USER_EMAIL)


@pytest.mark.timeout(3600)
def test_the_live_openapi_document_holds_under_fuzzing(tmp_path: Path) -> None:
    private = {"WEBHOOK_ALLOW_PRIVATE_NETWORKS": "false"}
    with (
        FakeOpenAI(api_keys=list(TEST_MODEL_KEYS)) as fake,
        # Not measured for coverage: every route it reaches is covered by its own tests, and
        # measuring the gateway made this the slowest test of the suite.
        run_platform(fake, tmp_path, extra_env=private, measured=False) as platform,
        httpx.Client(base_url=f"{platform.base_url}/api/v1", timeout=30) as api,
    ):
        passes = [
            FuzzPass("admin API key, every operation", _admin_api_key(platform.env, api)),
            FuzzPass(
                "user session, credential operations",
                _user_session(api),
                ("--include-path-regex", CREDENTIAL_PATHS),
                ("--exclude-path", "/api/v1/auth/logout-all"),
            ),
        ]
        schema_url = f"{platform.base_url}/api/v1/openapi.json"
        results = [
            run_pass(fuzz_pass, schema_url, tmp_path / f"pass-{n}", examples=EXAMPLES, seed=SEED)
            for n, fuzz_pass in enumerate(passes)
        ]
    figures = fuzz_report(results, examples=EXAMPLES, seed=SEED)
    print(figures)  # noqa: T201 - shown with -s (make fuzz)
    for result in results:
        failed = f"{result.name} (seed {SEED}):\n{result.output[-20000:]}"
        assert result.server_errors == 0, failed
        assert not result.errors, failed
        assert not result.failures, failed
        assert result.exit_code == 0, failed
    assert sum(result.requests for result in results) >= MIN_REQUESTS, figures
    if REPORT:
        record_figures(Path(REPORT), "fuzz", figures)
